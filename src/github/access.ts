// Repository access for claimers of tasks in private repositories: invited as collaborators on claim (PENDING until
// the `member` webhook says they accepted), removed when the claim ends (given up, released, expired or paid).
// `github.access.sync` (cron) repairs drift both ways.
import { and, eq, inArray } from "drizzle-orm";
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { tasks } from "../milestones/schema";
import { taskClaims } from "../tasks/schema";
import { users } from "../users/schema";
import { appConfig, githubError } from "./client";
import { projectRepo, repoClient } from "./api";
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
  let invitationId: number | null = null;
  let state: "PENDING" | "ACTIVE" = "ACTIVE";
  try {
    const res = await c.octokit.request("PUT /repos/{owner}/{repo}/collaborators/{username}", {
      owner: c.owner,
      repo: c.repo,
      username: row.login,
      permission: CLAIMER_PERMISSION,
    });
    // 201 with an invitation: pending until accepted; 204: already a collaborator.
    if (res.status === 201) {
      state = "PENDING";
      invitationId = (res.data as { id?: number } | undefined)?.id ?? null;
    }
  } catch (err) {
    throw githubError(err, `invite ${row.login} to ${c.owner}/${c.repo}`);
  }
  await ctx.db
    .insert(githubAccess)
    .values({ taskId, userId: row.claim.userId, repoId: repo.repoId, login: row.login, state, invitationId })
    .onConflictDoNothing();
  return state;
}

/** Removes the repository access given for a task whose claim is no longer active; returns how many were removed. */
export async function revokeAccess(ctx: Ctx, taskId: string): Promise<number> {
  const open = await ctx.db
    .select()
    .from(githubAccess)
    .where(and(eq(githubAccess.taskId, taskId), inArray(githubAccess.state, ["PENDING", "ACTIVE"])));
  let n = 0;
  for (const a of open) {
    const [claim] = await ctx.db
      .select({ id: taskClaims.id })
      .from(taskClaims)
      .where(and(eq(taskClaims.taskId, taskId), eq(taskClaims.userId, a.userId), eq(taskClaims.state, "ACTIVE")));
    if (claim) continue; // claimed again meanwhile: the access is still due
    const c = await repoClient(ctx, a.repoId);
    try {
      if (a.state === "PENDING" && a.invitationId) {
        await c.octokit.request("DELETE /repos/{owner}/{repo}/invitations/{invitation_id}", {
          owner: c.owner,
          repo: c.repo,
          invitation_id: a.invitationId,
        });
      }
      await c.octokit.request("DELETE /repos/{owner}/{repo}/collaborators/{username}", {
        owner: c.owner,
        repo: c.repo,
        username: a.login,
      });
    } catch (err) {
      if ((err as { status?: number }).status !== 404)
        throw githubError(err, `remove ${a.login} from ${c.owner}/${c.repo}`);
    }
    await ctx.db.update(githubAccess).set({ state: "REMOVED", updatedAt: new Date() }).where(eq(githubAccess.id, a.id));
    n++;
  }
  return n;
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
    .where(inArray(githubAccess.state, ["PENDING", "ACTIVE"]));
  for (const a of open) {
    try {
      const n = await revokeAccess(ctx, a.taskId);
      removed += n;
      if (n > 0 || a.state !== "PENDING") continue;
      const c = await repoClient(ctx, a.repoId);
      const res = await c.octokit
        .request("GET /repos/{owner}/{repo}/collaborators/{username}", {
          owner: c.owner,
          repo: c.repo,
          username: a.login,
        })
        .catch((err: { status?: number }) => (err.status === 404 ? null : Promise.reject(err)));
      if (res?.status === 204) {
        await ctx.db
          .update(githubAccess)
          .set({ state: "ACTIVE", updatedAt: new Date() })
          .where(eq(githubAccess.id, a.id));
        accepted++;
      }
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
  return { granted, removed, accepted };
}
