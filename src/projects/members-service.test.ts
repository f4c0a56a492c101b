// The project members service on a real database: adding a member is idempotent and queues repository access
// only for a project whose repository the App reaches; a role change is validated, authorized and re-applies the
// access; a member may leave on their own (a leave in the audit log), which ends the membership once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq, sql } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createOrgAs, createUser, type TestUser } from "../../test/support/auth";
import type { Principal } from "../core/context";
import { AppError } from "../core/errors";
import { jobs } from "../core/jobs/schema";
import { githubRepositories } from "../github/schema";
import { projectMembers } from "./members-schema";
import {
  addProjectMemberTx,
  changeProjectMemberRole,
  leaveOrgProjectsTx,
  MEMBER_ACCESS_JOB,
  removeProjectMember,
} from "./members-service";

const principalOf = (u: TestUser): Principal => ({ userId: u.id, name: u.name, isAdmin: false, via: "session" });

/** The error code a promise rejects with (it must reject with an AppError). */
async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AppError) return err.code;
    throw err;
  }
  throw new Error("it did not fail");
}

describe("project members service", () => {
  let t: TestApp;
  let owner: TestUser;
  let alice: TestUser;
  let bob: TestUser;
  let orgId: string;
  let projectId: string;
  beforeAll(async () => {
    t = await createTestApp("pglite");
    owner = await createUser(t);
    alice = await createUser(t);
    bob = await createUser(t);
    orgId = await createOrgAs(owner, "Members Service Co");
    const res = await owner.request("POST", `/api/orgs/${orgId}/projects`, { body: { title: "Members" } });
    projectId = ((await res.json()) as { id: string }).id;
  }, 60_000);
  afterAll(() => t.close());

  const accessJobs = async (userId: string) =>
    (
      await t.ctx.db
        .select({ id: jobs.id })
        .from(jobs)
        .where(and(eq(jobs.name, MEMBER_ACCESS_JOB), sql`${jobs.payload}->>'userId' = ${userId}`))
    ).length;
  const roleOf = async (userId: string) =>
    (
      await t.ctx.db
        .select({ role: projectMembers.role })
        .from(projectMembers)
        .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)))
    )[0]?.role;

  test("adding a member twice keeps the first role; access is queued only once the repository is linked", async () => {
    const db = t.ctx.db;
    expect(await db.transaction((tx) => addProjectMemberTx(tx, projectId, alice.id, "CONTRIBUTOR", owner.id))).toBe(
      true,
    );
    expect(await db.transaction((tx) => addProjectMemberTx(tx, projectId, alice.id, "MAINTAINER", owner.id))).toBe(
      false,
    );
    expect(await roleOf(alice.id)).toBe("CONTRIBUTOR");
    expect(await accessJobs(alice.id)).toBe(0); // no repository: nothing to give
    await db
      .insert(githubRepositories)
      .values({ repoId: 4242, fullName: "members/service", private: true, projectId, eventAt: new Date() });
    expect(await db.transaction((tx) => addProjectMemberTx(tx, projectId, bob.id, "SPONSOR", owner.id))).toBe(true);
    expect(await accessJobs(bob.id)).toBe(1);
  });

  test("a role change is validated and authorized, and re-applies the repository permission", async () => {
    const r = await changeProjectMemberRole(t.ctx, principalOf(owner), projectId, alice.id, { role: " maintainer " });
    expect(r).toEqual({ userId: alice.id, role: "MAINTAINER" });
    expect(await roleOf(alice.id)).toBe("MAINTAINER");
    expect(await accessJobs(alice.id)).toBe(1);
    // no owners in a project; unknown members; a sponsor member may not manage members
    expect(await codeOf(changeProjectMemberRole(t.ctx, principalOf(owner), projectId, bob.id, { role: "owner" }))).toBe(
      "INVALID_INPUT",
    );
    expect(
      await codeOf(changeProjectMemberRole(t.ctx, principalOf(owner), projectId, "bob", { role: "sponsor" })),
    ).toBe("NOT_FOUND");
    expect(
      await codeOf(changeProjectMemberRole(t.ctx, principalOf(owner), projectId, owner.id, { role: "sponsor" })),
    ).toBe("NOT_FOUND"); // an org owner is not a project member
    expect(
      await codeOf(changeProjectMemberRole(t.ctx, principalOf(bob), projectId, bob.id, { role: "maintainer" })),
    ).toBe("FORBIDDEN");
    expect(await roleOf(bob.id)).toBe("SPONSOR");
  });

  test("a member may leave on their own, once; the audit log says they left", async () => {
    expect(await removeProjectMember(t.ctx, principalOf(bob), projectId, bob.id)).toEqual({ released: 0 });
    expect(await roleOf(bob.id)).toBeUndefined();
    const [entry] = await t.ctx.database.exec<{ action: string; actor_id: string }>(
      "select action, actor_id from audit_log where target_id = $1 order by seq desc limit 1",
      [bob.id],
    );
    expect(entry).toEqual({ action: "project.member.leave", actor_id: bob.id });
    expect(await codeOf(removeProjectMember(t.ctx, principalOf(bob), projectId, bob.id))).toBe("NOT_FOUND");
    expect(await codeOf(removeProjectMember(t.ctx, null, projectId, bob.id))).toBe("UNAUTHORIZED");
  });

  test("leaving an org with no projects ends nothing", async () => {
    const emptyOrg = await createOrgAs(owner, "No projects");
    expect(await t.ctx.db.transaction((tx) => leaveOrgProjectsTx(tx, emptyOrg, alice.id, owner.id))).toBe(0);
    expect(await roleOf(alice.id)).toBe("MAINTAINER"); // the other org's project is not touched
  });
});
