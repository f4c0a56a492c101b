// The user's own data: profile, SIWE wallets (EIP-4361 verified with viem), GDPR export and account deletion.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { privateKeyToAccount } from "viem/accounts";
import { createSiweMessage } from "viem/siwe";
import { verifyAuditChain } from "../audit/service";
import { createTestApp, type TestApp } from "../../test/support/app";
import {
  addMember,
  apiKeyFor,
  asUser,
  createOrgAs,
  createUser,
  signInWithForm,
  type TestUser,
} from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";

const alice = privateKeyToAccount(`0x${"11".repeat(32)}`);
const bobKey = privateKeyToAccount(`0x${"22".repeat(32)}`);

for (const kind of dbKinds()) {
  describe(`users [${kind}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind);
    }, 60_000);
    afterAll(() => t.close());

    const challenge = async (u: TestUser, address: string, chainId = 1) => {
      const res = await u.request("POST", "/api/me/wallets/challenge", { body: { address, chainId } });
      expect(res.status).toBe(200);
      return (await res.json()) as { message: string; nonce: string };
    };

    test("GET/PATCH /api/me: profile, roles and preferences; bad input is refused", async () => {
      const u = await createUser(t, { name: "Pat" });
      expect(await (await u.request("GET", "/api/me")).json()).toMatchObject({
        name: "Pat",
        roles: ["SPONSOR", "CONTRIBUTOR"],
        preferences: { emailNotifications: true },
      });
      const res = await u.request("PATCH", "/api/me", {
        body: { name: "Patricia", preferences: { emailNotifications: false } },
      });
      expect(await res.json()).toMatchObject({ name: "Patricia", preferences: { emailNotifications: false } });
      expect((await u.request("PATCH", "/api/me", { body: { roles: ["ADMIN"] } })).status).toBe(400);
      expect((await u.request("PATCH", "/api/me", { body: { isAdmin: true } })).status).toBe(400);
      expect((await t.request("GET", "/api/me")).status).toBe(401);
    });

    test("SIWE: a correct signature links the wallet (first one gets payouts)", async () => {
      const u = await createUser(t);
      const c = await challenge(u, alice.address.toLowerCase());
      expect(c.message).toContain(`localhost wants you to sign in with your Ethereum account:\n${alice.address}`);
      const res = await u.request("POST", "/api/me/wallets", {
        body: { message: c.message, signature: await alice.signMessage({ message: c.message }) },
      });
      expect(res.status).toBe(201);
      expect(await res.json()).toMatchObject({ address: alice.address, chainId: "1", isPayout: true });
      expect(((await (await u.request("GET", "/api/me")).json()) as any).payoutAddress).toBe(alice.address);
      // The same message again is a replay: its nonce is spent.
      const replay = await u.request("POST", "/api/me/wallets", {
        body: { message: c.message, signature: await alice.signMessage({ message: c.message }) },
      });
      expect(replay.status).toBe(400);
      // A second wallet, then switch payouts to it.
      const c2 = await challenge(u, bobKey.address, 10);
      const w2 = (await (
        await u.request("POST", "/api/me/wallets", {
          body: { message: c2.message, signature: await bobKey.signMessage({ message: c2.message }) },
        })
      ).json()) as any;
      expect(w2.isPayout).toBe(false);
      expect((await u.request("POST", `/api/me/wallets/${w2.id}/payout`)).status).toBe(200);
      const list = ((await (await u.request("GET", "/api/me/wallets")).json()) as any).wallets;
      expect(list.map((w: any) => [w.address, w.isPayout])).toEqual([
        [bobKey.address, true],
        [alice.address, false],
      ]);
    });

    test("SIWE: wrong signer, edited message, another site, another user's nonce or an expired message are refused", async () => {
      const u = await createUser(t);
      const other = await createUser(t);
      const eve = privateKeyToAccount(`0x${"33".repeat(32)}`);
      const post = (message: string, signature: string, who = u) =>
        who.request("POST", "/api/me/wallets", { body: { message, signature } });
      const c = await challenge(u, eve.address);
      // Signed by a different key than the address in the message.
      const wrong = await post(c.message, await alice.signMessage({ message: c.message }));
      expect(wrong.status).toBe(400);
      expect(JSON.stringify(await wrong.json())).toContain("signature does not match");
      // Signed correctly, but the message was edited afterwards (chain id changed).
      const good = await eve.signMessage({ message: c.message });
      expect((await post(c.message.replace("Chain ID: 1", "Chain ID: 5"), good)).status).toBe(400);
      // A garbage signature.
      expect((await post(c.message, "0xdeadbeef")).status).toBe(400);
      // A message for another site, correctly signed.
      const phish = createSiweMessage({
        address: eve.address,
        chainId: 1,
        domain: "evil.example",
        uri: "https://evil.example",
        nonce: c.nonce,
        version: "1",
      });
      expect((await post(phish, await eve.signMessage({ message: phish }))).status).toBe(400);
      // Another user's nonce, correctly signed by the address owner.
      expect((await post(c.message, good, other)).status).toBe(400);
      // Expired (the nonce row aged past its expiry).
      const c2 = await challenge(u, eve.address);
      await t.ctx.database.exec("update wallet_nonces set expires_at = now() - interval '1 second' where nonce = $1", [
        c2.nonce,
      ]);
      expect((await post(c2.message, await eve.signMessage({ message: c2.message }))).status).toBe(400);
      expect(((await (await u.request("GET", "/api/me/wallets")).json()) as any).wallets).toEqual([]);
      // And the original, untouched, still works: nothing above used the nonce up.
      expect((await post(c.message, good)).status).toBe(201);
      // The address cannot then be claimed by another account.
      const c3 = await challenge(other, eve.address);
      const taken = await post(c3.message, await eve.signMessage({ message: c3.message }), other);
      expect(taken.status).toBe(409);
    });

    test("export: everything about the user as JSON, without secrets", async () => {
      const u = await createUser(t, { name: "Exporter" });
      const orgId = await createOrgAs(u, "Export Org");
      await u.request("POST", "/api/me/api-keys", { body: { name: "k", scopes: ["read"] } });
      const res = await u.request("GET", "/api/me/export");
      expect(res.headers.get("content-disposition")).toContain("attachment");
      const text = await res.text();
      const data = JSON.parse(text);
      expect(data.profile).toMatchObject({ id: u.id, name: "Exporter", email: u.email });
      expect(data.memberships).toEqual([expect.objectContaining({ orgId, role: "OWNER" })]);
      expect(data.apiKeys).toHaveLength(1);
      expect(data.sessions.length).toBeGreaterThan(0);
      expect(data.auditTrail.map((a: any) => a.action)).toContain("org.create");
      for (const secret of [
        "passwordHash",
        "password_hash",
        "keyHash",
        "tokenHash",
        "csrfToken",
        "$argon2id$",
        u.session,
        u.csrf,
      ]) {
        expect(`${secret}: ${text.includes(secret)}`).toBe(`${secret}: false`);
      }
    });

    test("deletion: refused for a last owner with members; then personal data erased, audit chain still valid", async () => {
      const u = await createUser(t, { name: "Delia Deleteme", email: "delia@example.test" });
      const partner = await createUser(t);
      const shared = await createOrgAs(u, "Shared");
      const solo = await createOrgAs(u, "Solo");
      await addMember(u, shared, partner, "maintainer");
      const acct = privateKeyToAccount(`0x${"44".repeat(32)}`);
      const c = await challenge(u, acct.address);
      await u.request("POST", "/api/me/wallets", {
        body: { message: c.message, signature: await acct.signMessage({ message: c.message }) },
      });
      expect((await u.request("DELETE", "/api/me", { body: { confirm: "yes" } })).status).toBe(400);
      const blocked = await u.request("DELETE", "/api/me", { body: { confirm: "DELETE" } });
      expect(blocked.status).toBe(409);
      expect(((await blocked.json()) as any).error).toMatchObject({ code: "LAST_OWNER", details: { orgs: [shared] } });
      // Hand the shared org over, then delete (from the profile form).
      await u.request("PATCH", `/api/orgs/${shared}/members/${partner.id}`, { body: { role: "OWNER" } });
      const del = await u.request("POST", "/profile/delete", {
        body: new URLSearchParams({ _csrf: u.csrf, confirm: "DELETE" }),
      });
      expect(del.status).toBe(303);
      expect((await u.request("GET", "/api/me")).status).toBe(401);
      const [row] = await t.ctx.database.exec<Record<string, unknown>>("select * from users where id = $1", [u.id]);
      expect(row).toMatchObject({ email: null, name: "Deleted user", password_hash: null, github_id: null });
      expect(row.deleted_at).not.toBeNull();
      for (const table of ["wallets", "sessions", "api_keys", "notifications", "org_members"]) {
        const [{ n }] = await t.ctx.database.exec<{ n: string }>(
          `select count(*) as n from ${table} where user_id = $1`,
          [u.id],
        );
        expect(`${table}: ${n}`).toBe(`${table}: 0`);
      }
      // Nothing personal is left anywhere in the database.
      for (const table of ["users", "org_invites", "email_outbox", "notifications", "audit_log", "wallets"]) {
        const dump = JSON.stringify(await t.ctx.database.exec(`select * from ${table}`));
        expect(`${table}: ${dump.includes("delia@example.test") || dump.includes("Delia Deleteme")}`).toBe(
          `${table}: false`,
        );
      }
      // The audit chain verifies; the user's entries are redacted and the deletion itself is recorded.
      const report = await verifyAuditChain(t.ctx.db);
      expect(report.ok).toBe(true);
      expect(report.redacted).toBeGreaterThan(0);
      const [last] = await t.ctx.database.exec<{ action: string }>(
        "select action from audit_log where actor_id = $1 order by seq desc limit 1",
        [u.id],
      );
      expect(last.action).toBe("user.delete");
      // The shared org lives on; the solo org is archived (admins still see it).
      expect((await partner.request("GET", `/api/orgs/${shared}`)).status).toBe(200);
      const [soloRow] = await t.ctx.database.exec<{ archived_at: unknown }>(
        "select archived_at from orgs where id = $1",
        [solo],
      );
      expect(soloRow.archived_at).not.toBeNull();
      // The address is free again: signing in fails, signing up works.
      expect((await signInWithForm(t, "delia@example.test", u.password)).res.status).toBe(401);
      const again = await createUser(t, { email: "delia@example.test" });
      expect(again.id).not.toBe(u.id);
    });

    test("the only platform admin cannot delete their account", async () => {
      const [admin] = await t.ctx.database.exec<{ id: string }>(
        "select id from users where is_admin and deleted_at is null",
      );
      const { createSession } = await import("../auth/service");
      const s = await createSession(t.ctx.db, admin.id);
      const res = await t.request("DELETE", "/api/me", {
        body: { confirm: "DELETE" },
        headers: { cookie: `ds_session=${s.token}`, "x-csrf-token": s.csrfToken },
      });
      expect(res.status).toBe(409);
      expect(((await res.json()) as any).error.code).toBe("LAST_ADMIN");
    });

    test("the profile page links a wallet without JavaScript (message shown, signature pasted)", async () => {
      const u = await createUser(t);
      const acct = privateKeyToAccount(`0x${"55".repeat(32)}`);
      const step1 = await u.request("POST", "/profile/wallets/challenge", {
        body: new URLSearchParams({ _csrf: u.csrf, address: acct.address, chainId: "1" }),
      });
      const html = await step1.text();
      const message = /<textarea name="message"[^>]*>([\s\S]*?)<\/textarea>/
        .exec(html)![1]
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, "&")
        .replace(/&#34;/g, '"');
      expect(message).toContain(acct.address);
      const step2 = await u.request("POST", "/profile/wallets", {
        body: new URLSearchParams({ _csrf: u.csrf, message, signature: await acct.signMessage({ message }) }),
      });
      expect(step2.status).toBe(303);
      expect(await (await u.request("GET", "/profile")).text()).toContain(acct.address);
    });

    test("password confirmations back off: a held session cannot try passwords at speed", async () => {
      const u = await createUser(t, { password: "confirm-owner-pw-1" });
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await u.request("POST", "/api/me/reauthenticate", { body: { password: `wrong-${i}-password` } });
        statuses.push(res.status);
      }
      expect(statuses.slice(0, 5)).toEqual([400, 400, 400, 400, 400]);
      expect(statuses[5]).toBe(429);
      // Even the right password waits now, and so does a password change through the other door.
      const right = await u.request("POST", "/api/me/reauthenticate", { body: { password: "confirm-owner-pw-1" } });
      expect(right.status).toBe(429);
      expect(await codeOf(right)).toBe("RATE_LIMITED");
      const change = await u.request("POST", "/api/me/password", {
        body: { currentPassword: "confirm-owner-pw-1", newPassword: "another-password-2" },
      });
      expect(change.status).toBe(429);
    });

    test("sent from a task to add a payout wallet, the profile returns to the task once the wallet is linked", async () => {
      const u = await createUser(t);
      const acct = privateKeyToAccount(`0x${"56".repeat(32)}`);
      const back = "/tasks/00000000-0000-4000-8000-000000000001";
      const page = await (await u.request("GET", `/profile?next=${encodeURIComponent(back)}`)).text();
      expect(page).toContain(`name="next" value="${back}"`);
      const step1 = await u.request("POST", "/profile/wallets/challenge", {
        body: new URLSearchParams({ _csrf: u.csrf, address: acct.address, chainId: "1", next: back }),
      });
      const html = await step1.text();
      expect(html).toContain(`name="next" value="${back}"`);
      const message = /<textarea name="message"[^>]*>([\s\S]*?)<\/textarea>/
        .exec(html)![1]
        .replace(/&#39;/g, "'")
        .replace(/&amp;/g, "&")
        .replace(/&#34;/g, '"');
      const step2 = await u.request("POST", "/profile/wallets", {
        body: new URLSearchParams({
          _csrf: u.csrf,
          message,
          signature: await acct.signMessage({ message }),
          next: back,
        }),
      });
      expect(step2.status).toBe(303);
      expect(step2.headers.get("location")).toBe(back);
      // Another site, or a protocol-relative link, is never a place to return to.
      for (const evil of ["https://evil.test/", "//evil.test/x"]) {
        const p = await (await u.request("GET", `/profile?next=${encodeURIComponent(evil)}`)).text();
        expect(p).not.toContain('name="next"');
      }
    });

    const linkOver = async (u: TestUser, key: `0x${string}`) => {
      const acct = privateKeyToAccount(key);
      const c = await challenge(u, acct.address);
      return u.request("POST", "/api/me/wallets", {
        body: { message: c.message, signature: await acct.signMessage({ message: c.message }) },
      });
    };
    const age = (u: TestUser, minutes: number) =>
      t.ctx.database.exec(
        `update sessions set created_at = now() - interval '${minutes} minutes' where user_id = $1 and revoked_at is null`,
        [u.id],
      );
    const codeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;
    const sessionFrom = (res: Response) => /ds_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "")?.[1];

    test("payout wallets: API keys are refused; an old sign-in must confirm the password first; the user is told", async () => {
      const u = await createUser(t, { password: "wallet-owner-pw-1" });
      const first = (await (await linkOver(u, `0x${"61".repeat(32)}`)).json()) as { id: string };
      const second = (await (await linkOver(u, `0x${"62".repeat(32)}`)).json()) as { id: string };
      // A write-scoped API key (a leaked CI key, say) cannot move payouts.
      const key = await apiKeyFor(t, u, ["read", "write"]);
      const byKey = [
        await key.request("POST", `/api/me/wallets/${second.id}/payout`),
        await key.request("DELETE", `/api/me/wallets/${first.id}`),
        await key.request("POST", "/api/me/wallets", { body: { message: "x".repeat(60), signature: "0x00" } }),
      ];
      expect(byKey.map((r) => r.status)).toEqual([403, 403, 403]);
      expect(await codeOf(byKey[0])).toBe("FORBIDDEN");
      // A session signed in 10 minutes ago is asked to confirm.
      await age(u, 10);
      const stale = await u.request("POST", `/api/me/wallets/${second.id}/payout`);
      expect(stale.status).toBe(403);
      expect(await codeOf(stale)).toBe("REAUTH_REQUIRED");
      expect((await linkOver(u, `0x${"63".repeat(32)}`)).status).toBe(403);
      expect((await u.request("DELETE", `/api/me/wallets/${first.id}`)).status).toBe(403);
      expect((await u.request("POST", "/api/me/reauthenticate", { body: { password: "wrong-password" } })).status).toBe(
        400,
      );
      const ok = await u.request("POST", "/api/me/reauthenticate", { body: { password: "wallet-owner-pw-1" } });
      expect(ok.status).toBe(200);
      const fresh = asUser(t, u, sessionFrom(ok)!, ((await ok.json()) as { csrfToken: string }).csrfToken);
      expect((await u.request("GET", "/api/me")).status).toBe(401); // the old session was replaced
      expect((await fresh.request("POST", `/api/me/wallets/${second.id}/payout`)).status).toBe(200);
      // In-app notices (and e-mails) for each change, and the audit trail.
      const notes = await t.ctx.database.exec<{ type: string; body: string }>(
        "select type, body from notifications where user_id = $1 and type = 'SECURITY' order by created_at",
        [u.id],
      );
      expect(notes.length).toBe(3);
      expect(notes.at(-1)!.body).toContain(privateKeyToAccount(`0x${"62".repeat(32)}`).address);
      const [{ n: mails }] = await t.ctx.database.exec<{ n: string }>(
        "select count(*) as n from email_outbox where user_id = $1 and kind = 'SECURITY'",
        [u.id],
      );
      expect(Number(mails)).toBe(3);
      const trail = await t.ctx.database.exec<{ action: string }>(
        "select action from audit_log where actor_id = $1 order by seq",
        [u.id],
      );
      expect(trail.map((a) => a.action)).toEqual(
        expect.arrayContaining(["wallet.link", "session.reauthenticate", "wallet.payout.set"]),
      );
    });

    test("the profile page asks an old sign-in to confirm the password, then changes wallets", async () => {
      const u = await createUser(t, { password: "page-owner-pw-1" });
      const w = (await (await linkOver(u, `0x${"64".repeat(32)}`)).json()) as { id: string };
      await age(u, 10);
      const page = await (await u.request("GET", "/profile")).text();
      expect(page).toContain('action="/profile/reauthenticate"');
      const refused = await u.request("POST", `/profile/wallets/${w.id}/remove`, {
        body: new URLSearchParams({ _csrf: u.csrf }),
      });
      expect(refused.status).toBe(403);
      expect(await refused.text()).toContain("Confirm your password");
      const confirm = await u.request("POST", "/profile/reauthenticate", {
        body: new URLSearchParams({ _csrf: u.csrf, password: "page-owner-pw-1" }),
      });
      expect(confirm.status).toBe(303);
      const session = sessionFrom(confirm)!;
      const html = await (await t.request("GET", "/profile", { headers: { cookie: `ds_session=${session}` } })).text();
      expect(html).not.toContain('action="/profile/reauthenticate"');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1];
      const fresh = asUser(t, u, session, csrf);
      const removed = await fresh.request("POST", `/profile/wallets/${w.id}/remove`, {
        body: new URLSearchParams({ _csrf: csrf }),
      });
      expect(removed.status).toBe(303);
      expect(((await (await fresh.request("GET", "/api/me/wallets")).json()) as any).wallets).toEqual([]);
    });

    test("change password: the current one is checked, every session is signed out, this browser gets a new one", async () => {
      const u = await createUser(t, { password: "old-password-1" });
      const other = await signInWithForm(t, u.email, "old-password-1");
      const key = await apiKeyFor(t, u, ["read", "write"]);
      const body = { currentPassword: "old-password-1", newPassword: "new-password-22" };
      expect((await key.request("POST", "/api/me/password", { body })).status).toBe(403);
      const wrong = await u.request("POST", "/api/me/password", { body: { ...body, currentPassword: "nope-nope-1" } });
      expect(wrong.status).toBe(400);
      expect(((await wrong.json()) as any).error.details.fields.currentPassword).toBeTruthy();
      expect((await u.request("POST", "/api/me/password", { body: { ...body, newPassword: "short" } })).status).toBe(
        400,
      );
      const res = await u.request("POST", "/api/me/password", { body });
      expect(res.status).toBe(200);
      const rotated = sessionFrom(res)!;
      expect(rotated).not.toBe(u.session);
      expect((await u.request("GET", "/api/me")).status).toBe(401);
      expect((await t.request("GET", "/api/me", { headers: { cookie: `ds_session=${other.session}` } })).status).toBe(
        401,
      );
      expect((await t.request("GET", "/api/me", { headers: { cookie: `ds_session=${rotated}` } })).status).toBe(200);
      expect((await signInWithForm(t, u.email, "old-password-1")).res.status).toBe(401);
      expect((await signInWithForm(t, u.email, "new-password-22")).res.status).toBe(303);
      // The form on the profile page does the same.
      const html = await (await t.request("GET", "/profile", { headers: { cookie: `ds_session=${rotated}` } })).text();
      expect(html).toContain('action="/profile/password"');
      const csrf = /name="_csrf" value="([^"]+)"/.exec(html)![1];
      const viaForm = await t.request("POST", "/profile/password", {
        body: new URLSearchParams({ _csrf: csrf, currentPassword: "new-password-22", newPassword: "third-password-3" }),
        headers: { cookie: `ds_session=${rotated}`, "content-type": "application/x-www-form-urlencoded" },
      });
      expect(viaForm.status).toBe(303);
      expect(viaForm.headers.get("location")).toBe("/profile?done=password");
      expect(sessionFrom(viaForm)).toBeTruthy();
      const [{ n }] = await t.ctx.database.exec<{ n: string }>(
        "select count(*) as n from notifications where user_id = $1 and title = 'Your password was changed'",
        [u.id],
      );
      expect(Number(n)).toBe(2);
    });
  });
}
