// The audit chain hashes what the database stored, not what the caller typed: edits through every audited route
// with upper-case ids and odd-but-valid values (NFD text, reordered JSON keys, offset timestamps, big numbers)
// leave a chain that verifies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { addMember, apiKeyFor, createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { audit, verifyAuditChain } from "./service";

const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
]);
const up = (id: string) => id.toUpperCase();

for (const kind of dbKinds()) {
  describe(`audit chain after edits with odd input [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let member: TestUser;
    let admin: TestUser;
    beforeAll(async () => {
      t = await createTestApp(kind);
      admin = await createUser(t, { admin: true });
      owner = await createUser(t);
      member = await createUser(t);
    });
    afterAll(() => t.close());

    const ok = async (res: Promise<Response>, status = 200) => {
      const r = await res;
      const body = await r.text();
      expect({ status: r.status, body }).toMatchObject({ status });
      return body ? JSON.parse(body) : null;
    };

    test("audit() with upper-case ids, a Date and numbers the database rewrites", async () => {
      const orgId = crypto.randomUUID();
      await audit(t.ctx.db, {
        actorId: up(owner.id),
        action: "test.odd",
        targetType: "thing",
        targetId: up(orgId),
        orgId: up(orgId),
        payload: {
          z: 1,
          a: { y: [1e21, 0.30000000000000004, -0, 5e-324, 1e300], x: "Cafe\u0301 \u{1F600}" },
          at: new Date("2030-01-01T00:00:00.123+02:00"),
          offset: "2030-01-01T00:00:00+05:30",
          dup: JSON.parse('{"k": 1, "k": 2}'),
        },
      });
      expect(await verifyAuditChain(t.ctx.db)).toMatchObject({ ok: true });
    });

    test("every audited route, called with upper-case ids, leaves a chain that verifies", async () => {
      const nfd = "Cafe\u0301 \u{1F600} \u212B";
      const org = await ok(owner.request("POST", "/api/orgs", { body: { description: nfd, name: `Org ${nfd}` } }), 201);
      const ORG = up(org.id);
      await ok(owner.request("PATCH", `/api/orgs/${ORG}`, { body: { description: "Caf\u00e9", name: "Ｏｒｇ ﬁ" } }));
      const form = new FormData();
      form.set("logo", new File([PNG], "logo.png", { type: "image/png" }));
      await ok(owner.request("PUT", `/api/orgs/${ORG}/logo`, { body: form }));

      await addMember(owner, ORG, member, "CONTRIBUTOR");
      await ok(owner.request("PATCH", `/api/orgs/${ORG}/members/${up(member.id)}`, { body: { role: "MAINTAINER" } }));
      await ok(owner.request("DELETE", `/api/orgs/${ORG}/members/${up(member.id)}`), 204);

      const invite = await ok(
        owner.request("POST", `/api/orgs/${ORG}/invite`, { body: { role: "CONTRIBUTOR", email: up(member.email) } }),
        201,
      );
      await ok(member.request("POST", `/api/orgs/${ORG}/invite/${up(invite.id)}/decline`));
      const again = await ok(
        owner.request("POST", `/api/orgs/${ORG}/invite`, { body: { email: member.email, role: "CONTRIBUTOR" } }),
        201,
      );
      await ok(owner.request("DELETE", `/api/orgs/${ORG}/invite/${up(again.id)}`), 204);

      const key = await ok(owner.request("POST", "/api/me/api-keys", { body: { name: nfd, scopes: ["read"] } }), 201);
      await ok(owner.request("DELETE", `/api/me/api-keys/${up(key.apiKey.id)}`), 204);
      const other = await createUser(t, { email: owner.email.replace("@", "+2@") });
      const sessions = await ok(other.request("GET", "/api/me/sessions"));
      await ok(other.request("DELETE", `/api/me/sessions/${up(sessions.sessions[0].id)}`), 204);

      await ok(owner.request("PATCH", "/api/me", { body: { roles: ["CONTRIBUTOR", "SPONSOR"], name: nfd } }));
      await ok(
        admin.request("PATCH", "/api/settings", {
          body: { "instance.name": nfd, "ai.temperature": 1.5, "funding.pointRateUsdCents": 9_007_199_254 },
        }),
      );

      const project = await ok(
        owner.request("POST", `/api/orgs/${ORG}/projects`, { body: { title: nfd, description: '{"b":1,"a":2}' } }),
        201,
      );
      const upload = new FormData();
      upload.set("file", new File(["# Notes\n\nCafe\u0301\n"], "notes.md", { type: "text/markdown" }));
      const doc = await ok(owner.request("POST", `/api/projects/${up(project.id)}/documents`, { body: upload }), 201);
      const replace = new FormData();
      replace.set("file", new File(["# Notes 2\n"], "notes.md", { type: "text/markdown" }));
      await ok(owner.request("PUT", `/api/documents/${up(doc.id)}`, { body: replace }));
      await ok(owner.request("DELETE", `/api/documents/${up(doc.id)}`), 204);

      const key2 = await apiKeyFor(t, owner);
      await ok(key2.request("PATCH", `/api/orgs/${ORG}`, { body: { name: "Via key" } }));

      const report = await verifyAuditChain(t.ctx.db);
      expect(report).toMatchObject({ ok: true });
      expect(report.rows).toBeGreaterThan(15);
    });
  });
}
