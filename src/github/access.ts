// Repository access in private repositories: claimers of tasks are invited as collaborators on claim (PENDING
// until the `member` webhook says they accepted) and removed when the claim ends (given up, released, expired, or
// paid unless the project keeps access after payment); members invited to one project are collaborators while
// they belong to it (`github.member-access`). Access one of them still needs is never removed for the other.
// `github.access.sync` (cron) repairs drift both ways.
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import type { AppContext } from "../core/context";
import type { Db } from "../core/db";
import { emitEvent } from "../events/service";
import { AppError } from "../core/errors";
import { tasks } from "../milestones/schema";
import { projectMembers, projectRepoAccess, type ProjectRole } from "../projects/members-schema";
import { projects } from "../projects/schema";
import { taskClaims } from "../tasks/schema";
import { users } from "../users/schema";
import { appConfig, githubError } from "./client";
import { projectRepo, type RepoClient, repoClient } from "./api";
import { githubAccess, githubRepositories } from "./schema";

type Ctx = Pick<AppContext, "db" | "settings" | "log">;

/** The permission a claimer gets on the repository (GitHub's `push`: read and write, no admin). */
export const CLAIMER_PERMISSION = "push";

/** Invites the task's active claimer to its project's private repository; returns the access state. */
export async function grantAccess(ctx: Ctx, taskId: string): Promise<string> {
  const [row] = await ctx.db
    .select({ task: tasks, claim: taskClaims, login: users.githubLogin })
    .from(tasks)
    .innerJoin(taskClaims, and(eq(taskClaims.taskId, tasks.id), eq(taskClaims.state, "ACTIVE")))
    .innerJoin(users, eq(users.id, taskClaims.userId))
    .where(eq(tasks.id, taskId));
  if (!row) return "no active claim";
  const repo = await projectRepo(ctx, row.task.projectId);
  if (!repo) return "the project has no repository reached by the App";
  if (!repo.private) return "public repository: no invite needed";
  if (!row.login) return "the claimer has no linked GitHub account";
  const [open] = await ctx.db
    .select()
    .from(githubAccess)
    .where(
      and(
        eq(githubAccess.taskId, taskId),
        eq(githubAccess.userId, row.claim.userId),
        inArray(githubAccess.state, ["PENDING", "ACTIVE"]),
      ),
    );
  if (open) return open.state;
  const c = await repoClient(ctx, repo.repoId);
  const { state, invitationId } = await inviteCollaborator(c, row.login, CLAIMER_PERMISSION);
  await ctx.db.transaction(async (tx) => {
    const [added] = await tx
      .insert(githubAccess)
      .values({ taskId, userId: row.claim.userId, repoId: repo.repoId, login: row.login!, state, invitationId })
      .onConflictDoNothing()
      .returning({ id: githubAccess.id });
    if (!added) return;
    // the claimer is told they may push, or where to accept the invitation first (src/notifications/subscribers.ts)
    await emitEvent(tx as Db, "repo.access_granted", {
      taskId,
      userId: row.claim.userId,
      repo: `${c.owner}/${c.repo}`,
      state,
      ...(state === "PENDING"
        ? { acceptUrl: `${appConfig(ctx.settings).baseUrl}/${c.owner}/${c.repo}/invitations` }
        : {}),
    });
  });
  return state;
}

/**
 * Removes the repository access given for a task whose claim is no longer active; returns how many were removed.
 * A claim ended by payment keeps its access when the project says so (KEPT, until the setting or the membership
 * changes); access the same person still holds on the repository otherwise (another active claim, project
 * membership) is marked removed for this task without touching GitHub.
 */
export async function revokeAccess(ctx: Ctx, taskId: string): Promise<number> {
  const open = await ctx.db
    .select({ a: githubAccess, taskStatus: tasks.status, keep: projects.repoAccessAfterPayment })
    .from(githubAccess)
    .innerJoin(tasks, eq(tasks.id, githubAccess.taskId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(and(eq(githubAccess.taskId, taskId), inArray(githubAccess.state, ["PENDING", "ACTIVE", "KEPT"])));
  let n = 0;
  for (const { a, taskStatus, keep } of open) {
    if (await claimActive(ctx, taskId, a.userId)) continue; // claimed again meanwhile: the access is still due
    if (taskStatus === "PAID" && keep === "KEEP") {
      if (a.state !== "KEPT")
        await ctx.db
          .update(githubAccess)
          .set({ state: "KEPT", updatedAt: new Date() })
          .where(eq(githubAccess.id, a.id));
      continue;
    }
    if (await endAccess(ctx, githubAccess, a)) n++;
  }
  return n;
}

/** An open access record of either kind: a task claim's (`github_access`) or a project membership's. */
type AccessRecord = Pick<typeof githubAccess.$inferSelect, "id" | "state" | "repoId" | "login" | "invitationId">;

/**
 * Marks one access record REMOVED and takes the collaborator away unless still needed. The record is taken first,
 * so two runs at once (a job and the cron) make one call; a failed call gives the record back.
 */
async function endAccess(
  ctx: Ctx,
  table: typeof githubAccess | typeof projectRepoAccess,
  a: AccessRecord,
): Promise<boolean> {
  const [taken] = await ctx.db
    .update(table)
    .set({ state: "REMOVED", updatedAt: new Date() })
    .where(and(eq(table.id, a.id), eq(table.state, a.state)))
    .returning({ id: table.id });
  if (!taken) return false;
  const except = table === githubAccess ? { taskAccessId: a.id } : { memberAccessId: a.id };
  try {
    if (!(await stillNeeded(ctx, a.repoId, a.login, except))) {
      await removeCollaborator(await repoClient(ctx, a.repoId), a.login, a.state === "PENDING" ? a.invitationId : null);
    }
  } catch (err) {
    await ctx.db.update(table).set({ state: a.state }).where(eq(table.id, a.id));
    throw err;
  }
  return true;
}

/** Invites `login` as a collaborator with `permission`: PENDING with the invitation's id, or ACTIVE if already one. */
async function inviteCollaborator(c: RepoClient, login: string, permission: string) {
  try {
    const res = await c.octokit.request("PUT /repos/{owner}/{repo}/collaborators/{username}", {
      owner: c.owner,
      repo: c.repo,
      username: login,
      permission,
    });
    // 201 with an invitation: pending until accepted; 204: already a collaborator.
    return res.status === 201
      ? { state: "PENDING" as const, invitationId: (res.data as { id?: number } | undefined)?.id ?? null }
      : { state: "ACTIVE" as const, invitationId: null };
  } catch (err) {
    throw githubError(err, `invite ${login} to ${c.owner}/${c.repo}`);
  }
}

/** Makes a PENDING record ACTIVE when GitHub lists its login as a collaborator (the invitation was accepted). */
async function activateIfAccepted(
  ctx: Ctx,
  table: typeof githubAccess | typeof projectRepoAccess,
  a: AccessRecord,
): Promise<boolean> {
  const c = await repoClient(ctx, a.repoId);
  const res = await c.octokit
    .request("GET /repos/{owner}/{repo}/collaborators/{username}", { owner: c.owner, repo: c.repo, username: a.login })
    .catch((err: { status?: number }) => (err.status === 404 ? null : Promise.reject(err)));
  if (res?.status !== 204) return false;
  await ctx.db.update(table).set({ state: "ACTIVE", updatedAt: new Date() }).where(eq(table.id, a.id));
  return true;
}

/** Whether `userId` holds an active claim on task `taskId` (its access is still due). */
async function claimActive(ctx: Pick<AppContext, "db">, taskId: string, userId: string): Promise<boolean> {
  const [claim] = await ctx.db
    .select({ id: taskClaims.id })
    .from(taskClaims)
    .where(and(eq(taskClaims.taskId, taskId), eq(taskClaims.userId, userId), eq(taskClaims.state, "ACTIVE")));
  return !!claim;
}

/** Takes `login`'s collaborator access (and its open invitation) away; already gone is fine. */
async function removeCollaborator(c: RepoClient, login: string, invitationId: number | null) {
  try {
    if (invitationId) {
      await c.octokit
        .request("DELETE /repos/{owner}/{repo}/invitations/{invitation_id}", {
          owner: c.owner,
          repo: c.repo,
          invitation_id: invitationId,
        })
        .catch((err: { status?: number }) => (err.status === 404 ? null : Promise.reject(err)));
    }
    await c.octokit.request("DELETE /repos/{owner}/{repo}/collaborators/{username}", {
      owner: c.owner,
      repo: c.repo,
      username: login,
    });
  } catch (err) {
    if ((err as { status?: number }).status !== 404)
      throw githubError(err, `remove ${login} from ${c.owner}/${c.repo}`);
  }
}

/**
 * Whether `login` still holds access to repository `repoId` for another reason than the record being removed:
 * an active claim's access, a kept access after payment, or an open membership access.
 */
async function stillNeeded(
  ctx: Pick<AppContext, "db">,
  repoId: number,
  login: string,
  except: { taskAccessId?: string; memberAccessId?: string },
): Promise<boolean> {
  const sameLogin = (col: typeof githubAccess.login | typeof projectRepoAccess.login) =>
    sql`lower(${col}) = ${login.toLowerCase()}`;
  const tasksHeld = await ctx.db
    .select({ id: githubAccess.id, state: githubAccess.state, claim: taskClaims.id })
    .from(githubAccess)
    .leftJoin(
      taskClaims,
      and(
        eq(taskClaims.taskId, githubAccess.taskId),
        eq(taskClaims.userId, githubAccess.userId),
        eq(taskClaims.state, "ACTIVE"),
      ),
    )
    .where(
      and(
        eq(githubAccess.repoId, repoId),
        sameLogin(githubAccess.login),
        inArray(githubAccess.state, ["PENDING", "ACTIVE", "KEPT"]),
        except.taskAccessId ? ne(githubAccess.id, except.taskAccessId) : undefined,
      ),
    );
  if (tasksHeld.some((t) => t.state === "KEPT" || t.claim)) return true;
  const [member] = await ctx.db
    .select({ id: projectRepoAccess.id })
    .from(projectRepoAccess)
    .innerJoin(
      projectMembers,
      and(
        eq(projectMembers.projectId, projectRepoAccess.projectId),
        eq(projectMembers.userId, projectRepoAccess.userId),
      ),
    )
    .where(
      and(
        eq(projectRepoAccess.repoId, repoId),
        sameLogin(projectRepoAccess.login),
        inArray(projectRepoAccess.state, ["PENDING", "ACTIVE"]),
        except.memberAccessId ? ne(projectRepoAccess.id, except.memberAccessId) : undefined,
      ),
    );
  return !!member;
}

/** GitHub's collaborator permission for a project role: maintainers maintain, contributors push, sponsors read. */
export const MEMBER_PERMISSION: Record<ProjectRole, string> = {
  MAINTAINER: "maintain",
  CONTRIBUTOR: "push",
  SPONSOR: "pull",
};

/**
 * Brings a project member's repository access in line with their membership: a member of a project on a private
 * repository is invited with their role's permission; someone who is no longer a member loses the access given
 * for membership and any access a paid claim kept there. Returns what it did, in a few words.
 */
export async function syncMemberAccess(ctx: Ctx, projectId: string, userId: string): Promise<string> {
  const [member] = await ctx.db
    .select({ role: projectMembers.role, login: users.githubLogin })
    .from(projectMembers)
    .innerJoin(users, eq(users.id, projectMembers.userId))
    .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, userId)));
  const open = await ctx.db
    .select()
    .from(projectRepoAccess)
    .where(
      and(
        eq(projectRepoAccess.projectId, projectId),
        eq(projectRepoAccess.userId, userId),
        inArray(projectRepoAccess.state, ["PENDING", "ACTIVE"]),
      ),
    );
  if (!member) {
    let removed = 0;
    for (const a of open) if (await endAccess(ctx, projectRepoAccess, a)) removed++;
    // Access of claims on this project that ended and was kept (paid) or not removed yet goes with the membership.
    const tasksOpen = await ctx.db
      .select({ a: githubAccess })
      .from(githubAccess)
      .innerJoin(tasks, eq(tasks.id, githubAccess.taskId))
      .where(
        and(
          eq(githubAccess.userId, userId),
          eq(tasks.projectId, projectId),
          inArray(githubAccess.state, ["PENDING", "ACTIVE", "KEPT"]),
        ),
      );
    for (const { a } of tasksOpen) {
      if (!(await claimActive(ctx, a.taskId, userId)) && (await endAccess(ctx, githubAccess, a))) removed++;
    }
    return `not a member: ${removed} access record${removed === 1 ? "" : "s"} removed`;
  }
  const repo = await projectRepo(ctx, projectId);
  if (!repo) return "the project has no repository reached by the App";
  if (!repo.private) return "public repository: no invite needed";
  if (!member.login) return "the member has no linked GitHub account";
  const current = open.find((a) => a.repoId === repo.repoId && a.login.toLowerCase() === member.login!.toLowerCase());
  const c = await repoClient(ctx, repo.repoId);
  // Also for a current collaborator: a changed role changes the permission.
  const { state, invitationId } = await inviteCollaborator(c, member.login, MEMBER_PERMISSION[member.role]);
  if (current) {
    // GitHub answers 201 again while an invitation waits: keep the first invitation's id.
    await ctx.db
      .update(projectRepoAccess)
      .set({
        state,
        invitationId: state === "PENDING" ? (current.invitationId ?? invitationId) : null,
        updatedAt: new Date(),
      })
      .where(eq(projectRepoAccess.id, current.id));
  } else {
    await ctx.db
      .insert(projectRepoAccess)
      .values({ projectId, userId, repoId: repo.repoId, login: member.login, state, invitationId })
      .onConflictDoNothing();
  }
  return `member access ${state}`;
}

/** The repository access state of a task's claimer (`GITHUB_INVITE_PENDING` while the invite is not accepted). */
export async function accessState(ctx: Pick<AppContext, "db">, taskId: string) {
  const [a] = await ctx.db
    .select({ state: githubAccess.state, login: githubAccess.login })
    .from(githubAccess)
    .where(and(eq(githubAccess.taskId, taskId), inArray(githubAccess.state, ["PENDING", "ACTIVE"])));
  if (!a) return null;
  return { state: a.state === "PENDING" ? "GITHUB_INVITE_PENDING" : "GITHUB_ACCESS_ACTIVE", login: a.login };
}

/** A claimer's invitation to a private repository that GitHub says is not accepted yet. */
export interface PendingInvite {
  /** The repository's `owner/name` today. */
  repo: string;
  login: string;
  /** Where the invitee accepts it on GitHub. */
  acceptUrl: string;
}

/** The invitation `userId` has not accepted yet for task `taskId`'s repository, if any. */
export async function pendingInvite(
  ctx: Pick<AppContext, "db" | "settings">,
  taskId: string,
  userId: string,
): Promise<PendingInvite | null> {
  const [a] = await ctx.db
    .select({ login: githubAccess.login, repo: githubRepositories.fullName })
    .from(githubAccess)
    .innerJoin(githubRepositories, eq(githubRepositories.repoId, githubAccess.repoId))
    .where(and(eq(githubAccess.taskId, taskId), eq(githubAccess.userId, userId), eq(githubAccess.state, "PENDING")));
  if (!a) return null;
  return { repo: a.repo, login: a.login, acceptUrl: `${appConfig(ctx.settings).baseUrl}/${a.repo}/invitations` };
}

/** The refusal of work that cannot be there yet: the claimer has not accepted the repository invitation. */
export const invitePending = (i: PendingInvite) =>
  new AppError(
    "GITHUB_INVITE_PENDING",
    `Your invitation to ${i.repo} on GitHub is not accepted yet: accept it at ${i.acceptUrl}, push your work there, then link it.`,
    409,
    { repo: i.repo, login: i.login, acceptUrl: i.acceptUrl },
  );

/**
 * Repairs drift: access of claims that ended is removed, active claims in private repositories without access
 * are invited, and pending invites that GitHub shows accepted become ACTIVE.
 */
export async function syncAccess(ctx: Ctx): Promise<{ granted: number; removed: number; accepted: number }> {
  let granted = 0;
  let removed = 0;
  let accepted = 0;
  const open = await ctx.db
    .select()
    .from(githubAccess)
    .where(inArray(githubAccess.state, ["PENDING", "ACTIVE", "KEPT"]));
  for (const a of open) {
    try {
      const n = await revokeAccess(ctx, a.taskId);
      removed += n;
      if (n > 0 || a.state !== "PENDING") continue;
      if (await activateIfAccepted(ctx, githubAccess, a)) accepted++;
    } catch (err) {
      ctx.log.warn("github access sync: one record failed", { accessId: a.id, err });
    }
  }
  const claims = await ctx.db
    .select({ taskId: taskClaims.taskId })
    .from(taskClaims)
    .where(eq(taskClaims.state, "ACTIVE"));
  for (const c of claims) {
    try {
      const before = await accessState(ctx, c.taskId);
      if (before) continue;
      const state = await grantAccess(ctx, c.taskId);
      if (state === "PENDING" || state === "ACTIVE") granted++;
    } catch (err) {
      ctx.log.warn("github access sync: invite failed", { taskId: c.taskId, err });
    }
  }
  const members = await syncAllMemberAccess(ctx);
  return {
    granted: granted + members.granted,
    removed: removed + members.removed,
    accepted: accepted + members.accepted,
  };
}

/**
 * The cron's pass over membership access: records of people no longer members are removed, pending invitations
 * GitHub shows accepted become ACTIVE, and members of projects on private repositories without access are invited.
 */
async function syncAllMemberAccess(ctx: Ctx) {
  let granted = 0;
  let removed = 0;
  let accepted = 0;
  const open = await ctx.db
    .select({ a: projectRepoAccess, member: projectMembers.id })
    .from(projectRepoAccess)
    .leftJoin(
      projectMembers,
      and(
        eq(projectMembers.projectId, projectRepoAccess.projectId),
        eq(projectMembers.userId, projectRepoAccess.userId),
      ),
    )
    .where(inArray(projectRepoAccess.state, ["PENDING", "ACTIVE"]));
  for (const { a, member } of open) {
    try {
      if (!member) {
        await syncMemberAccess(ctx, a.projectId, a.userId);
        removed++;
        continue;
      }
      if (a.state !== "PENDING") continue;
      if (await activateIfAccepted(ctx, projectRepoAccess, a)) accepted++;
    } catch (err) {
      ctx.log.warn("github access sync: one member record failed", { accessId: a.id, err });
    }
  }
  const missing = await ctx.db
    .select({ projectId: projectMembers.projectId, userId: projectMembers.userId })
    .from(projectMembers)
    .innerJoin(githubRepositories, eq(githubRepositories.projectId, projectMembers.projectId))
    .innerJoin(users, eq(users.id, projectMembers.userId))
    .where(
      and(
        eq(githubRepositories.private, true),
        sql`${users.githubLogin} is not null`,
        sql`not exists (select 1 from ${projectRepoAccess} where ${projectRepoAccess.projectId} = ${projectMembers.projectId}
          and ${projectRepoAccess.userId} = ${projectMembers.userId} and ${projectRepoAccess.state} <> 'REMOVED')`,
      ),
    );
  for (const m of missing) {
    try {
      const out = await syncMemberAccess(ctx, m.projectId, m.userId);
      if (out.startsWith("member access")) granted++;
    } catch (err) {
      ctx.log.warn("github access sync: member invite failed", { projectId: m.projectId, err });
    }
  }
  return { granted, removed, accepted };
}
