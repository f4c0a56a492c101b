// Fixtures for project-scoped tests: users, an org with members of each role, sessions, and the job queue.
import { createSession } from "../../src/auth/service";
import type { AppContext, Principal } from "../../src/core/context";
import type { Db } from "../../src/core/db";
import type { JobQueue } from "../../src/core/jobs";
import { orgMembers, orgs, type OrgRole } from "../../src/orgs/schema";
import { users } from "../../src/users/schema";

/** A user with a principal for service calls and headers for HTTP calls. */
export interface TestUser {
  id: string;
  name: string;
  principal: Principal;
}

let n = 0;

/** Inserts a user (no password: these users act through principals and sessions). */
export async function seedUser(db: Db, opts: { name?: string; isAdmin?: boolean } = {}): Promise<TestUser> {
  n++;
  const name = opts.name ?? `User ${n}`;
  const [u] = await db
    .insert(users)
    .values({
      name,
      email: `u${n}-${crypto.randomUUID().slice(0, 8)}@example.test`,
      isAdmin: !!opts.isAdmin,
      roles: ["SPONSOR"],
      onboardedAt: new Date(),
    })
    .returning();
  return { id: u!.id, name, principal: { userId: u!.id, name, isAdmin: !!opts.isAdmin, via: "session" } };
}

/** An org with one member per role (OWNER, MAINTAINER, SPONSOR, CONTRIBUTOR). */
export async function seedOrg(db: Db, name = "Acme") {
  const [org] = await db.insert(orgs).values({ name }).returning();
  const members = {} as Record<OrgRole, TestUser>;
  for (const role of ["OWNER", "MAINTAINER", "SPONSOR", "CONTRIBUTOR"] as OrgRole[]) {
    const u = await seedUser(db, { name: `${name} ${role.toLowerCase()}` });
    await db.insert(orgMembers).values({ orgId: org!.id, userId: u.id, role });
    members[role] = u;
  }
  return { org: org!, ...members };
}

/** Cookie and CSRF headers of a fresh browser session for `user`. */
export async function sessionHeaders(db: Db, user: TestUser): Promise<Record<string, string>> {
  const s = await createSession(db, user.id);
  user.principal.csrfToken = s.csrfToken;
  return { cookie: `ds_session=${s.token}`, "x-csrf-token": s.csrfToken };
}

/** Starts the app's job workers (test apps boot without them). */
export async function startJobs(ctx: AppContext): Promise<JobQueue> {
  ctx.jobs.start();
  return ctx.jobs;
}

/** Waits until a job is completed or dead; returns it. */
export async function waitForJob(jobs: JobQueue, id: string, timeoutMs = 20_000) {
  const t0 = Date.now();
  for (;;) {
    const job = await jobs.get(id);
    if (job && (job.state === "completed" || job.state === "dead")) return job;
    if (Date.now() - t0 > timeoutMs) throw new Error(`job ${id} still ${job?.state} after ${timeoutMs} ms`);
    await Bun.sleep(25);
  }
}
