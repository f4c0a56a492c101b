// Tasks as contributors meet them: claim, give up, link work, verify, and from a verdict to a payment with no
// human step unless the project asks for a review. Every state change goes through `transition` (state.ts).
import { and, asc, count, desc, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { z } from "zod";
import type { AppContext, Principal } from "../core/context";
import { type Db, preparedFor, resultRows } from "../core/db";
import { snapshotCacheOf } from "../core/db/snapshot";
import { GroupCommit } from "../core/jobs/batch";
import { AppError, conflict, forbidden, invalidInput, notFound, unauthorized, zodFieldErrors } from "../core/errors";
import { invitePending, pendingInvite } from "../github/access";
import { projectGitToken } from "../github/api";
import { milestones, type Task, tasks } from "../milestones/schema";
import { assertClaimsOpen, readFunding } from "../funding/lifecycle";
import type { ProjectFunding } from "../funding/schema";
import { can, isUuid, requireOrgRole } from "../orgs/permissions";
import { payments } from "../payments/schema";
import { zkProofs } from "../zk/schema";
import { authorizeProject, loadProject } from "../projects/access";
import { type Project, projects } from "../projects/schema";
import { setProjectState } from "../projects/service";
import { users, wallets } from "../users/schema";
import { type AcceptanceView, acceptanceView } from "./acceptance";
import { emitTaskEvent } from "./events";
import {
  type TaskClaim,
  type TaskVerification,
  type TaskWorkLink,
  taskClaims,
  taskVerifications,
  taskWorkLinks,
} from "./schema";
import { type Q, transition, transitionMany } from "./state";
import { checkWork, parsePullRequestUrl } from "./work-check";

type Ctx = Pick<AppContext, "db" | "settings" | "log" | "jobs">;

/** Job ids this domain enqueues: the verification (jobs.ts) and the payout (the payments domain). */
export const VERIFY_JOB = "tasks.verify";
export const PAYOUT_JOB = "payments.proof";

/** A task with where it belongs. */
export interface TaskContext {
  task: Task;
  project: Project;
  milestoneTitle: string;
}

// Built once per database handle (see preparedFor): building it cost more CPU than the database took to answer.
const taskWithProject = preparedFor((db) =>
  db
    .select({ task: tasks, milestoneTitle: milestones.title, project: projects })
    .from(tasks)
    .innerJoin(milestones, eq(milestones.id, tasks.milestoneId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(eq(tasks.id, sql.placeholder("id")))
    .limit(1)
    .prepare("task_with_project"),
);

type TaskRow = Awaited<ReturnType<ReturnType<typeof taskWithProject>["execute"]>>[number];

/**
 * The task with its project, and the project's funding state, as claims read them: kept while the database has not
 * changed (src/core/db/snapshot.ts), so the many refused claims of a popular task cost no query of their own (the
 * funding state once per project). The claim itself is decided in its transaction, never from these copies.
 */
function claimReads(ctx: Pick<AppContext, "db" | "database">) {
  const cache = snapshotCacheOf<TaskRow | undefined>(ctx.database, "task-claim");
  const fundings = snapshotCacheOf<ProjectFunding | undefined>(ctx.database, "project-funding");
  return {
    task: (taskId: string, since?: number) =>
      cache.get(taskId, async () => (await taskWithProject(ctx.db).execute({ id: taskId }))[0], undefined, since),
    funding: (projectId: string, since?: number) =>
      fundings.get(projectId, () => readFunding(ctx.db, projectId), undefined, since),
  };
}

/** Loads a task the caller may see (its project's visibility rules); NOT_FOUND otherwise. */
export async function loadTask(
  db: Db,
  principal: Principal | null,
  taskId: string,
  read: (taskId: string) => Promise<TaskRow | undefined> = (id) =>
    taskWithProject(db)
      .execute({ id })
      .then(([row]) => row),
): Promise<TaskContext> {
  if (!principal) throw unauthorized();
  if (!isUuid(taskId)) throw notFound("Task", "TASK_NOT_FOUND");
  // The project in the same query: every task action starts here, and fifty claims at once each pay for it.
  const row = await read(taskId);
  if (!row) throw notFound("Task", "TASK_NOT_FOUND");
  const project = await authorizeProject(db, principal, row.project, "project.view").catch((err) => {
    if (err instanceof AppError && err.status === 404) throw notFound("Task", "TASK_NOT_FOUND");
    throw err;
  });
  return { task: row.task, project, milestoneTitle: row.milestoneTitle };
}

async function roleIn(db: Db, principal: Principal, orgId: string) {
  return requireOrgRole(db, principal, orgId, "project.view")
    .then((a) => a.role)
    .catch(() => null);
}

/** Whether the caller may claim tasks of this project: anyone signed in on a public one, invited members on a private one. */
async function mayClaim(db: Db, principal: Principal, project: Project): Promise<boolean> {
  if (project.repoVisibility === "PUBLIC") return true;
  if (can(await roleIn(db, principal, project.orgId), "task.claim")) return true;
  // invited to this project only (src/projects/access.ts decides)
  return authorizeProject(db, principal, project, "task.claim").then(
    () => true,
    () => false,
  );
}

function requireWrite(principal: Principal) {
  if (principal.via === "api-key" && !principal.scopes?.includes("write")) {
    throw forbidden("This API key lacks the write scope.");
  }
}

async function requireReviewer(db: Db, principal: Principal, project: Project) {
  requireWrite(principal);
  await authorizeProject(db, principal, project, "task.review").catch((err) => {
    if (err instanceof AppError && err.status === 404) throw notFound("Task");
    throw err;
  });
}

/** The claim a task is held by now, if any. */
async function activeClaim(db: Q, taskId: string): Promise<TaskClaim | undefined> {
  const [c] = await db
    .select()
    .from(taskClaims)
    .where(and(eq(taskClaims.taskId, taskId), eq(taskClaims.state, "ACTIVE")))
    .limit(1);
  return c;
}

const payoutWalletOf = preparedFor((db) =>
  db
    .select({ address: wallets.address })
    .from(wallets)
    .where(and(eq(wallets.userId, sql.placeholder("userId")), eq(wallets.isPayout, true)))
    .limit(1)
    .prepare("payout_wallet"),
);

async function payoutWallet(db: Q, userId: string) {
  const [w] = await payoutWalletOf(db as Db).execute({ userId });
  return w?.address;
}

const uniqueViolation = (err: unknown) => {
  for (let e: any = err; e; e = e.cause) if (e.code === "23505") return true;
  return false;
};

/**
 * Claims a task for the caller: only on funded (ACTIVE) projects, one winner per task, at most the configured
 * number of open claims per person, and only with a payout wallet (PAYOUT_WALLET_REQUIRED sends them to add one).
 */
export async function claimTask(
  ctx: Ctx & Pick<AppContext, "database">,
  /** The caller, or (from a request) the lookup of the caller: the claim counts as under way while it runs. */
  caller: Principal | null | Promise<Principal | null>,
  taskId: string,
  /** When the request arrived (`performance.now()`): the cached reads may use a snapshot read since. */
  since?: number,
): Promise<TaskClaim> {
  const read = claimReads(ctx);
  preparing++;
  let counted = true;
  const ready = () => {
    if (counted) preparing--;
    counted = false;
  };
  try {
    return await claimOnce(ctx, await caller, taskId, since, read, ready);
  } finally {
    ready();
  }
}

async function claimOnce(
  ctx: Ctx & Pick<AppContext, "database">,
  principal: Principal | null,
  taskId: string,
  since: number | undefined,
  read: ReturnType<typeof claimReads>,
  /** Called once this claim has read what it checks (it is then decided, waits, or is refused). */
  ready: () => void,
): Promise<TaskClaim> {
  for (;;) {
    const { task, project } = await loadTask(ctx.db, principal, taskId, (id) => read.task(id, since));
    const p = principal!;
    requireWrite(p);
    if (!(await mayClaim(ctx.db, p, project)))
      throw forbidden("Only the project's invited contributors can claim its tasks.");
    if (project.state !== "ACTIVE") {
      throw conflict("Tasks can be claimed once the project is funded.", "PROJECT_NOT_FUNDED");
    }
    await assertClaimsOpen(await read.funding(project.id, since));
    if (task.status !== "OPEN") throw alreadyClaimed();
    // Someone in this process is claiming the same task: wait for the outcome.
    const running = deciding.get(task.id);
    ready();
    if (running) {
      // Someone won it meanwhile: that claim committed before this answer, so the task is taken. Otherwise (their
      // attempt was refused) look again at a snapshot read begun after their attempt ended.
      if (
        await running.then(
          () => true,
          () => false,
        )
      ) {
        throw alreadyClaimed();
      }
      since = performance.now();
      continue;
    }
    // The payout wallet and the open-claim limit are checked in the claim's transaction (decideClaims).
    const attempt = decideClaim(ctx, p, task, project, ctx.settings.get("tasks.maxOpenClaims"));
    deciding.set(task.id, attempt);
    try {
      return await attempt;
    } finally {
      if (deciding.get(task.id) === attempt) deciding.delete(task.id);
    }
  }
}

/** Claims being decided in this process, by task: one transaction per task at a time, the others wait for it. */
const deciding = new Map<string, Promise<TaskClaim>>();

const payoutWalletRequired = (taskId: string) =>
  new AppError(
    "PAYOUT_WALLET_REQUIRED",
    "Add a payout wallet (sign in with Ethereum on your account page) before you claim a task.",
    422,
    { link: `/account?next=${encodeURIComponent(`/tasks/${taskId}`)}#wallets` },
  );

const alreadyClaimed = () => conflict("Someone else has claimed this task.", "TASK_ALREADY_CLAIMED");

const claimLimit = (max: number) =>
  conflict(
    `You already hold ${max} open claim${max === 1 ? "" : "s"}: finish or give one up first.`,
    "CLAIM_LIMIT_REACHED",
  );

/** One claim waiting to be decided, and how it came out. */
interface ClaimAsk {
  p: Principal;
  task: Task;
  project: Project;
  max: number;
  days: number;
}
type ClaimOutcome = { ok: true; claim: TaskClaim } | { ok: false; err: unknown };

/** The claim's writes, decided with the other claims of the same moment (claimBatchOf). */
async function decideClaim(ctx: Ctx, p: Principal, task: Task, project: Project, max: number): Promise<TaskClaim> {
  const days = ctx.settings.get("tasks.claimExpiryDays");
  const outcome = await claimBatchOf(ctx.db).submit({ p, task, project, max, days });
  if (outcome.ok) return outcome.claim;
  const err = outcome.err;
  if (uniqueViolation(err) || (err instanceof AppError && err.code === "TASK_STATE_CONFLICT")) {
    throw alreadyClaimed();
  }
  throw err;
}

const claimBatches = new WeakMap<Db, GroupCommit<ClaimAsk, ClaimOutcome>>();

/** Claims in this process still reading what they check (they may soon ask to be decided). */
let preparing = 0;

/**
 * Before a batch is decided: while other claims are still reading (many people clicking at once), wait for them a
 * little, at most 5 ms, so they join this batch instead of waiting for it to commit and then for their own.
 */
async function gatherClaims() {
  const until = performance.now() + 5;
  while (preparing > 0 && performance.now() < until) await new Promise((r) => setImmediate(r));
}

/**
 * The process's claim decider on `db`: the claims asked for while one transaction decides others wait and are
 * decided together by the next, with a dozen statements and one commit whatever their number (fifty people
 * claiming at once would otherwise queue behind fifty commits, each holding the audit chain's lock). When a
 * batch fails as a whole, each of its claims is decided again alone, so none fails for another's reason.
 */
function claimBatchOf(db: Db): GroupCommit<ClaimAsk, ClaimOutcome> {
  let batch = claimBatches.get(db);
  if (!batch) {
    batch = new GroupCommit<ClaimAsk, ClaimOutcome>(
      async (asks) => {
        try {
          return await decideClaims(db, asks);
        } catch (err) {
          if (asks.length === 1) return [{ ok: false, err }];
          const out: ClaimOutcome[] = [];
          for (const ask of asks)
            out.push(...(await decideClaims(db, [ask]).catch((e) => [{ ok: false as const, err: e }])));
          return out;
        }
      },
      64,
      gatherClaims,
    );
    claimBatches.set(db, batch);
  }
  return batch;
}

/**
 * Decides claims in one transaction: each claimer's open claims counted under that claimer's lock (taken in one
 * order everywhere, so two batches cannot deadlock), then every task moved from OPEN to CLAIMED that still is
 * OPEN (one winner per task, on every node), then the claim rows of the moves. One outcome per ask, in order.
 */
async function decideClaims(db: Db, asks: ClaimAsk[]): Promise<ClaimOutcome[]> {
  return db.transaction(async (tx) => {
    const userIds = [...new Set(asks.map((a) => a.p.userId))].sort();
    // The claimers as one comma-joined list (ids hold no commas): the statements' text is the same whatever their
    // number, so they are prepared once.
    const ids = userIds.join(",");
    await tx.execute(
      sql`select pg_advisory_xact_lock(hashtext('task-claims:' || u))
          from unnest(string_to_array(${ids}, ',')) as u order by u`,
    );
    const held = new Map<string, number>();
    const withWallet = new Set<string>();
    const claimers = await tx.execute(
      sql`select u.id, exists (select 1 from wallets w where w.user_id = u.id and w.is_payout) as wallet,
            (select count(*)::int from task_claims c where c.user_id = u.id and c.state = 'ACTIVE') as open
          from users u where u.id = any(string_to_array(${ids}, ',')::uuid[])`,
    );
    for (const r of resultRows<{ id: string; wallet: boolean; open: number }>(claimers)) {
      held.set(r.id, Number(r.open));
      if (r.wallet) withWallet.add(r.id);
    }
    // Within the limit, in the order asked (a claim that then loses its task still counted here: at worst a
    // claimer asking for several at once is refused one that would have fitted, never given one too many).
    const outcomes: (ClaimOutcome | null)[] = asks.map((a) => {
      if (!withWallet.has(a.p.userId)) return { ok: false, err: payoutWalletRequired(a.task.id) };
      const n = held.get(a.p.userId) ?? 0;
      if (n >= a.max) return { ok: false, err: claimLimit(a.max) };
      held.set(a.p.userId, n + 1);
      return null;
    });
    const asked = new Set<string>();
    const going = asks.filter((a, i) => {
      if (outcomes[i] || asked.has(a.task.id)) return false;
      asked.add(a.task.id);
      return true;
    });
    const moved = await transitionMany(
      tx,
      going.map((a) => ({
        task: a.task,
        orgId: a.project.orgId,
        to: "CLAIMED" as const,
        actor: { kind: "claimer" as const, userId: a.p.userId },
        claimedById: a.p.userId,
      })),
    );
    const won = going.filter((_, i) => moved[i]);
    const claims =
      won.length === 0
        ? []
        : await tx
            .insert(taskClaims)
            .values(
              won.map((a) => ({
                taskId: a.task.id,
                userId: a.p.userId,
                expiresAt: new Date(Date.now() + a.days * 86_400_000),
              })),
            )
            .returning();
    const byTask = new Map(claims.map((c) => [c.taskId, c]));
    return asks.map((a, i): ClaimOutcome => {
      const done = outcomes[i];
      if (done) return done;
      const claim = byTask.get(a.task.id);
      return claim?.userId === a.p.userId ? { ok: true, claim } : { ok: false, err: alreadyClaimed() };
    });
  });
}

async function endClaim(
  tx: Q,
  tc: { task: Task; project: Project },
  claim: TaskClaim,
  state: "UNCLAIMED" | "RELEASED" | "EXPIRED",
  actor: Parameters<typeof transition>[1]["actor"],
  reason?: string,
) {
  const ended = await tx
    .update(taskClaims)
    .set({ state, endedAt: new Date(), endReason: reason ?? null })
    .where(and(eq(taskClaims.id, claim.id), eq(taskClaims.state, "ACTIVE")))
    .returning({ id: taskClaims.id });
  if (ended.length === 0) throw conflict("The claim changed meanwhile; reload and try again.", "TASK_STATE_CONFLICT");
  await transition(tx, { task: tc.task, orgId: tc.project.orgId, to: "OPEN", actor, claimedById: null, reason });
}

/** The claimer gives the task up (only while no verified work is waiting for payment). */
export async function unclaimTask(ctx: Ctx, principal: Principal | null, taskId: string): Promise<void> {
  const tc = await loadTask(ctx.db, principal, taskId);
  const p = principal!;
  requireWrite(p);
  const claim = await activeClaim(ctx.db, taskId);
  if (!claim || claim.userId !== p.userId) throw forbidden("Only the claimer can give this task up.");
  if (tc.task.status !== "CLAIMED") {
    throw conflict("A task under verification or payment cannot be given up now.", "TASK_STATE_CONFLICT");
  }
  await ctx.db.transaction((tx) => endClaim(tx, tc, claim, "UNCLAIMED", { kind: "claimer", userId: p.userId }));
}

/** A reviewer (sponsor, maintainer, owner) takes a claim back and reopens the task. */
export async function releaseTask(ctx: Ctx, principal: Principal | null, taskId: string, reason?: string) {
  const tc = await loadTask(ctx.db, principal, taskId);
  await requireReviewer(ctx.db, principal!, tc.project);
  const claim = await activeClaim(ctx.db, taskId);
  if (!claim) throw conflict("The task has no claim to release.", "TASK_STATE_CONFLICT");
  const why = reason?.trim().slice(0, 500) || "released by a reviewer";
  await ctx.db.transaction((tx) =>
    endClaim(tx, tc, claim, "RELEASED", { kind: "reviewer", userId: principal!.userId }, why),
  );
}

/** What a claimer links: a pull request URL, or a git URL with a branch and, optionally, the exact commit. */
export const LinkWorkRequest = z
  .object({
    prUrl: z.string().trim().max(500).optional(),
    repoUrl: z.string().trim().max(500).optional(),
    branch: z.string().trim().max(200).optional(),
    commit: z
      .string()
      .trim()
      .regex(/^[0-9a-f]{40}$/, "Give the full 40-character commit hash.")
      .optional(),
  })
  .strict()
  .refine((v) => !!v.prUrl || !!v.branch, { message: "Give a pull request URL or a branch.", path: ["prUrl"] });
export type LinkWorkRequest = z.infer<typeof LinkWorkRequest>;

/** Checks a URL a web user gave before git reaches it (same rules as the project's repository URL). */
export type UrlGuard = (url: string) => Promise<void>;

/**
 * Links work to the caller's claim and queues its verification (idempotent on task and commit). The remote is
 * read with git first: reachable, same repository or a fork, the commit on the branch and newer than the claim.
 */
export async function linkWork(
  ctx: Ctx,
  principal: Principal | null,
  taskId: string,
  input: unknown,
  opts: { guardUrl?: UrlGuard } = {},
): Promise<{ link: TaskWorkLink; verification: TaskVerification }> {
  const tc = await loadTask(ctx.db, principal, taskId);
  const p = principal!;
  requireWrite(p);
  const parsed = LinkWorkRequest.safeParse(input);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  const claim = await activeClaim(ctx.db, taskId);
  if (!claim || claim.userId !== p.userId) throw forbidden("Only the claimer can link work to this task.");
  if (tc.task.status === "PAYING" || tc.task.status === "PAID") {
    throw conflict("This task's payment is under way; new work cannot be linked.", "TASK_STATE_CONFLICT");
  }
  const projectRepo = tc.project.repoUrl;
  if (!projectRepo) throw conflict("The project has no repository.", "TASK_STATE_CONFLICT");
  const v = parsed.data;
  let kind: TaskWorkLink["kind"] = "branch";
  let workRepo = v.repoUrl || projectRepo;
  let ref = v.branch ?? "";
  if (v.prUrl) {
    const pr = parsePullRequestUrl(v.prUrl);
    if (!pr) throw invalidInput({ prUrl: "That is not a pull request URL (…/owner/repo/pull/123)." });
    if (sameRepo(pr.repoUrl, projectRepo) === false) {
      throw invalidInput({ prUrl: "That pull request belongs to another repository." });
    }
    kind = "pull_request";
    workRepo = projectRepo;
    ref = `refs/pull/${pr.number}/head`;
  }
  if (workRepo !== projectRepo) await opts.guardUrl?.(workRepo);
  const checked = await checkWork({
    projectRepoUrl: projectRepo,
    workRepoUrl: workRepo,
    ref,
    commit: v.commit,
    claimedAt: claim.claimedAt,
    // A private repository on GitHub is read with the App's token; only the project's own repository gets one.
    tokens: {
      project: await projectGitToken(ctx, tc.project.id, projectRepo),
      work: await projectGitToken(ctx, tc.project.id, workRepo),
    },
  }).catch(async (err) => {
    // A claimer who has not accepted the repository invitation could not push: say that, with where to accept it.
    const invite = err instanceof AppError && err.status === 422 ? await pendingInvite(ctx, taskId, p.userId) : null;
    throw invite ? invitePending(invite) : err;
  });
  const { link, verification, queued } = await ctx.db.transaction(async (tx) => {
    const [link] = await tx
      .insert(taskWorkLinks)
      .values({
        taskId,
        claimId: claim.id,
        kind,
        url: v.prUrl ?? null,
        repoUrl: workRepo,
        branch: checked.branch,
        commit: checked.commit,
        committedAt: checked.committedAt,
      })
      .returning();
    await emitTaskEvent(tx, "task.work_linked", {
      taskId,
      projectId: tc.project.id,
      orgId: tc.project.orgId,
      title: tc.task.title,
      actorId: p.userId,
      claimerId: p.userId,
      commit: checked.commit,
    });
    const r = await startVerification(tx, tc, claim, link!, { kind: "claimer", userId: p.userId }, false);
    return { link: link!, ...r };
  });
  if (queued) await queue(ctx, verification, tc.project);
  return { link, verification };
}

/** Runs the verification of the latest linked commit again (a flaky tool, a fixed sandbox). */
export async function verifyAgain(ctx: Ctx, principal: Principal | null, taskId: string): Promise<TaskVerification> {
  const tc = await loadTask(ctx.db, principal, taskId);
  const p = principal!;
  requireWrite(p);
  const claim = await activeClaim(ctx.db, taskId);
  const reviewer = can(await roleIn(ctx.db, p, tc.project.orgId), "task.review");
  if (!claim || (claim.userId !== p.userId && !reviewer)) {
    throw forbidden("Only the claimer or a reviewer can verify this task again.");
  }
  const [link] = await ctx.db
    .select()
    .from(taskWorkLinks)
    .where(eq(taskWorkLinks.claimId, claim.id))
    .orderBy(desc(taskWorkLinks.createdAt))
    .limit(1);
  if (!link) throw conflict("Link your work first.", "TASK_STATE_CONFLICT");
  const actor =
    claim.userId === p.userId ? ({ kind: "claimer", userId: p.userId } as const) : ({ kind: "system" } as const);
  const { verification, queued } = await ctx.db.transaction((tx) =>
    startVerification(tx, tc, claim, link, actor, true),
  );
  if (queued) await queue(ctx, verification, tc.project);
  return verification;
}

/** The run belongs to the project's org: its members read it at /api/runs/:id. */
const scopeOf = (project: Pick<Project, "id" | "orgId">) => ({ orgId: project.orgId, projectId: project.id });

async function queue(ctx: Ctx, v: TaskVerification, project: Pick<Project, "id" | "orgId">) {
  await ctx.jobs.enqueue(
    VERIFY_JOB,
    { verificationId: v.id },
    { key: `${VERIFY_JOB}:${v.taskId}:${v.commit}:${v.attempt}`, scope: scopeOf(project) },
  );
}

/**
 * Stores a verification of the link's commit and moves the task to VERIFYING. The same commit linked twice is
 * verified once, unless `again` asks for another attempt.
 */
async function startVerification(
  tx: Q,
  tc: { task: Task; project: Project },
  claim: TaskClaim,
  link: TaskWorkLink,
  actor: Parameters<typeof transition>[1]["actor"],
  again: boolean,
): Promise<{ verification: TaskVerification; queued: boolean }> {
  const [last] = await tx
    .select()
    .from(taskVerifications)
    .where(and(eq(taskVerifications.taskId, tc.task.id), eq(taskVerifications.commit, link.commit)))
    .orderBy(desc(taskVerifications.attempt))
    .limit(1);
  const latest = await latestVerification(tx, tc.task.id);
  if (last && !again && latest?.id === last.id) return { verification: last, queued: false };
  if (last && (last.status === "QUEUED" || last.status === "RUNNING") && latest?.id === last.id) {
    return { verification: last, queued: false };
  }
  const [verification] = await tx
    .insert(taskVerifications)
    .values({
      taskId: tc.task.id,
      claimId: claim.id,
      workLinkId: link.id,
      commit: link.commit,
      attempt: (last?.attempt ?? 0) + 1,
    })
    .returning();
  if (tc.task.status !== "VERIFYING") {
    const [fresh] = await tx.select().from(tasks).where(eq(tasks.id, tc.task.id));
    await transition(tx, {
      task: fresh!,
      orgId: tc.project.orgId,
      to: "VERIFYING",
      actor,
      data: { commit: link.commit, verificationId: verification!.id },
    });
  }
  return { verification: verification!, queued: true };
}

/** The newest verification of a task: the one whose verdict decides. */
export async function latestVerification(db: Q, taskId: string): Promise<TaskVerification | undefined> {
  const [v] = await db
    .select()
    .from(taskVerifications)
    .where(eq(taskVerifications.taskId, taskId))
    .orderBy(desc(taskVerifications.createdAt), desc(taskVerifications.attempt))
    .limit(1);
  return v;
}

/** Two repository URLs name the same repository (case and a trailing .git aside); null when unsure. */
function sameRepo(a: string, b: string): boolean | null {
  const norm = (u: string) =>
    u
      .trim()
      .toLowerCase()
      .replace(/\/+$/, "")
      .replace(/\.git$/, "");
  if (!/^https?:\/\//i.test(a) || !/^https?:\/\//i.test(b)) return null;
  return norm(a) === norm(b);
}

/** A reviewer approves a verified task of a project that reviews payouts: the payment starts. */
export async function approvePayout(ctx: Ctx, principal: Principal | null, taskId: string): Promise<void> {
  const tc = await loadTask(ctx.db, principal, taskId);
  await requireReviewer(ctx.db, principal!, tc.project);
  const latest = await reviewable(ctx.db, tc);
  const blocked = approvalBlocked(latest);
  if (blocked) throw conflict(blocked, "REPORT_NOT_SIGNED");
  await startPayout(ctx, tc, latest, { kind: "reviewer", userId: principal!.userId });
}

/**
 * The passed verification a reviewer decides on. Only projects that review payouts have a human step: without
 * review the verdict pays, and a reviewer may neither hold it back nor send the work back.
 */
async function reviewable(db: Db, tc: TaskContext): Promise<TaskVerification> {
  const latest = await latestVerification(db, tc.task.id);
  // A flaky verdict waits for a reviewer on every project; a passed one only where the project reviews payouts.
  if (tc.task.status === "VERIFIED" && latest?.status === "FLAKY") return latest;
  if (!tc.project.payoutReview) {
    throw conflict("This project pays verified work without a review.", "TASK_STATE_CONFLICT");
  }
  if (tc.task.status !== "VERIFIED" || latest?.status !== "PASSED") {
    throw conflict("Only a verified task can be reviewed.", "TASK_STATE_CONFLICT");
  }
  return latest;
}

/**
 * Why a reviewer cannot approve this verification for payment, or null when they can: a flaky verdict pays only
 * when the harness signed its report (the task's rule held in every run).
 */
export function approvalBlocked(v: Pick<TaskVerification, "status" | "signedReport"> | undefined): string | null {
  if (v?.status === "FLAKY" && !v.signedReport) {
    return "The harness did not sign this report: the acceptance rule did not hold in every run, so it cannot be paid. Verify again or send the work back.";
  }
  return null;
}

/** A reviewer sends verified work back to the claimer with a comment. */
export async function rejectPayout(ctx: Ctx, principal: Principal | null, taskId: string, comment: string) {
  const tc = await loadTask(ctx.db, principal, taskId);
  await requireReviewer(ctx.db, principal!, tc.project);
  const why = comment?.trim().slice(0, 2000);
  if (!why) throw invalidInput({ comment: "Say what should change." });
  await reviewable(ctx.db, tc);
  await ctx.db.transaction((tx) =>
    transition(tx, {
      task: tc.task,
      orgId: tc.project.orgId,
      to: "CLAIMED",
      actor: { kind: "reviewer", userId: principal!.userId },
      reason: why,
    }),
  );
}

/** VERIFIED → PAYING and the payout jobs for the stored verification. */
export async function startPayout(
  ctx: Ctx,
  tc: { task: Task; project: Project },
  verification: TaskVerification,
  actor: Parameters<typeof transition>[1]["actor"],
) {
  await ctx.db.transaction(async (tx) => {
    const [fresh] = await tx.select().from(tasks).where(eq(tasks.id, tc.task.id));
    await transition(tx, {
      task: fresh!,
      orgId: tc.project.orgId,
      to: "PAYING",
      actor,
      data: { verificationId: verification.id },
    });
  });
  await ctx.jobs.enqueue(
    PAYOUT_JOB,
    { verificationId: verification.id },
    { key: `${PAYOUT_JOB}:${verification.id}`, scope: scopeOf(tc.project) },
  );
}

/**
 * Records a verification's outcome (the verification job calls it): FAILED/ERROR send the task back to CLAIMED
 * with the reason; PASSED makes it VERIFIED and, unless the project reviews payouts, starts the payment; FLAKY
 * makes it VERIFIED waiting for a reviewer's decision (approve, reject or verify again), never paid by itself.
 * The harness writes the named results, regressions, flaky tests and signed report on the row before it calls.
 * An outcome for a commit that is no longer the latest is stored but decides nothing.
 */
export async function recordVerdict(
  ctx: Ctx,
  verificationId: string,
  outcome: Pick<
    TaskVerification,
    "status" | "reportHash" | "digest" | "tests" | "passedCount" | "failedCount" | "reason"
  >,
): Promise<void> {
  // The verdict and the task's move commit together: nobody sees a finished verification on a task still VERIFYING.
  const pay = await ctx.db.transaction(async (tx) => {
    const [v] = await tx
      .update(taskVerifications)
      .set({ ...outcome, finishedAt: new Date() })
      .where(eq(taskVerifications.id, verificationId))
      .returning();
    if (!v) return null;
    const latest = await latestVerification(tx, v.taskId);
    if (latest?.id !== v.id) return null;
    const [row] = await tx
      .select({ task: tasks, project: projects })
      .from(tasks)
      .innerJoin(projects, eq(projects.id, tasks.projectId))
      .where(eq(tasks.id, v.taskId));
    if (row?.task.status !== "VERIFYING") return null;
    const passed = outcome.status === "PASSED";
    const flaky = outcome.status === "FLAKY";
    const flakyTests = (v.flaky ?? []).slice(0, 10).join(", ");
    await transition(tx, {
      task: row.task,
      orgId: row.project.orgId,
      to: passed || flaky ? "VERIFIED" : "CLAIMED",
      actor: { kind: "system" },
      event: flaky ? "task.flaky" : undefined,
      reason: passed
        ? undefined
        : flaky
          ? `flaky: ${outcome.reason ?? (flakyTests || "tests changed verdict between runs")}`.slice(0, 1000)
          : (outcome.reason ?? outcome.status),
      data: { verificationId, commit: v.commit, status: outcome.status },
    });
    return passed && !row.project.payoutReview ? { v, project: row.project } : null;
  });
  if (pay) {
    const [fresh] = await ctx.db.select().from(tasks).where(eq(tasks.id, pay.v.taskId));
    await startPayout(ctx, { task: fresh!, project: pay.project }, pay.v, { kind: "system" });
  }
}

/**
 * The payout of a task finished (the payments domain calls it inside its transaction): PAYING → PAID, the claim
 * is done, and the project is COMPLETED when this was its last unpaid task.
 */
export async function markTaskPaid(tx: Q, taskId: string, data: Record<string, unknown>): Promise<void> {
  const [row] = await tx
    .select({ task: tasks, orgId: projects.orgId })
    .from(tasks)
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(eq(tasks.id, taskId));
  if (!row || row.task.status === "PAID") return;
  if (row.task.status === "PAYING") {
    await transition(tx, { task: row.task, orgId: row.orgId, to: "PAID", actor: { kind: "system" }, data });
  } else {
    // Found paid on chain by the event sync while the database still had it elsewhere: record the truth.
    await tx.update(tasks).set({ status: "PAID", updatedAt: new Date() }).where(eq(tasks.id, taskId));
    await emitTaskEvent(tx, "task.paid", {
      taskId,
      projectId: row.task.projectId,
      orgId: row.orgId,
      title: row.task.title,
      actorId: null,
      claimerId: row.task.claimedById,
      ...data,
    });
  }
  await tx
    .update(taskClaims)
    .set({ state: "PAID", endedAt: new Date() })
    .where(and(eq(taskClaims.taskId, taskId), eq(taskClaims.state, "ACTIVE")));
  const [left] = await tx
    .select({ n: count() })
    .from(tasks)
    .where(and(eq(tasks.projectId, row.task.projectId), sql`${tasks.status} <> 'PAID'`));
  if ((left?.n ?? 0) === 0) await setProjectState(tx as Db, row.task.projectId, "COMPLETED");
}

/** A payment the contract refused for good: PAYING → VERIFIED with the reason, for people to act on. */
export async function markPaymentFailed(db: Db, taskId: string, reason: string): Promise<void> {
  const [row] = await db
    .select({ task: tasks, orgId: projects.orgId })
    .from(tasks)
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(eq(tasks.id, taskId));
  if (row?.task.status !== "PAYING") return;
  await db.transaction((tx) =>
    transition(tx, { task: row.task, orgId: row.orgId, to: "VERIFIED", actor: { kind: "system" }, reason }),
  );
}

/** Claims without linked work past their deadline end; those two days from it are warned once. */
export async function expireClaims(ctx: Ctx, now = new Date()): Promise<{ expired: number; warned: number }> {
  const unlinked = sql`not exists (select 1 from ${taskWorkLinks} where ${taskWorkLinks.claimId} = ${taskClaims.id})`;
  const due = await ctx.db
    .select()
    .from(taskClaims)
    .where(and(eq(taskClaims.state, "ACTIVE"), lt(taskClaims.expiresAt, now), unlinked))
    .limit(500);
  let expired = 0;
  for (const claim of due) {
    const [row] = await ctx.db
      .select({ task: tasks, project: projects })
      .from(tasks)
      .innerJoin(projects, eq(projects.id, tasks.projectId))
      .where(eq(tasks.id, claim.taskId));
    if (row?.task.status !== "CLAIMED") continue;
    await ctx.db
      .transaction((tx) => endClaim(tx, row, claim, "EXPIRED", { kind: "system" }, "no work was linked in time"))
      .then(() => expired++)
      .catch((err) => ctx.log.warn("claim expiry skipped", { claimId: claim.id, error: (err as Error).message }));
  }
  const soon = new Date(now.getTime() + 2 * 86_400_000);
  const warn = await ctx.db
    .select({ claim: taskClaims, task: tasks, orgId: projects.orgId })
    .from(taskClaims)
    .innerJoin(tasks, eq(tasks.id, taskClaims.taskId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(and(eq(taskClaims.state, "ACTIVE"), isNull(taskClaims.warnedAt), lt(taskClaims.expiresAt, soon), unlinked))
    .limit(500);
  for (const w of warn) {
    await ctx.db.transaction(async (tx) => {
      await tx.update(taskClaims).set({ warnedAt: now }).where(eq(taskClaims.id, w.claim.id));
      await emitTaskEvent(tx, "task.claim_expiring", {
        taskId: w.task.id,
        projectId: w.task.projectId,
        orgId: w.orgId,
        title: w.task.title,
        actorId: null,
        claimerId: w.claim.userId,
        reason: `Link your work before ${w.claim.expiresAt.toISOString().slice(0, 16).replace("T", " ")} UTC or the claim ends.`,
      });
    });
  }
  return { expired, warned: warn.length };
}

/** Everything the task page and the workbench show. */
export interface TaskDetail extends TaskContext {
  claim: (TaskClaim & { userName: string }) | null;
  links: TaskWorkLink[];
  verifications: TaskVerification[];
  payment: {
    status: string;
    txHash: string | null;
    amount: string;
    fee: string | null;
    releasedAt: Date | null;
    blockNumber: number | null;
  } | null;
  /** The task's acceptance tests and pin as the caller may see them (a hidden bundle's files only for reviewers). */
  acceptance: AcceptanceView;
  /** Why the reviewer's approve button cannot pay (an unsigned flaky report), when it cannot. */
  approveBlocked: string | null;
  /** The latest payout proof of the task: the Groth16 proof of the stored report, bound to task, payee and amount. */
  proof: { id: string; status: string; createdAt: Date } | null;
  /** What the caller may do now. */
  actions: {
    claim: boolean;
    unclaim: boolean;
    link: boolean;
    verifyAgain: boolean;
    release: boolean;
    review: boolean;
  };
  isClaimer: boolean;
  hasPayoutWallet: boolean;
}

/** Loads a task with its claim, work, verifications and payment, and what the caller may do with it. */
export async function taskDetail(db: Db, principal: Principal | null, taskId: string): Promise<TaskDetail> {
  const tc = await loadTask(db, principal, taskId);
  const p = principal!;
  const [claimRow] = await db
    .select({ claim: taskClaims, userName: users.name })
    .from(taskClaims)
    .innerJoin(users, eq(users.id, taskClaims.userId))
    .where(and(eq(taskClaims.taskId, taskId), inArray(taskClaims.state, ["ACTIVE", "PAID"])))
    .orderBy(desc(taskClaims.claimedAt))
    .limit(1);
  const claim = claimRow ? { ...claimRow.claim, userName: claimRow.userName } : null;
  const [links, verifications, paymentRows, proofRows, role, wallet] = await Promise.all([
    claim
      ? db.select().from(taskWorkLinks).where(eq(taskWorkLinks.claimId, claim.id)).orderBy(asc(taskWorkLinks.createdAt))
      : Promise.resolve([] as TaskWorkLink[]),
    claim
      ? db
          .select()
          .from(taskVerifications)
          .where(eq(taskVerifications.claimId, claim.id))
          .orderBy(asc(taskVerifications.createdAt))
      : Promise.resolve([] as TaskVerification[]),
    db
      .select({
        status: payments.status,
        txHash: payments.txHash,
        amount: payments.amount,
        fee: payments.fee,
        releasedAt: payments.releasedAt,
        blockNumber: payments.blockNumber,
      })
      .from(payments)
      .where(eq(payments.taskId, taskId))
      .limit(1),
    db
      .select({ id: zkProofs.id, status: zkProofs.status, createdAt: zkProofs.createdAt })
      .from(zkProofs)
      .where(eq(zkProofs.taskId, taskId))
      .orderBy(desc(zkProofs.createdAt))
      .limit(1),
    roleIn(db, p, tc.project.orgId),
    payoutWallet(db, p.userId),
  ]);
  const isClaimer = claim?.state === "ACTIVE" && claim.userId === p.userId;
  const reviewer = can(role, "task.review");
  const status = tc.task.status;
  const latest = verifications.at(-1);
  const acceptance = await acceptanceView(db, tc.task, tc.project, role);
  const claimable =
    status === "OPEN" &&
    tc.project.state === "ACTIVE" &&
    (tc.project.repoVisibility === "PUBLIC" || can(role, "task.claim"));
  return {
    ...tc,
    claim,
    links,
    verifications,
    payment: paymentRows[0] ?? null,
    proof: proofRows[0] ?? null,
    acceptance,
    approveBlocked: approvalBlocked(latest),
    isClaimer,
    hasPayoutWallet: !!wallet,
    actions: {
      claim: claimable,
      unclaim: isClaimer && status === "CLAIMED",
      link: isClaimer && (status === "CLAIMED" || status === "VERIFYING" || status === "VERIFIED"),
      verifyAgain: (isClaimer || (reviewer && !!claim)) && links.length > 0 && status !== "PAYING" && status !== "PAID",
      release: reviewer && claim?.state === "ACTIVE" && status !== "PAYING" && status !== "PAID",
      review:
        reviewer &&
        status === "VERIFIED" &&
        ((tc.project.payoutReview && latest?.status === "PASSED") || latest?.status === "FLAKY"),
    },
  };
}

/** A task as the JSON API returns it. */
export function taskJson(t: Task) {
  return {
    id: t.id,
    projectId: t.projectId,
    milestoneId: t.milestoneId,
    title: t.title,
    description: t.description,
    points: t.points,
    status: t.status,
    payoutAmount: t.payoutAmount,
    acceptanceCriteria: t.acceptanceCriteria,
    verification: t.verification,
    acceptancePin: t.acceptancePin,
    claimedById: t.claimedById,
  };
}

/** The caller's claims (open first, then finished), with their task and project. */
export async function myTasks(db: Db, principal: Principal | null) {
  if (!principal) throw unauthorized();
  return db
    .select({
      claim: taskClaims,
      task: tasks,
      projectTitle: projects.title,
      tokenSymbol: projects.tokenSymbol,
      tokenDecimals: projects.tokenDecimals,
    })
    .from(taskClaims)
    .innerJoin(tasks, eq(tasks.id, taskClaims.taskId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(eq(taskClaims.userId, principal.userId))
    .orderBy(sql`${taskClaims.state} = 'ACTIVE' desc`, desc(taskClaims.claimedAt))
    .limit(200);
}

/** One payment the caller received. */
export interface Earning {
  taskId: string;
  taskTitle: string;
  projectTitle: string;
  amount: string;
  fee: string | null;
  token: string;
  tokenDecimals: number;
  txHash: string | null;
  proofId: string | null;
  paidAt: Date | null;
}

/** Payments received by the caller (completed payouts to their claims), newest first. */
export async function earnings(db: Db, principal: Principal | null): Promise<Earning[]> {
  if (!principal) throw unauthorized();
  const rows = await db
    .select({
      taskId: tasks.id,
      taskTitle: tasks.title,
      projectTitle: projects.title,
      amount: payments.amount,
      fee: payments.fee,
      tokenSymbol: projects.tokenSymbol,
      tokenDecimals: projects.tokenDecimals,
      txHash: payments.txHash,
      proofId: payments.proofId,
      paidAt: payments.releasedAt,
    })
    .from(payments)
    .innerJoin(tasks, eq(tasks.id, payments.taskId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .innerJoin(
      taskClaims,
      and(eq(taskClaims.taskId, tasks.id), eq(taskClaims.state, "PAID"), eq(taskClaims.userId, principal.userId)),
    )
    .where(eq(payments.status, "COMPLETED"))
    .orderBy(desc(payments.releasedAt))
    .limit(500);
  return rows.map((r) => ({
    taskId: r.taskId,
    taskTitle: r.taskTitle,
    projectTitle: r.projectTitle,
    amount: r.amount,
    fee: r.fee,
    token: r.tokenSymbol ?? "ETH",
    tokenDecimals: r.tokenDecimals,
    txHash: r.txHash,
    proofId: r.proofId,
    paidAt: r.paidAt,
  }));
}

/** Tasks of a project with their claimer, for the project page. */
export async function projectTasks(db: Db, principal: Principal | null, projectId: string) {
  const project = await loadProject(db, principal, projectId, "project.view");
  const rows = await db
    .select({ task: tasks, milestoneTitle: milestones.title, claimer: users.name })
    .from(tasks)
    .innerJoin(milestones, eq(milestones.id, tasks.milestoneId))
    .leftJoin(users, eq(users.id, tasks.claimedById))
    .where(eq(tasks.projectId, project.id))
    .orderBy(asc(milestones.position), asc(tasks.position));
  return { project, tasks: rows };
}

/** The project's payments with their transactions, and what is left in escrow for unpaid tasks. */
export async function projectPayments(db: Db, projectId: string, totalTokenAmount: string | null) {
  const rows = await db
    .select({
      taskTitle: tasks.title,
      amount: payments.amount,
      txHash: payments.txHash,
      status: payments.status,
    })
    .from(payments)
    .innerJoin(tasks, eq(tasks.id, payments.taskId))
    .where(eq(tasks.projectId, projectId))
    .orderBy(desc(payments.createdAt));
  const paid = rows.filter((r) => r.status === "COMPLETED").reduce((a, r) => a + BigInt(r.amount), 0n);
  const remaining = totalTokenAmount === null ? null : (BigInt(totalTokenAmount) - paid).toString();
  return { payments: rows, remaining };
}

/**
 * Picks up work a crash left between two steps (the state committed, the job not yet queued): verifications still
 * QUEUED, verified tasks of projects without review, and payouts started. Every enqueue is keyed, so a job that
 * exists already is not queued twice.
 */
export async function resumeTasks(ctx: Ctx): Promise<{ verifications: number; payouts: number }> {
  const stuck = await ctx.db
    .select({ task: tasks, project: projects })
    .from(tasks)
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(inArray(tasks.status, ["VERIFYING", "VERIFIED", "PAYING"]))
    .limit(500);
  let verifications = 0;
  let payouts = 0;
  for (const { task, project } of stuck) {
    const v = await latestVerification(ctx.db, task.id);
    if (!v) continue;
    if (task.status === "VERIFYING" && v.status === "QUEUED") {
      await queue(ctx, v, project);
      verifications++;
    } else if (task.status === "PAYING" && v.status === "PASSED") {
      await ctx.jobs.enqueue(
        PAYOUT_JOB,
        { verificationId: v.id },
        { key: `${PAYOUT_JOB}:${v.id}`, scope: scopeOf(project) },
      );
      payouts++;
    } else if (task.status === "VERIFIED" && v.status === "PASSED" && !project.payoutReview) {
      await startPayout(ctx, { task, project }, v, { kind: "system" }).catch((err) =>
        ctx.log.warn("payout not resumed", { taskId: task.id, error: (err as Error).message }),
      );
      payouts++;
    }
  }
  return { verifications, payouts };
}

/** The tasks domain's part of a user's data: their claims with the work they linked and its verdicts. */
export async function exportTaskData(db: Db, userId: string) {
  const claims = await db.select().from(taskClaims).where(eq(taskClaims.userId, userId));
  const ids = claims.map((c) => c.id);
  const [links, verdicts] = ids.length
    ? await Promise.all([
        db.select().from(taskWorkLinks).where(inArray(taskWorkLinks.claimId, ids)),
        db
          .select({
            claimId: taskVerifications.claimId,
            commit: taskVerifications.commit,
            status: taskVerifications.status,
            reason: taskVerifications.reason,
            createdAt: taskVerifications.createdAt,
          })
          .from(taskVerifications)
          .where(inArray(taskVerifications.claimId, ids)),
      ])
    : [[], []];
  return { claims, workLinks: links, verifications: verdicts };
}

/**
 * Erases a deleted user's task data: open claims end and their tasks reopen; claims that were never paid are
 * removed with their links. Paid claims stay, as the record of a payment made on chain.
 */
export async function eraseTaskData(tx: Db, userId: string) {
  const open = await tx
    .select({ claim: taskClaims, task: tasks })
    .from(taskClaims)
    .innerJoin(tasks, eq(tasks.id, taskClaims.taskId))
    .where(and(eq(taskClaims.userId, userId), eq(taskClaims.state, "ACTIVE")));
  for (const { task } of open) {
    if (task.status === "PAYING" || task.status === "PAID") continue;
    await tx
      .update(tasks)
      .set({ status: "OPEN", claimedById: null, updatedAt: new Date() })
      .where(eq(tasks.id, task.id));
  }
  await tx.delete(taskClaims).where(and(eq(taskClaims.userId, userId), sql`${taskClaims.state} <> 'PAID'`));
}
