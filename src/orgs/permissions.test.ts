// The permission table (spec §3.1.2, §7.1) and its enforcement by requireOrgRole against a real database.
import { beforeAll, expect, test } from "bun:test";
import type { Principal } from "../core/context";
import { AppError } from "../core/errors";
import { describeEachDb } from "../../test/support/db";
import { users } from "../users/schema";
import { adminCan, can, ORG_ROLES, PERMISSIONS, requireOrgRole, type OrgAction, type OrgRole } from "./permissions";
import { orgMembers, orgs } from "./schema";

// The spec's table, written out independently: O(wner) M(aintainer) S(ponsor) C(ontributor), A = admin may read.
const SPEC: Record<OrgAction, string> = {
  "org.view": "OMSC A",
  "org.update": "OM",
  "org.delete": "O",
  "members.view": "OMSC A",
  "members.invite": "OM",
  "members.remove": "OM",
  "members.changeRole": "OM",
  "audit.view": "O A",
  "project.create": "OM",
  "project.view": "OMSC A",
  "project.update": "OM",
  "project.delete": "O",
  "project.invite": "OM",
  "project.manageMilestones": "OMS",
  "project.approveStructure": "OMS",
  "project.fund": "OMS",
  "task.claim": "MC",
  "task.review": "OMS",
  "documents.view": "OMSC A",
  "documents.manage": "OMS",
  "ai.use": "OMSC",
  "webhooks.view": "OM",
  "webhooks.manage": "OM",
};

test("the table has exactly the spec's actions", () => {
  expect(Object.keys(PERMISSIONS).sort()).toEqual(Object.keys(SPEC).sort());
});

for (const [action, allowed] of Object.entries(SPEC) as [OrgAction, string][]) {
  test(`${action}: ${allowed}`, () => {
    const [letters, admin] = allowed.split(" ");
    for (const role of ORG_ROLES) expect(`${role}:${can(role, action)}`).toBe(`${role}:${letters.includes(role[0])}`);
    expect(adminCan(action)).toBe(admin === "A");
    expect(can(null, action)).toBe(false);
  });
}

describeEachDb("requireOrgRole", (get) => {
  const ids: Record<string, string> = {};
  const principal = (userId: string, extra: Partial<Principal> = {}): Principal => ({
    userId,
    name: "x",
    isAdmin: false,
    via: "session",
    ...extra,
  });
  const status = async (p: Principal | null, orgId: string, action: OrgAction) => {
    try {
      await requireOrgRole(get().db, p, orgId, action);
      return 200;
    } catch (err) {
      if (err instanceof AppError) return err.status;
      throw err;
    }
  };

  beforeAll(async () => {
    const { db } = get();
    for (const name of ["OWNER", "MAINTAINER", "SPONSOR", "CONTRIBUTOR", "outsider", "admin"]) {
      const [u] = await db
        .insert(users)
        .values({ name, email: `${name.toLowerCase()}@perm.test`, isAdmin: name === "admin" })
        .returning();
      ids[name] = u.id;
    }
    const [org] = await db.insert(orgs).values({ name: "Perm" }).returning();
    const [archived] = await db.insert(orgs).values({ name: "Old", archivedAt: new Date() }).returning();
    ids.org = org.id;
    ids.archived = archived.id;
    for (const role of ORG_ROLES) {
      await db.insert(orgMembers).values({ orgId: org.id, userId: ids[role], role });
      await db.insert(orgMembers).values({ orgId: archived.id, userId: ids[role], role });
    }
  });

  test("members get exactly what the table allows, 403 otherwise", async () => {
    for (const role of ORG_ROLES) {
      for (const action of Object.keys(PERMISSIONS) as OrgAction[]) {
        const got = await status(principal(ids[role]), ids.org, action);
        expect(`${role} ${action} ${got}`).toBe(`${role} ${action} ${can(role as OrgRole, action) ? 200 : 403}`);
      }
    }
  });

  test("non-members get 404 for every action (the org's existence does not leak)", async () => {
    for (const action of Object.keys(PERMISSIONS) as OrgAction[]) {
      expect(await status(principal(ids.outsider), ids.org, action)).toBe(404);
    }
  });

  test("platform admins read every org but change nothing in orgs they do not belong to", async () => {
    for (const action of Object.keys(PERMISSIONS) as OrgAction[]) {
      expect(`${action} ${await status(principal(ids.admin, { isAdmin: true }), ids.org, action)}`).toBe(
        `${action} ${adminCan(action) ? 200 : 404}`,
      );
    }
  });

  test("no caller → 401; a malformed or unknown id → 404; an archived org → 404 for members", async () => {
    expect(await status(null, ids.org, "org.view")).toBe(401);
    expect(await status(principal(ids.OWNER), "not-a-uuid", "org.view")).toBe(404);
    expect(await status(principal(ids.OWNER), crypto.randomUUID(), "org.view")).toBe(404);
    expect(await status(principal(ids.OWNER), ids.archived, "org.view")).toBe(404);
    expect(await status(principal(ids.admin, { isAdmin: true }), ids.archived, "org.view")).toBe(200);
  });

  test("an API key without the write scope may read but not change", async () => {
    const readOnly = principal(ids.OWNER, { via: "api-key", scopes: ["read"] });
    expect(await status(readOnly, ids.org, "org.view")).toBe(200);
    expect(await status(readOnly, ids.org, "org.update")).toBe(403);
    expect(
      await status(principal(ids.OWNER, { via: "api-key", scopes: ["read", "write"] }), ids.org, "org.update"),
    ).toBe(200);
  });
});
