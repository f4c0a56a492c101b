// Organizations through the real app: creation, roles, last-owner protection (also under concurrency), logos,
// admin visibility, the audit entries every change leaves, and escaping of user text in the pages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { addMember, createOrgAs, createUser, type TestUser } from "../../test/support/auth";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { dataPaths } from "../core/boot";
import { dbKinds } from "../../test/support/db";
import { orgLogos, orgs } from "./schema";

const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1,
]);
const upload = (bytes: Uint8Array<ArrayBuffer>, name: string, type: string) => {
  const f = new FormData();
  f.set("logo", new File([bytes], name, { type }));
  return f;
};

for (const kind of dbKinds()) {
  describe(`orgs [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let maint: TestUser;
    let contrib: TestUser;
    let orgId: string;
    beforeAll(async () => {
      t = await createTestApp(kind);
      owner = await createUser(t);
      maint = await createUser(t);
      contrib = await createUser(t);
      orgId = await createOrgAs(owner, "Acme");
      await addMember(owner, orgId, maint, "maintainer");
      await addMember(owner, orgId, contrib, "contributor");
    }, 60_000);
    afterAll(() => t.close());

    const roles = async () =>
      Object.fromEntries(
        (
          (await (await owner.request("GET", `/api/orgs/${orgId}/members`)).json()) as {
            members: { userId: string; role: string }[];
          }
        ).members.map((m) => [m.userId, m.role]),
      );

    test("the creator is OWNER; names are validated; members see the org, with their role", async () => {
      expect((await owner.request("POST", "/api/orgs", { body: { name: "  " } })).status).toBe(400);
      const org = (await (await contrib.request("GET", `/api/orgs/${orgId}`)).json()) as any;
      expect(org).toMatchObject({ name: "Acme", role: "CONTRIBUTOR", memberCount: 3 });
      expect(await roles()).toEqual({ [owner.id]: "OWNER", [maint.id]: "MAINTAINER", [contrib.id]: "CONTRIBUTOR" });
    });

    test("the last owner can neither be demoted, removed, nor leave", async () => {
      const demote = await owner.request("PATCH", `/api/orgs/${orgId}/members/${owner.id}`, {
        body: { role: "MAINTAINER" },
      });
      expect(demote.status).toBe(409);
      expect(((await demote.json()) as any).error.code).toBe("LAST_OWNER");
      expect((await owner.request("DELETE", `/api/orgs/${orgId}/members/${owner.id}`)).status).toBe(409);
      expect((await maint.request("DELETE", `/api/orgs/${orgId}/members/${owner.id}`)).status).toBe(403);
      expect((await owner.request("GET", `/api/orgs/${orgId}`)).status).toBe(200);
    });

    test("only owners grant or take away ownership; maintainers manage the other roles", async () => {
      expect(
        (await maint.request("PATCH", `/api/orgs/${orgId}/members/${contrib.id}`, { body: { role: "OWNER" } })).status,
      ).toBe(403);
      expect(
        (await maint.request("PATCH", `/api/orgs/${orgId}/members/${owner.id}`, { body: { role: "SPONSOR" } })).status,
      ).toBe(403);
      expect(
        (await contrib.request("PATCH", `/api/orgs/${orgId}/members/${maint.id}`, { body: { role: "CONTRIBUTOR" } }))
          .status,
      ).toBe(403);
      expect(
        (await maint.request("PATCH", `/api/orgs/${orgId}/members/${contrib.id}`, { body: { role: "SPONSOR" } }))
          .status,
      ).toBe(200);
      expect(
        (await maint.request("PATCH", `/api/orgs/${orgId}/members/${contrib.id}`, { body: { role: "CONTRIBUTOR" } }))
          .status,
      ).toBe(200);
      expect(
        (await owner.request("PATCH", `/api/orgs/${orgId}/members/${contrib.id}`, { body: { role: "KING" } })).status,
      ).toBe(400);
    });

    test("with two owners, one may step down; when both try at once exactly one succeeds", async () => {
      expect(
        (await owner.request("PATCH", `/api/orgs/${orgId}/members/${maint.id}`, { body: { role: "OWNER" } })).status,
      ).toBe(200);
      const [a, b] = await Promise.all([
        owner.request("PATCH", `/api/orgs/${orgId}/members/${owner.id}`, { body: { role: "MAINTAINER" } }),
        maint.request("PATCH", `/api/orgs/${orgId}/members/${maint.id}`, { body: { role: "MAINTAINER" } }),
      ]);
      expect([a.status, b.status].sort()).toEqual([200, 409]);
      const now = await roles();
      expect(Object.values(now).filter((r) => r === "OWNER").length).toBe(1);
      // Put things back: owner is OWNER, maint is MAINTAINER.
      const currentOwner = now[owner.id] === "OWNER" ? owner : maint;
      const other = currentOwner === owner ? maint : owner;
      await currentOwner.request("PATCH", `/api/orgs/${orgId}/members/${other.id}`, { body: { role: "OWNER" } });
      await owner.request("PATCH", `/api/orgs/${orgId}/members/${maint.id}`, { body: { role: "MAINTAINER" } });
      expect(await roles()).toMatchObject({ [owner.id]: "OWNER", [maint.id]: "MAINTAINER" });
    });

    test("contributors cannot change settings; maintainers can; members can leave", async () => {
      expect((await contrib.request("PATCH", `/api/orgs/${orgId}`, { body: { description: "x" } })).status).toBe(403);
      const ok = await maint.request("PATCH", `/api/orgs/${orgId}`, { body: { description: "We fund tools." } });
      expect(((await ok.json()) as any).description).toBe("We fund tools.");
      const extra = await createUser(t);
      await addMember(owner, orgId, extra, "contributor");
      expect((await extra.request("DELETE", `/api/orgs/${orgId}/members/${extra.id}`)).status).toBe(204);
      expect((await extra.request("GET", `/api/orgs/${orgId}`)).status).toBe(404);
    });

    test("logos: images checked by content and size; served to members", async () => {
      const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
      expect(
        (await owner.request("PUT", `/api/orgs/${orgId}/logo`, { body: upload(svg, "logo.png", "image/png") })).status,
      ).toBe(400);
      const big = new Uint8Array(1024 * 1024 + 1);
      big.set(PNG);
      expect(
        (await owner.request("PUT", `/api/orgs/${orgId}/logo`, { body: upload(big, "big.png", "image/png") })).status,
      ).toBe(400);
      expect(
        (await contrib.request("PUT", `/api/orgs/${orgId}/logo`, { body: upload(PNG, "l.png", "image/png") })).status,
      ).toBe(403);
      const ok = await owner.request("PUT", `/api/orgs/${orgId}/logo`, {
        body: upload(PNG, "logo.bin", "application/octet-stream"),
      });
      expect(ok.status).toBe(200);
      const img = await contrib.request("GET", `/orgs/${orgId}/logo`);
      expect(img.headers.get("content-type")).toBe("image/png");
      expect(new Uint8Array(await img.arrayBuffer())).toEqual(PNG);
      // The new-org form takes the logo along.
      const form = upload(PNG, "l.png", "image/png");
      form.set("name", "With logo");
      form.set("_csrf", owner.csrf);
      const created = await owner.request("POST", "/orgs", { body: form });
      expect(created.status).toBe(303);
      const newId = created.headers.get("location")!.split("/")[2].split("?")[0];
      expect((await owner.request("GET", `/orgs/${newId}/logo`)).status).toBe(200);
    });

    test("logos live in the database, encrypted, so every node serves them; a logo from before still shows", async () => {
      const [row] = await t.ctx.db.select().from(orgLogos).where(eq(orgLogos.orgId, orgId));
      expect(row!.sealed).not.toContain(Buffer.from(PNG).toString("base64").slice(0, 12));
      const uploads = dataPaths(t.ctx.config.dataDir).uploads;
      expect(existsSync(join(uploads, "org-logos"))).toBe(false);
      // no file on this node's disk: the bytes come from the database
      const fromDb = await contrib.request("GET", `/orgs/${orgId}/logo`);
      expect(new Uint8Array(await fromDb.arrayBuffer())).toEqual(PNG);
      // an org whose logo file was written under the uploads dir before logos moved into the database
      const oldId = await createOrgAs(owner, "Old logo");
      mkdirSync(join(uploads, "org-logos"), { recursive: true });
      writeFileSync(join(uploads, "org-logos", `${oldId}-abc.png`), PNG);
      await t.ctx.db
        .update(orgs)
        .set({ logoFile: `${oldId}-abc.png`, logoType: "image/png" })
        .where(eq(orgs.id, oldId));
      const old = await owner.request("GET", `/orgs/${oldId}/logo`);
      expect(old.status).toBe(200);
      expect(new Uint8Array(await old.arrayBuffer())).toEqual(PNG);
      // replacing it stores the new one in the database and removes this node's file
      expect(
        (await owner.request("PUT", `/api/orgs/${oldId}/logo`, { body: upload(PNG, "l.png", "image/png") })).status,
      ).toBe(200);
      expect(existsSync(join(uploads, "org-logos", `${oldId}-abc.png`))).toBe(false);
      expect((await owner.request("GET", `/orgs/${oldId}/logo`)).status).toBe(200);
    });

    test("platform admins see every org, members only theirs", async () => {
      const admin = await createUser(t, { admin: true });
      const all = (
        (await (await admin.request("GET", "/api/orgs?all=true")).json()) as {
          orgs: { id: string; role: string | null }[];
        }
      ).orgs;
      expect(all.find((o) => o.id === orgId)).toMatchObject({ role: null });
      expect((await admin.request("GET", `/api/orgs/${orgId}/members`)).status).toBe(200);
      expect((await admin.request("GET", `/api/orgs/${orgId}/audit`)).status).toBe(200);
      expect((await admin.request("PATCH", `/api/orgs/${orgId}`, { body: { name: "mine now" } })).status).toBe(404);
      expect((await contrib.request("GET", "/api/orgs?all=true")).status).toBe(403);
      const mine = ((await (await contrib.request("GET", "/api/orgs")).json()) as { orgs: { id: string }[] }).orgs;
      expect(mine.map((o) => o.id)).toEqual([orgId]);
    });

    test("every change is in the org's audit trail, which only owners (and admins) read", async () => {
      const trail = (
        (await (await owner.request("GET", `/api/orgs/${orgId}/audit?limit=200`)).json()) as {
          entries: { action: string }[];
        }
      ).entries;
      const actions = new Set(trail.map((e) => e.action));
      for (const a of [
        "org.create",
        "invite.create",
        "invite.accept",
        "member.role.change",
        "org.update",
        "org.logo.update",
        "member.leave",
      ]) {
        expect(actions.has(a)).toBe(true);
      }
      expect((await maint.request("GET", `/api/orgs/${orgId}/audit`)).status).toBe(403);
      expect((await owner.request("GET", `/orgs/${orgId}/audit`)).status).toBe(200);
    });

    test("user text is escaped in every page", async () => {
      const evil = `<script>alert("x")</script><img src=x onerror=alert(1)>`;
      const id = await createOrgAs(owner, evil);
      await owner.request("PATCH", `/api/orgs/${id}`, { body: { description: evil } });
      await owner.request("PATCH", "/api/me", { body: { name: evil } });
      for (const path of [
        "/",
        "/orgs",
        `/orgs/${id}`,
        `/orgs/${id}/members`,
        `/orgs/${id}/invites`,
        `/orgs/${id}/audit`,
        "/profile",
      ]) {
        // Inside a quoted attribute value "<" is inert (and quotes are escaped): look at markup outside them.
        const html = (await (await owner.request("GET", path)).text()).replace(/="[^"]*"/g, '=""');
        expect(`${path}: ${html.includes("<script>alert")}`).toBe(`${path}: false`);
        expect(`${path}: ${html.includes("<img src=x")}`).toBe(`${path}: false`);
      }
      await owner.request("PATCH", "/api/me", { body: { name: "Owner" } });
    });
  });
}
