// Org invites: by e-mail (stored encrypted, with a single-use token mailed through the outbox) or GitHub
// username; no duplicate pending invite; expiry; who may answer; notifications; rate limit.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createOrgAs, createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";

for (const kind of dbKinds()) {
  describe(`invites [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let orgId: string;
    beforeAll(async () => {
      t = await createTestApp(kind);
      owner = await createUser(t, { name: "Olivia Owner" });
      orgId = await createOrgAs(owner, "Invitees Inc");
    }, 60_000);
    afterAll(() => t.close());

    const invite = (body: Record<string, unknown>, who: TestUser = owner, org = orgId) =>
      who.request("POST", `/api/orgs/${org}/invite`, { body });
    const tokenFor = async (inviteEmail: string) => {
      const rows = await t.ctx.database.exec<{ link: string }>(
        "select link from email_outbox where to_address = $1 order by created_at desc",
        [inviteEmail],
      );
      return new URL(rows[0].link, "http://x").searchParams.get("token")!;
    };

    test("an e-mail invite: address encrypted at rest, token only hashed, e-mail queued, known user notified", async () => {
      const bob = await createUser(t, { email: "bob@example.test" });
      const res = await invite({ email: "Bob@Example.test", role: "maintainer", message: "Join us <b>now</b>" });
      expect(res.status).toBe(201);
      const inv = (await res.json()) as any;
      expect(inv).toMatchObject({ email: "bob@example.test", role: "MAINTAINER", status: "PENDING" });
      const dump = JSON.stringify(await t.ctx.database.exec("select * from org_invites where id = $1", [inv.id]));
      expect(dump.toLowerCase()).not.toContain("bob@example.test");
      const token = await tokenFor("bob@example.test");
      expect(token.length).toBeGreaterThan(40);
      expect(dump).not.toContain(token);
      const [mail] = await t.ctx.database.exec<{ subject: string; body_text: string }>(
        "select subject, body_text from email_outbox where to_address = 'bob@example.test'",
      );
      expect(mail.subject).toBe("Olivia Owner invited you to Invitees Inc");
      expect(mail.body_text).toContain("Join us <b>now</b>");
      const notes = (await (await bob.request("GET", "/api/notifications")).json()) as any;
      expect(notes.items[0]).toMatchObject({ type: "INVITE", link: "/invites" });
      const mine = (await (await bob.request("GET", "/api/invites")).json()) as any;
      expect(mine.invites.map((i: any) => i.id)).toEqual([inv.id]);
      // Bob accepts; he is a maintainer; the owner hears of it.
      const ok = await bob.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`);
      expect(await ok.json()).toMatchObject({ orgId, role: "MAINTAINER" });
      expect(((await (await bob.request("GET", `/api/orgs/${orgId}`)).json()) as any).role).toBe("MAINTAINER");
      const ownerNotes = (await (await owner.request("GET", "/api/notifications")).json()) as any;
      expect(ownerNotes.items.some((n: any) => n.type === "INVITE_ACCEPTED")).toBe(true);
      expect((await bob.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`)).status).toBe(409);
      expect((await invite({ email: "bob@example.test", role: "sponsor" })).status).toBe(409); // ALREADY_MEMBER
    });

    test("without a mail server the creator gets the link once (API and page); with one, never", async () => {
      const res = await invite({ email: "nomail@example.test", role: "contributor" });
      const inv = (await res.json()) as any;
      expect(inv.link).toBe(`http://localhost/invites/accept?token=${await tokenFor("nomail@example.test")}`);
      expect(res.headers.get("cache-control")).toBe("no-store");
      const page = await owner.request("POST", `/orgs/${orgId}/invites`, {
        body: new URLSearchParams({ _csrf: owner.csrf, email: "nomail2@example.test", role: "CONTRIBUTOR" }),
      });
      expect(page.status).toBe(200);
      const text = await page.text();
      expect(text).toContain("no e-mail was sent");
      expect(text).toContain(`token=${await tokenFor("nomail2@example.test")}`);
      expect(await (await owner.request("GET", `/orgs/${orgId}/invites`)).text()).not.toContain("token=");
      await t.ctx.settings.update({ "smtp.host": "mail.example.test" }, null);
      try {
        const mailed = (await (await invite({ email: "mailed@example.test", role: "contributor" })).json()) as any;
        expect(mailed.link).toBeUndefined();
        const sent = await owner.request("POST", `/orgs/${orgId}/invites`, {
          body: new URLSearchParams({ _csrf: owner.csrf, email: "mailed2@example.test", role: "CONTRIBUTOR" }),
        });
        expect(sent.status).toBe(303);
      } finally {
        await t.ctx.settings.update({ "smtp.host": null }, null);
      }
    });

    test("no duplicate pending invite, by e-mail or by GitHub username (any case)", async () => {
      expect((await invite({ email: "dup@example.test", role: "sponsor" })).status).toBe(201);
      const again = await invite({ email: "DUP@example.test", role: "contributor" });
      expect(again.status).toBe(409);
      expect(((await again.json()) as any).error.code).toBe("INVITE_PENDING");
      expect((await invite({ githubUsername: "Octo-Cat", role: "contributor" })).status).toBe(201);
      expect((await invite({ githubUsername: "@octo-cat", role: "contributor" })).status).toBe(409);
      // Two managers at once: one wins.
      const [a, b] = await Promise.all([
        invite({ email: "race@example.test", role: "sponsor" }),
        invite({ email: "race@example.test", role: "sponsor" }),
      ]);
      expect([a.status, b.status].sort()).toEqual([201, 409]);
    });

    test("expired invites cannot be accepted, and do not block a new one", async () => {
      const carol = await createUser(t, { email: "carol@example.test" });
      const inv = (await (await invite({ email: "carol@example.test", role: "contributor" })).json()) as any;
      await t.ctx.database.exec("update org_invites set expires_at = now() - interval '1 minute' where id = $1", [
        inv.id,
      ]);
      const res = await carol.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`);
      expect(res.status).toBe(410);
      expect(((await res.json()) as any).error.code).toBe("INVITE_EXPIRED");
      const [row] = await t.ctx.database.exec<{ status: string }>("select status from org_invites where id = $1", [
        inv.id,
      ]);
      expect(row.status).toBe("EXPIRED");
      expect((await carol.request("GET", `/api/orgs/${orgId}`)).status).toBe(404);
      const fresh = await invite({ email: "carol@example.test", role: "contributor" });
      expect(fresh.status).toBe(201);
      // An expired one still marked PENDING (nobody touched it) does not block either.
      const dave = await invite({ email: "dave@example.test", role: "contributor" });
      await t.ctx.database.exec("update org_invites set expires_at = now() - interval '1 minute' where id = $1", [
        ((await dave.json()) as any).id,
      ]);
      expect((await invite({ email: "dave@example.test", role: "contributor" })).status).toBe(201);
    });

    test("only the addressee (verified e-mail or GitHub login) or the token holder may answer", async () => {
      const inv = (await (await invite({ email: "erin@example.test", role: "sponsor" })).json()) as any;
      const mallory = await createUser(t);
      expect((await mallory.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`)).status).toBe(404);
      expect(
        (
          await mallory.request("POST", `/invites/${inv.id}/accept`, {
            body: new URLSearchParams({ _csrf: mallory.csrf }),
          })
        ).status,
      ).toBe(404);
      // An unverified local account with that address cannot take it either…
      const erin = await createUser(t, { email: "erin@example.test" });
      await t.ctx.database.exec("update users set email_verified = false where id = $1", [erin.id]);
      expect((await erin.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`)).status).toBe(404);
      expect(((await (await erin.request("GET", "/api/invites")).json()) as any).invites).toEqual([]);
      // …until it follows the e-mailed link, which proves the address.
      const token = await tokenFor("erin@example.test");
      const page = await erin.request("GET", `/invites/accept?token=${token}`);
      expect(await page.text()).toContain("Invitees Inc");
      const ok = await erin.request("POST", "/invites/accept", {
        body: new URLSearchParams({ _csrf: erin.csrf, token }),
      });
      expect(ok.status).toBe(303);
      expect(ok.headers.get("location")).toBe(`/orgs/${orgId}`);
      expect(((await (await erin.request("GET", "/api/me")).json()) as any).emailVerified).toBe(true);
      // A GitHub-username invite belongs to whoever has that login linked.
      const gh = (await (await invite({ githubUsername: "frank-gh", role: "contributor" })).json()) as any;
      const frank = await createUser(t);
      await t.ctx.database.exec("update users set github_login = 'Frank-GH' where id = $1", [frank.id]);
      expect((await frank.request("POST", `/api/orgs/${orgId}/invite/${gh.id}/decline`)).status).toBe(200);
      expect((await frank.request("POST", `/api/orgs/${orgId}/invite/${gh.id}/accept`)).status).toBe(409);
    });

    test("with auth.trustLocalEmails an unverified local address is enough (air-gapped installs)", async () => {
      const gus = await createUser(t, { email: "gus@example.test" });
      await t.ctx.database.exec("update users set email_verified = false where id = $1", [gus.id]);
      const inv = (await (await invite({ email: "gus@example.test", role: "contributor" })).json()) as any;
      expect((await gus.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`)).status).toBe(404);
      await t.ctx.settings.update({ "auth.trustLocalEmails": true }, null);
      try {
        expect((await gus.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`)).status).toBe(200);
      } finally {
        await t.ctx.settings.update({ "auth.trustLocalEmails": null }, null);
      }
    });

    test("roles: contributors cannot invite, maintainers cannot invite owners; bad input is explained", async () => {
      // A new org and owner: the invite rate limit is per inviter.
      const owner = await createUser(t);
      const orgId = await createOrgAs(owner, "Roles Ltd");
      const invite = (body: Record<string, unknown>, who: TestUser = owner) =>
        who.request("POST", `/api/orgs/${orgId}/invite`, { body });
      const c = await createUser(t);
      const m = await createUser(t);
      for (const [u, role] of [
        [c, "contributor"],
        [m, "maintainer"],
      ] as const) {
        const inv = (await (await invite({ email: u.email, role })).json()) as any;
        expect((await u.request("POST", `/api/orgs/${orgId}/invite/${inv.id}/accept`)).status).toBe(200);
      }
      expect((await invite({ email: "x1@example.test", role: "contributor" }, c)).status).toBe(403);
      expect((await invite({ email: "x2@example.test", role: "owner" }, m)).status).toBe(403);
      expect((await invite({ email: "x3@example.test", role: "sponsor" }, m)).status).toBe(201);
      const bad = await invite({ email: "x4@example.test", githubUsername: "both", role: "sponsor" });
      expect(bad.status).toBe(400);
      expect((await invite({ email: "not-an-email", role: "sponsor" })).status).toBe(400);
      expect((await invite({ email: "x5@example.test", role: "emperor" })).status).toBe(400);
      // Withdrawn invites cannot be accepted.
      const w = (await (await invite({ email: "withdrawn@example.test", role: "sponsor" })).json()) as any;
      expect((await owner.request("DELETE", `/api/orgs/${orgId}/invite/${w.id}`)).status).toBe(204);
      const list = (await (await owner.request("GET", `/api/orgs/${orgId}/invites`)).json()) as any;
      expect(list.invites.find((i: any) => i.id === w.id).status).toBe("REVOKED");
    });

    test("the invite page sends an invite from a form and shows errors in place", async () => {
      const owner = await createUser(t);
      const orgId = await createOrgAs(owner, "Forms Ltd");
      const body = new URLSearchParams({
        _csrf: owner.csrf,
        email: "formed@example.test",
        githubUsername: "",
        role: "SPONSOR",
        message: "hi",
      });
      const res = await owner.request("POST", `/orgs/${orgId}/invites`, { body });
      expect(res.status).toBe(200); // no mail server: the page shows the link to pass on
      const byLogin = new URLSearchParams({ _csrf: owner.csrf, githubUsername: "formed-gh", role: "SPONSOR" });
      expect((await owner.request("POST", `/orgs/${orgId}/invites`, { body: byLogin })).status).toBe(303);
      const dup = await owner.request("POST", `/orgs/${orgId}/invites`, { body });
      expect(dup.status).toBe(409);
      expect(await dup.text()).toContain("already pending");
      const page = await (await owner.request("GET", `/orgs/${orgId}/invites`)).text();
      expect(page).toContain("formed@example.test");
    });

    test("inviting is rate-limited per inviter", async () => {
      const owner = await createUser(t);
      const org2 = await createOrgAs(owner, "Spam target");
      const statuses: number[] = [];
      for (let i = 0; i < 25; i++)
        statuses.push((await invite({ email: `bulk${i}@example.test`, role: "contributor" }, owner, org2)).status);
      expect(statuses).toContain(429);
      expect(statuses.indexOf(429)).toBeLessThanOrEqual(20);
    });
  });
}
