// The funding tab's data (spec §3.1.6): what was deposited, released, is left and can be refunded, each with its
// transactions; the close and expiry state; the pending top-up; the series behind the charts. And "more points"
// for an open task of a funded project, which the next top-up quote pays for.
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { explorerTxUrl } from "../admin/service";
import { requireChain } from "../chain/service";
import type { AppContext, Principal } from "../core/context";
import type { Db } from "../core/db";
import { conflict, invalidInput } from "../core/errors";
import { milestones, type TaskStatus, tasks } from "../milestones/schema";
import { requireOrgRole } from "../orgs/permissions";
import { payments } from "../payments/schema";
import { loadProject } from "../projects/access";
import { type Project, projects } from "../projects/schema";
import { claimsStopped, fundingRow } from "./lifecycle";
import { type FundingRecord, fundingQuotes, fundingRecords, type ProjectFunding } from "./schema";
import { type QuoteView, quoteView } from "./service";
import { type DepositWallet, depositWallet } from "./wallet";
import { type YieldView, yieldView } from "./yield";

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain">;

/** One released payment of the project. */
export interface Release {
  taskId: string;
  taskTitle: string;
  amount: bigint;
  fee: bigint;
  txHash: string | null;
  at: Date | null;
}

/** Everything the funding tab shows. */
export interface FundingOverview {
  project: Project;
  canFund: boolean;
  row: ProjectFunding;
  deposits: FundingRecord[];
  releases: Release[];
  amounts: {
    deposited: bigint;
    released: bigint;
    refunded: bigint;
    /** In escrow now: deposited − released − refunded. */
    remaining: bigint;
    /** Promised to tasks someone works on (claimed, verifying, verified, paying): kept until they finish. */
    committed: bigint;
    /** What a close would send back now (remaining − committed at request time; all of it at close). */
    refundable: bigint;
  };
  /** Why claims are stopped, or null. */
  stopped: string | null;
  /** Closing: the delay has passed on chain, so "close and refund" can be sent. */
  closable: boolean;
  /** Past the expiry date: the unspent funds can be refunded at once. */
  expired: boolean;
  /** The chain's time (the dev chain can be ahead of the wall clock), when it could be read. */
  chainTime: Date | null;
  /** A top-up quote waiting for its deposit. */
  topUp: QuoteView | null;
  /** Tasks whose points can still be raised (OPEN). */
  openTasks: { id: string; title: string; points: number }[];
  taskStates: Record<TaskStatus, number>;
  yield: YieldView;
  devDeposit: boolean;
  /** The wallet top-ups come from (only for who may fund an active project). */
  wallet: DepositWallet | null;
  /** A transaction's page on the configured block explorer, or undefined when none is set. */
  txUrl: (hash: string | null) => string | undefined;
}

/** Loads the funding tab (GET /projects/:id/funding, GET /api/projects/:id/funding). */
export async function fundingOverview(ctx: Ctx, principal: Principal | null, projectId: string) {
  const project = await loadProject(ctx.db, principal, projectId, "project.view");
  const canFund = await requireOrgRole(ctx.db, principal!, project.orgId, "project.fund").then(
    () => true,
    () => false,
  );
  const row = await fundingRow(ctx.db, project.id);
  const [deposits, releaseRows, taskRows, [latest]] = await Promise.all([
    ctx.db
      .select()
      .from(fundingRecords)
      .where(eq(fundingRecords.projectId, project.id))
      .orderBy(asc(fundingRecords.createdAt)),
    ctx.db
      .select({
        taskId: tasks.id,
        taskTitle: tasks.title,
        amount: payments.amount,
        fee: payments.fee,
        txHash: payments.txHash,
        at: payments.releasedAt,
      })
      .from(payments)
      .innerJoin(tasks, eq(tasks.id, payments.taskId))
      .where(and(eq(tasks.projectId, project.id), eq(payments.status, "COMPLETED")))
      .orderBy(asc(payments.releasedAt)),
    ctx.db
      .select({
        id: tasks.id,
        title: tasks.title,
        points: tasks.points,
        status: tasks.status,
        payout: tasks.payoutAmount,
      })
      .from(tasks)
      .innerJoin(milestones, eq(milestones.id, tasks.milestoneId))
      .where(eq(milestones.projectId, project.id))
      .orderBy(milestones.position, tasks.position),
    ctx.db
      .select()
      .from(fundingQuotes)
      .where(eq(fundingQuotes.projectId, project.id))
      .orderBy(desc(fundingQuotes.createdAt))
      .limit(1),
  ]);
  const releases: Release[] = releaseRows.map((r) => ({
    ...r,
    amount: BigInt(r.amount),
    fee: BigInt(r.fee ?? "0"),
  }));
  const deposited = deposits.reduce((a, d) => a + BigInt(d.amount), 0n);
  const released = releases.reduce((a, r) => a + r.amount, 0n);
  const refunded = BigInt(row.refundAmount ?? "0");
  const remaining = row.closedAt ? 0n : deposited - released - refunded;
  const working = new Set<TaskStatus>(["CLAIMED", "VERIFYING", "VERIFIED", "PAYING"]);
  const committed = taskRows
    .filter((t) => working.has(t.status) && t.payout)
    .reduce((a, t) => a + BigInt(t.payout!), 0n);
  const taskStates = { OPEN: 0, CLAIMED: 0, VERIFYING: 0, VERIFIED: 0, PAYING: 0, PAID: 0 } as Record<
    TaskStatus,
    number
  >;
  for (const t of taskRows) taskStates[t.status]++;

  let chainTime: Date | null = null;
  try {
    const rt = await requireChain(ctx);
    const head = await rt.conn.publicClient.getBlock({ blockTag: "latest" });
    chainTime = new Date(Number(head.timestamp) * 1000);
  } catch {
    // no chain: the page shows what is recorded
  }
  const now = chainTime && chainTime > new Date() ? chainTime : new Date();
  const expired = !!row.expiresAt && row.expiresAt <= new Date() && !row.closedAt;
  const closable = !!row.closableAt && !row.closedAt && row.closableAt <= now;
  const refundable = row.closedAt
    ? 0n
    : closable || expired
      ? remaining
      : remaining > committed
        ? remaining - committed
        : 0n;
  const topUp =
    project.state === "ACTIVE" &&
    latest &&
    BigInt(latest.baseDeposited) > 0n &&
    latest.expiresAt > new Date() &&
    deposited < BigInt(latest.baseDeposited) + BigInt(latest.amount)
      ? quoteView(latest)
      : null;
  const devToken = ctx.chain?.deployment?.dev?.token?.toLowerCase();
  return {
    project,
    canFund,
    row,
    deposits,
    releases,
    amounts: { deposited, released, refunded, remaining, committed, refundable },
    stopped: claimsStopped(row),
    closable,
    expired,
    chainTime,
    topUp,
    openTasks: taskRows.filter((t) => t.status === "OPEN").map((t) => ({ id: t.id, title: t.title, points: t.points })),
    taskStates,
    yield: await yieldView(ctx, project),
    wallet: canFund && project.state === "ACTIVE" ? await depositWallet(ctx, principal!, project.id) : null,
    txUrl: (hash: string | null) => explorerTxUrl(ctx, hash),
    devDeposit:
      ctx.settings.get("chain.mode") === "dev" &&
      (!project.tokenAddress || project.tokenAddress.toLowerCase() === devToken),
  } satisfies FundingOverview;
}

/**
 * Raises an open task's points on a funded project (POST /api/tasks/:id/points): the milestone's and project's
 * totals follow, and the next quote is a top-up that pays for them. Only while nobody has claimed the task.
 */
export async function raiseTaskPoints(
  ctx: Pick<AppContext, "db">,
  principal: Principal | null,
  taskId: string,
  points: number,
) {
  if (!Number.isInteger(points) || points < 1 || points > 10_000) throw invalidInput({ points: "must be 1 to 10,000" });
  const [task] = await ctx.db.select().from(tasks).where(eq(tasks.id, taskId));
  if (!task) throw invalidInput({ taskId: "no such task" });
  const project = await loadProject(ctx.db, principal, task.projectId, "project.fund");
  if (project.state !== "ACTIVE") throw conflict("Points are raised on a funded project; a draft's tasks are edited.");
  const row = await fundingRow(ctx.db, project.id);
  const why = claimsStopped(row);
  if (why) throw conflict(why, "PROJECT_CLOSING");
  return ctx.db.transaction(async (tx) => {
    const [t] = await (tx as Db).select().from(tasks).where(eq(tasks.id, taskId)).for("update");
    if (t?.status !== "OPEN") throw conflict("Only an open task's points can be raised.", "TASK_STATE_CONFLICT");
    if (points <= t.points) throw invalidInput({ points: `must be more than ${t.points}` });
    const delta = points - t.points;
    await tx.update(tasks).set({ points, updatedAt: new Date() }).where(eq(tasks.id, t.id));
    await tx
      .update(milestones)
      .set({ points: sql`${milestones.points} + ${delta}`, updatedAt: new Date() })
      .where(eq(milestones.id, t.milestoneId));
    await tx
      .update(projects)
      .set({ totalPoints: sql`${projects.totalPoints} + ${delta}`, updatedAt: new Date() })
      .where(inArray(projects.id, [project.id]));
    return { taskId: t.id, points, projectId: project.id };
  });
}
