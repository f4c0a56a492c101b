// Project members: people invited to one project (not its org), their roles, and what leaving takes with it.
// Removing someone (from the project, or from the org for every project of it) ends their open claims there
// through the task state machine and queues the removal of their repository access on GitHub in the same
// transaction (`github.member-access`, src/github/access.ts).
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { audit } from "../audit/service";
import type { AppContext, Principal } from "../core/context";
import type { Db } from "../core/db";
import { invalidInput, notFound, unauthorized, zodFieldErrors } from "../core/errors";
import { enqueueInTx } from "../core/jobs";
import { githubAccess, githubRepositories } from "../github/schema";
import { tasks } from "../milestones/schema";
import { isUuid } from "../orgs/permissions";
import { type Actor, transition } from "../tasks/state";
import { taskClaims } from "../tasks/schema";
import { users } from "../users/schema";
import { loadProject } from "./access";
import { projectMembers, projectRepoAccess, type ProjectRole } from "./members-schema";
import { projects } from "./schema";

/** The job that brings a project member's repository access in line with their membership. */
export const MEMBER_ACCESS_JOB = "github.member-access";

/** What a member-access job carries. */
export interface MemberAccessJob {
  projectId: string;
  userId: string;
}

/** The roles a project invite may give, most powerful first. */
export const PROJECT_ROLES = ["MAINTAINER", "SPONSOR", "CONTRIBUTOR"] as const satisfies readonly ProjectRole[];

/** Body of PATCH /api/projects/:id/members/:userId. */
export const ProjectMemberRoleRequest = z.object({
  role: z
    .string()
    .transform((s) => s.trim().toUpperCase())
    .pipe(z.enum(PROJECT_ROLES, { message: "Choose maintainer, sponsor or contributor." })),
});

type Ctx = Pick<AppContext, "db" | "settings">;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Whether project `projectId` has a repository the GitHub App reaches (access jobs have something to do). */
async function linkedRepo(tx: Db | Tx, projectId: string) {
  const [r] = await tx
    .select({ id: githubRepositories.repoId })
    .from(githubRepositories)
    .where(eq(githubRepositories.projectId, projectId));
  return !!r;
}

/**
 * Adds a project member inside the caller's transaction (invite acceptance); someone already there keeps their
 * role. Queues their repository access when the project's repository is reached by the App.
 */
export async function addProjectMemberTx(
  tx: Db | Tx,
  projectId: string,
  userId: string,
  role: ProjectRole,
  addedById: string | null,
): Promise<boolean> {
  const [row] = await tx
    .insert(projectMembers)
    .values({ projectId, userId, role, addedById })
    .onConflictDoNothing({ target: [projectMembers.projectId, projectMembers.userId] })
    .returning({ id: projectMembers.id });
  if (row && (await linkedRepo(tx, projectId))) {
    await enqueueInTx(tx as Db, MEMBER_ACCESS_JOB, { projectId, userId } satisfies MemberAccessJob);
  }
  return !!row;
}

/** A project member as the project's managers see them. */
export interface ProjectMemberView {
  userId: string;
  name: string;
  githubLogin: string | null;
  role: ProjectRole;
  addedAt: Date;
  /** Repository access: an invitation GitHub says is not accepted, a collaborator, or none. */
  repoAccess: "PENDING_INVITE" | "COLLABORATOR" | "NONE";
}

/** The project's invited members with role and repository access (OWNER, MAINTAINER; project maintainers). */
export async function listProjectMembers(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
): Promise<ProjectMemberView[]> {
  const project = await loadProject(ctx.db, principal, projectId, "project.invite");
  const rows = await ctx.db
    .select({ m: projectMembers, name: users.name, githubLogin: users.githubLogin, access: projectRepoAccess.state })
    .from(projectMembers)
    .innerJoin(users, eq(users.id, projectMembers.userId))
    .leftJoin(
      projectRepoAccess,
      and(
        eq(projectRepoAccess.projectId, projectMembers.projectId),
        eq(projectRepoAccess.userId, projectMembers.userId),
        inArray(projectRepoAccess.state, ["PENDING", "ACTIVE"]),
      ),
    )
    .where(eq(projectMembers.projectId, project.id))
    .orderBy(asc(projectMembers.createdAt));
  return rows.map((r) => ({
    userId: r.m.userId,
    name: r.name,
    githubLogin: r.githubLogin,
    role: r.m.role,
    addedAt: r.m.createdAt,
    repoAccess: r.access === "PENDING" ? "PENDING_INVITE" : r.access === "ACTIVE" ? "COLLABORATOR" : "NONE",
  }));
}

/** Gives a project member another role (OWNER, MAINTAINER; project maintainers). */
export async function changeProjectMemberRole(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  userId: string,
  input: unknown,
) {
  const project = await loadProject(ctx.db, principal, projectId, "project.invite");
  const parsed = ProjectMemberRoleRequest.safeParse(input);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  if (!isUuid(userId)) throw notFound("Member");
  const role = parsed.data.role;
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .update(projectMembers)
      .set({ role })
      .where(and(eq(projectMembers.projectId, project.id), eq(projectMembers.userId, userId)))
      .returning();
    if (!row) throw notFound("Member");
    if (await linkedRepo(tx, project.id)) {
      // The collaborator permission follows the role: the access job re-applies it.
      await enqueueInTx(tx as Db, MEMBER_ACCESS_JOB, { projectId: project.id, userId } satisfies MemberAccessJob);
    }
    await audit(tx, {
      actorId: principal!.userId,
      action: "project.member.role",
      targetType: "user",
      targetId: userId,
      orgId: project.orgId,
      payload: { projectId: project.id, role },
    });
    return { userId, role };
  });
}

/**
 * Removes a project member (OWNER, MAINTAINER; project maintainers), or lets a member leave: their open claims on
 * the project go back to OPEN and their repository access is removed. Returns how many claims were released.
 */
export async function removeProjectMember(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  userId: string,
): Promise<{ released: number }> {
  if (!principal) throw unauthorized();
  const leaving = principal.userId === userId;
  const project = await loadProject(ctx.db, principal, projectId, leaving ? "project.view" : "project.invite");
  if (!isUuid(userId)) throw notFound("Member");
  return ctx.db.transaction(async (tx) => {
    const [member] = await tx
      .delete(projectMembers)
      .where(and(eq(projectMembers.projectId, project.id), eq(projectMembers.userId, userId)))
      .returning();
    if (!member) throw notFound("Member");
    const released = await endMembershipTx(tx, {
      orgId: project.orgId,
      projectIds: [project.id],
      userId,
      actor: leaving ? { kind: "claimer", userId } : { kind: "reviewer", userId: principal.userId },
      reason: leaving ? "the claimer left the project" : "the claimer was removed from the project",
    });
    await audit(tx, {
      actorId: principal.userId,
      action: leaving ? "project.member.leave" : "project.member.remove",
      targetType: "user",
      targetId: userId,
      orgId: project.orgId,
      payload: { projectId: project.id, role: member.role, releasedClaims: released },
    });
    return { released };
  });
}

/**
 * Someone leaves an org (removed, or on their own): inside the org's transaction, their memberships of its
 * projects end, their open claims there go back to OPEN and their repository access is queued for removal.
 */
export async function leaveOrgProjectsTx(tx: Db | Tx, orgId: string, userId: string, actorId: string): Promise<number> {
  const ids = (await tx.select({ id: projects.id }).from(projects).where(eq(projects.orgId, orgId))).map((r) => r.id);
  if (!ids.length) return 0;
  await tx.delete(projectMembers).where(and(inArray(projectMembers.projectId, ids), eq(projectMembers.userId, userId)));
  const leaving = actorId === userId;
  return endMembershipTx(tx, {
    orgId,
    projectIds: ids,
    userId,
    actor: leaving ? { kind: "claimer", userId } : { kind: "reviewer", userId: actorId },
    reason: leaving ? "the claimer left the organization" : "the claimer was removed from the organization",
  });
}

/**
 * Releases `userId`'s open claims on `projectIds` through the task state machine and queues the removal of
 * their repository access there. A claimer leaving by themselves gives up only claims still CLAIMED (work under
 * verification or payment is a reviewer's to release); a claim being paid is never taken back.
 */
async function endMembershipTx(
  tx: Db | Tx,
  opts: { orgId: string; projectIds: string[]; userId: string; actor: Actor; reason: string },
): Promise<number> {
  const releasable = opts.actor.kind === "claimer" ? ["CLAIMED"] : ["CLAIMED", "VERIFYING", "VERIFIED"];
  const open = await tx
    .select({ claim: taskClaims, task: tasks })
    .from(taskClaims)
    .innerJoin(tasks, eq(tasks.id, taskClaims.taskId))
    .where(
      and(
        eq(taskClaims.userId, opts.userId),
        eq(taskClaims.state, "ACTIVE"),
        inArray(tasks.projectId, opts.projectIds),
        inArray(tasks.status, releasable as (typeof tasks.$inferSelect.status)[]),
      ),
    )
    .for("update");
  for (const { claim, task } of open) {
    await tx
      .update(taskClaims)
      .set({
        state: opts.actor.kind === "claimer" ? "UNCLAIMED" : "RELEASED",
        endedAt: new Date(),
        endReason: opts.reason,
      })
      .where(eq(taskClaims.id, claim.id));
    await transition(tx, {
      task,
      orgId: opts.orgId,
      to: "OPEN",
      actor: opts.actor,
      claimedById: null,
      reason: opts.reason,
    });
  }
  // Access given for membership, and access a paid claim kept: both end with the membership.
  const withAccess = await tx
    .selectDistinct({ projectId: projectRepoAccess.projectId })
    .from(projectRepoAccess)
    .where(
      and(
        eq(projectRepoAccess.userId, opts.userId),
        inArray(projectRepoAccess.projectId, opts.projectIds),
        sql`${projectRepoAccess.state} <> 'REMOVED'`,
      ),
    );
  const kept = await tx
    .selectDistinct({ projectId: tasks.projectId })
    .from(githubAccess)
    .innerJoin(tasks, eq(tasks.id, githubAccess.taskId))
    .where(
      and(
        eq(githubAccess.userId, opts.userId),
        inArray(tasks.projectId, opts.projectIds),
        sql`${githubAccess.state} <> 'REMOVED'`,
      ),
    );
  const due = new Set([...withAccess, ...kept].map((r) => r.projectId));
  for (const projectId of due) {
    await enqueueInTx(tx as Db, MEMBER_ACCESS_JOB, { projectId, userId: opts.userId } satisfies MemberAccessJob);
  }
  return open.length;
}
