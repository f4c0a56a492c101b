// What each GitHub event does. Every handler is safe to run again and safe out of order: rows keep the time of the
// newest event applied and an older delivery leaves them alone.
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import type { AppContext, Principal } from "../core/context";
import { AppError } from "../core/errors";
import { FatalJobError } from "../core/jobs";
import { tasks } from "../milestones/schema";
import { projects } from "../projects/schema";
import { taskClaims, taskWorkLinks } from "../tasks/schema";
import { linkWork } from "../tasks/service";
import { users } from "../users/schema";
import { fullNameOf } from "./api";
import { appConfig, githubClient } from "./client";
import { runCommands } from "./commands";
import { projectRepoAccess } from "../projects/members-schema";
import { githubAccess, githubDeliveries, githubInstallations, githubPulls, githubRepositories } from "./schema";

type Payload = Record<string, any>;

/** A time from GitHub: ISO text, or seconds since the epoch (installation payloads use both). */
export function eventTime(v: unknown, fallback: Date): Date {
  if (typeof v === "number" && Number.isFinite(v)) return new Date(v < 1e12 ? v * 1000 : v);
  if (typeof v === "string") {
    const ms = Date.parse(v);
    if (Number.isFinite(ms)) return new Date(ms);
  }
  return fallback;
}

/** The repository URL GitHub serves for `fullName` (what projects store as their repository). */
export const repoWebUrl = (baseUrl: string, fullName: string) => `${baseUrl.replace(/\/+$/, "")}/${fullName}`;

/** Processes one stored delivery (the `github.delivery` job); a processed delivery is not processed again. */
export async function processDelivery(ctx: AppContext, deliveryId: string): Promise<string> {
  const [d] = await ctx.db.select().from(githubDeliveries).where(eq(githubDeliveries.deliveryId, deliveryId));
  if (!d) throw new FatalJobError("the delivery is gone");
  if (d.processedAt) return d.outcome ?? "processed";
  const p = d.payload as Payload;
  const at = d.receivedAt;
  let outcome: string;
  switch (d.event) {
    case "ping":
      outcome = onPing(ctx, p);
      break;
    case "installation":
      outcome = await onInstallation(ctx, p, at);
      break;
    case "installation_repositories":
      outcome = await onInstallationRepositories(ctx, p, at);
      break;
    case "repository":
      outcome = await onRepository(ctx, p, at);
      break;
    case "member":
      outcome = await onMember(ctx, p);
      break;
    case "membership":
      outcome = `membership ${p.action}: ${p.member?.login ?? "?"} in team ${p.team?.name ?? "?"} (no repository access changes)`;
      break;
    case "pull_request":
      outcome = await onPullRequest(ctx, p, at);
      break;
    case "push":
      outcome = await onPush(ctx, p);
      break;
    case "issue_comment":
      outcome = p.action === "created" ? await runCommands(ctx, p) : `comment ${p.action}: ignored`;
      break;
    default:
      outcome = `event ${d.event} is not handled`;
  }
  await ctx.db
    .update(githubDeliveries)
    .set({ processedAt: new Date(), outcome: outcome.slice(0, 500) })
    .where(eq(githubDeliveries.deliveryId, deliveryId));
  return outcome;
}

function onPing(ctx: AppContext, p: Payload): string {
  const appId = String(p.hook?.app_id ?? "");
  const ours = ctx.settings.get("github.appId");
  if (appId && ours && appId !== ours) return `ping from App ${appId}, but App ${ours} is configured`;
  return `pong (hook ${p.hook_id ?? "?"})`;
}

async function upsertInstallation(
  ctx: AppContext,
  inst: Payload,
  at: Date,
  set: Partial<typeof githubInstallations.$inferInsert>,
) {
  const row = {
    installationId: Number(inst.id),
    accountLogin: String(inst.account?.login ?? ""),
    accountId: Number(inst.account?.id ?? 0),
    accountType: String(inst.account?.type ?? "User"),
    eventAt: at,
    ...set,
  };
  const done = await ctx.db
    .insert(githubInstallations)
    .values(row)
    .onConflictDoUpdate({
      target: githubInstallations.installationId,
      set: { ...set, eventAt: at },
      where: sql`${githubInstallations.eventAt} <= ${at.toISOString()}`,
    })
    .returning({ id: githubInstallations.installationId });
  return done.length > 0;
}

async function onInstallation(ctx: AppContext, p: Payload, received: Date): Promise<string> {
  const inst = p.installation ?? {};
  const id = Number(inst.id);
  if (!Number.isSafeInteger(id)) throw new FatalJobError("installation payload without an id");
  const at = eventTime(inst.updated_at, received);
  switch (p.action) {
    case "created": {
      const applied = await upsertInstallation(ctx, inst, at, { suspendedAt: null, deletedAt: null });
      if (!applied) return `installation ${id} created: older than what is stored, ignored`;
      const linked = await upsertRepositories(ctx, id, p.repositories ?? [], at);
      return `installation ${id} on ${inst.account?.login}: ${p.repositories?.length ?? 0} repositories, ${linked} linked to projects`;
    }
    case "deleted": {
      await upsertInstallation(ctx, inst, at, { deletedAt: at });
      await ctx.db
        .update(githubRepositories)
        .set({ removedAt: at, eventAt: at })
        .where(
          and(eq(githubRepositories.installationId, id), sql`${githubRepositories.eventAt} <= ${at.toISOString()}`),
        );
      githubClientForget(ctx, id);
      return `installation ${id} deleted`;
    }
    case "suspend":
      await upsertInstallation(ctx, inst, at, { suspendedAt: eventTime(inst.suspended_at, at) });
      githubClientForget(ctx, id);
      return `installation ${id} suspended`;
    case "unsuspend":
      await upsertInstallation(ctx, inst, at, { suspendedAt: null });
      return `installation ${id} unsuspended`;
    default:
      await upsertInstallation(ctx, inst, at, {});
      return `installation ${p.action}: noted`;
  }
}

function githubClientForget(ctx: AppContext, installationId: number) {
  githubClient(ctx).forgetToken(installationId);
}

async function onInstallationRepositories(ctx: AppContext, p: Payload, received: Date): Promise<string> {
  const id = Number(p.installation?.id);
  if (!Number.isSafeInteger(id)) throw new FatalJobError("installation_repositories payload without an id");
  const at = eventTime(p.installation?.updated_at, received);
  await upsertInstallation(ctx, p.installation, at, {});
  const added = (p.repositories_added ?? []) as Payload[];
  const removed = (p.repositories_removed ?? []) as Payload[];
  const linked = await upsertRepositories(ctx, id, added, at);
  for (const r of removed) {
    await ctx.db
      .update(githubRepositories)
      .set({ removedAt: at, eventAt: at })
      .where(
        and(eq(githubRepositories.repoId, Number(r.id)), sql`${githubRepositories.eventAt} <= ${at.toISOString()}`),
      );
  }
  return `installation ${id}: ${added.length} added (${linked} linked to projects), ${removed.length} removed`;
}

/** Stores repositories of an installation and links each to the project whose repository URL names it. */
async function upsertRepositories(ctx: AppContext, installationId: number, repos: Payload[], at: Date) {
  for (const r of repos) {
    const row = {
      repoId: Number(r.id),
      installationId,
      fullName: String(r.full_name),
      private: !!r.private,
      removedAt: null,
      eventAt: at,
    };
    await ctx.db
      .insert(githubRepositories)
      .values(row)
      .onConflictDoUpdate({
        target: githubRepositories.repoId,
        set: { installationId, fullName: row.fullName, private: row.private, removedAt: null, eventAt: at },
        where: sql`${githubRepositories.eventAt} <= ${at.toISOString()}`,
      });
  }
  return linkProjects(ctx);
}

/**
 * Links unlinked repositories to the projects whose repository URL names them on the configured GitHub (one
 * project per repository). Returns how many links were made.
 */
export async function linkProjects(ctx: Pick<AppContext, "db" | "settings">): Promise<number> {
  const base = appConfig(ctx.settings).baseUrl;
  const open = await ctx.db
    .select()
    .from(githubRepositories)
    .where(and(isNull(githubRepositories.projectId), isNull(githubRepositories.removedAt)));
  if (open.length === 0) return 0;
  const taken = new Set(
    (
      await ctx.db
        .select({ id: githubRepositories.projectId })
        .from(githubRepositories)
        .where(sql`${githubRepositories.projectId} is not null`)
    ).map((r) => r.id),
  );
  const byName = new Map(open.map((r) => [r.fullName.toLowerCase(), r]));
  const candidates = await ctx.db
    .select({ id: projects.id, repoUrl: projects.repoUrl })
    .from(projects)
    .where(sql`${projects.repoUrl} is not null`);
  let n = 0;
  for (const project of candidates) {
    if (taken.has(project.id)) continue;
    const name = fullNameOf(base, project.repoUrl);
    const repo = name ? byName.get(name) : undefined;
    if (!repo || repo.projectId) continue;
    await ctx.db
      .update(githubRepositories)
      .set({ projectId: project.id })
      .where(and(eq(githubRepositories.repoId, repo.repoId), isNull(githubRepositories.projectId)));
    await ctx.db
      .update(projects)
      .set({ repoVisibility: repo.private ? "PRIVATE" : "PUBLIC", updatedAt: new Date() })
      .where(eq(projects.id, project.id));
    repo.projectId = project.id;
    n++;
  }
  return n;
}

async function onRepository(ctx: AppContext, p: Payload, received: Date): Promise<string> {
  const r = p.repository ?? {};
  const repoId = Number(r.id);
  if (!Number.isSafeInteger(repoId)) throw new FatalJobError("repository payload without an id");
  const at = eventTime(r.updated_at, received);
  const [known] = await ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, repoId));
  if (!known) return `repository ${r.full_name} ${p.action}: not a repository of this App`;
  if (known.eventAt > at) return `repository ${r.full_name} ${p.action}: older than what is stored, ignored`;
  const deleted = p.action === "deleted";
  await ctx.db
    .update(githubRepositories)
    .set({
      fullName: String(r.full_name ?? known.fullName),
      private: !!r.private,
      removedAt: deleted ? at : known.removedAt,
      eventAt: at,
    })
    .where(eq(githubRepositories.repoId, repoId));
  if (known.projectId) {
    const [project] = await ctx.db.select().from(projects).where(eq(projects.id, known.projectId));
    if (project) {
      const base = appConfig(ctx.settings).baseUrl;
      const set: Partial<typeof projects.$inferInsert> = { repoVisibility: r.private ? "PRIVATE" : "PUBLIC" };
      // The project follows its repository's new name: clones and links use the URL that works today.
      if (known.fullName !== r.full_name && fullNameOf(base, project.repoUrl) === known.fullName.toLowerCase()) {
        set.repoUrl = `${repoWebUrl(base, String(r.full_name))}${project.repoUrl?.endsWith(".git") ? ".git" : ""}`;
      }
      await ctx.db
        .update(projects)
        .set({ ...set, updatedAt: new Date() })
        .where(eq(projects.id, project.id));
    }
  }
  if (p.action === "privatized" && known.projectId) {
    await ctx.jobs.enqueue(
      "github.access.sync",
      {},
      { key: `github.access.sync:privatized:${repoId}:${at.getTime()}` },
    );
  }
  return `repository ${known.fullName} ${p.action}${known.fullName !== r.full_name ? ` → ${r.full_name}` : ""}${known.projectId ? " (project kept)" : ""}`;
}

async function onMember(ctx: AppContext, p: Payload): Promise<string> {
  const repoId = Number(p.repository?.id);
  const login = String(p.member?.login ?? "");
  if (!login || !Number.isSafeInteger(repoId)) return "member event without a repository or login";
  const to = p.action === "added" ? "ACTIVE" : p.action === "removed" ? "REMOVED" : null;
  if (!to) return `member ${p.action}: ${login} (no change)`;
  const from = to === "ACTIVE" ? ["PENDING"] : ["PENDING", "ACTIVE"];
  const changed = await ctx.db
    .update(githubAccess)
    .set({ state: to, updatedAt: new Date() })
    .where(
      and(
        eq(githubAccess.repoId, repoId),
        sql`lower(${githubAccess.login}) = ${login.toLowerCase()}`,
        inArray(githubAccess.state, from as ("PENDING" | "ACTIVE")[]),
      ),
    )
    .returning({ id: githubAccess.id });
  const members = await ctx.db
    .update(projectRepoAccess)
    .set({ state: to, updatedAt: new Date() })
    .where(
      and(
        eq(projectRepoAccess.repoId, repoId),
        sql`lower(${projectRepoAccess.login}) = ${login.toLowerCase()}`,
        inArray(projectRepoAccess.state, from as ("PENDING" | "ACTIVE")[]),
      ),
    )
    .returning({ id: projectRepoAccess.id });
  const n = changed.length + members.length;
  return `member ${p.action}: ${login}, ${n} access record${n === 1 ? "" : "s"} now ${to}`;
}

/**
 * The DevSponsor account linked to a GitHub user, by GitHub's stable user id only: a login can be renamed and
 * taken by someone else, so it never identifies anyone here.
 */
export async function principalOf(ctx: Pick<AppContext, "db">, gh: { id?: unknown }): Promise<Principal | null> {
  const id = typeof gh.id === "number" || typeof gh.id === "string" ? String(gh.id) : "";
  if (!/^\d{1,20}$/.test(id)) return null;
  const [u] = await ctx.db
    .select({ id: users.id, name: users.name, email: users.email, isAdmin: users.isAdmin })
    .from(users)
    .where(and(eq(users.githubId, id), isNull(users.deletedAt)));
  if (!u) return null;
  return { userId: u.id, name: u.name, email: u.email, isAdmin: u.isAdmin, via: "session" };
}

/** The task a pull request works on: the one it is tied to, else the author's one active claim in the project. */
async function taskForPull(ctx: AppContext, projectId: string, principal: Principal, body: string) {
  const claimed = await ctx.db
    .select({ id: tasks.id })
    .from(taskClaims)
    .innerJoin(tasks, eq(tasks.id, taskClaims.taskId))
    .where(
      and(eq(taskClaims.userId, principal.userId), eq(taskClaims.state, "ACTIVE"), eq(tasks.projectId, projectId)),
    );
  const mentioned = claimed.find((t) => body.includes(t.id));
  if (mentioned) return mentioned.id;
  return claimed.length === 1 ? claimed[0]!.id : null;
}

async function onPullRequest(ctx: AppContext, p: Payload, received: Date): Promise<string> {
  const pr = p.pull_request ?? {};
  const repoId = Number(p.repository?.id);
  const number = Number(pr.number);
  if (!Number.isSafeInteger(repoId) || !Number.isSafeInteger(number))
    throw new FatalJobError("pull_request payload without ids");
  const at = eventTime(pr.updated_at, received);
  const headSha = String(pr.head?.sha ?? "");
  const [prior] = await ctx.db
    .select()
    .from(githubPulls)
    .where(and(eq(githubPulls.repoId, repoId), eq(githubPulls.number, number)));
  if (prior && prior.eventAt > at) return `pull request #${number} ${p.action}: older than what is stored, ignored`;
  const values = {
    repoId,
    number,
    authorId: Number(pr.user?.id ?? 0),
    authorLogin: String(pr.user?.login ?? ""),
    headSha,
    state: String(pr.state ?? "open"),
    merged: !!pr.merged,
    eventAt: at,
  };
  const [row] = prior
    ? await ctx.db.update(githubPulls).set(values).where(eq(githubPulls.id, prior.id)).returning()
    : await ctx.db.insert(githubPulls).values(values).returning();
  if (!["opened", "reopened", "synchronize"].includes(p.action) || pr.state !== "open") {
    return `pull request #${number} ${p.action}${pr.merged ? " (merged)" : ""}`;
  }
  const [repo] = await ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, repoId));
  if (!repo?.projectId) return `pull request #${number}: the repository is not linked to a project`;
  const principal = await principalOf(ctx, pr.user ?? {});
  if (!principal) return `pull request #${number}: its author ${pr.user?.login} has no linked DevSponsor account`;
  const taskId = row!.taskId ?? (await taskForPull(ctx, repo.projectId, principal, String(pr.body ?? "")));
  if (!taskId) return `pull request #${number}: ${pr.user?.login} holds no claim this pull request can be tied to`;
  if (!row!.taskId) await ctx.db.update(githubPulls).set({ taskId }).where(eq(githubPulls.id, row!.id));
  try {
    // linkWork checks the author is the claimer, the commit is newer than the claim, and queues the verification.
    const { verification } = await linkWork(ctx, principal, taskId, {
      prUrl: String(pr.html_url),
      commit: headSha,
    });
    return `pull request #${number} ${p.action}: verification ${verification.attempt} of ${headSha.slice(0, 7)} for task ${taskId}`;
  } catch (err) {
    if (err instanceof AppError && err.status < 500)
      return `pull request #${number}: not linked (${err.code}: ${err.message})`;
    throw err;
  }
}

async function onPush(ctx: AppContext, p: Payload): Promise<string> {
  const repoId = Number(p.repository?.id);
  const branch = String(p.ref ?? "").replace(/^refs\/heads\//, "");
  const after = String(p.after ?? "");
  if (!/^[0-9a-f]{40}$/.test(after) || /^0+$/.test(after)) return `push to ${branch}: branch deleted or no commit`;
  const [repo] = await ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, repoId));
  if (!repo?.projectId) return `push to ${branch}: the repository is not linked to a project`;
  // Pull requests get their own `synchronize`; a push re-verifies only branch links of open claims on this branch.
  const links = await ctx.db
    .select({
      taskId: taskWorkLinks.taskId,
      userId: taskClaims.userId,
      branch: taskWorkLinks.branch,
      repoUrl: taskWorkLinks.repoUrl,
    })
    .from(taskWorkLinks)
    .innerJoin(taskClaims, eq(taskClaims.id, taskWorkLinks.claimId))
    .innerJoin(tasks, eq(tasks.id, taskWorkLinks.taskId))
    .where(
      and(
        eq(tasks.projectId, repo.projectId),
        eq(taskClaims.state, "ACTIVE"),
        eq(taskWorkLinks.kind, "branch"),
        eq(taskWorkLinks.branch, branch),
      ),
    )
    .orderBy(desc(taskWorkLinks.createdAt));
  const seen = new Set<string>();
  let n = 0;
  const base = appConfig(ctx.settings).baseUrl;
  for (const l of links) {
    if (seen.has(l.taskId)) continue;
    seen.add(l.taskId);
    // A branch of the same name in a fork is someone else's: a push here is not the claimer's work there.
    if (fullNameOf(base, l.repoUrl) !== repo.fullName.toLowerCase()) continue;
    const [u] = await ctx.db.select().from(users).where(eq(users.id, l.userId));
    if (!u) continue;
    try {
      await linkWork(ctx, { userId: u.id, name: u.name, isAdmin: u.isAdmin, via: "session" }, l.taskId, {
        branch,
        commit: after,
      });
      n++;
    } catch (err) {
      if (!(err instanceof AppError && err.status < 500)) throw err;
    }
  }
  return `push to ${branch} at ${after.slice(0, 7)}: ${n} task${n === 1 ? "" : "s"} re-verified`;
}
