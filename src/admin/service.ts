// The admin console's rules: background jobs and cron, payments, the escrow's fees and the doctor. Every function
// checks that the caller is a platform admin first, so a route that forgot to still refuses everyone else.
import { and, count, desc, eq, inArray, sql } from "drizzle-orm";
import { type Address, erc20Abi, getAddress, type Hex, parseEventLogs, zeroAddress } from "viem";
import { audit } from "../audit/service";
import { auditLog } from "../audit/schema";
import { ProjectEscrow } from "../chain/contracts.gen";
import { requireChain } from "../chain/service";
import { type AppContext, type Principal, requireAdmin } from "../core/context";
import { AppError, conflict, invalidInput, notFound, unavailable } from "../core/errors";
import type { CronEntryInfo } from "../core/jobs";
import { publicRun } from "../core/jobs/routes";
import { JOB_STATES, type JobState, jobs } from "../core/jobs/schema";
import { runChecks } from "../doctor/checks";
import { tasks } from "../milestones/schema";
import { payments } from "../payments/schema";
import type { PaymentStatus } from "../payments/schema";
import { projects } from "../projects/schema";

type Ctx = Pick<
  AppContext,
  "db" | "database" | "jobs" | "cron" | "settings" | "chain" | "openChain" | "payments" | "log"
>;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// ---------------------------------------------------------------------------------------------------------------
// Jobs and cron

/** How many jobs of each name are in each state, and the failed and dead ones with their errors. */
export async function jobsOverview(ctx: Ctx, principal: Principal | null, opts: { limit?: number } = {}) {
  requireAdmin(principal);
  const rows = await ctx.db
    .select({ name: jobs.name, state: jobs.state, n: count() })
    .from(jobs)
    .groupBy(jobs.name, jobs.state)
    .orderBy(jobs.name);
  const byName = new Map<string, Record<JobState, number>>();
  const totals = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
  for (const r of rows) {
    let counts = byName.get(r.name);
    if (!counts) {
      counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
      byName.set(r.name, counts);
    }
    counts[r.state] = r.n;
    totals[r.state] += r.n;
  }
  const failing = await ctx.jobs.list({ state: "dead", limit: opts.limit ?? 100 });
  const waiting = await ctx.jobs.list({ state: "failed", limit: opts.limit ?? 100 });
  return {
    totals,
    byName: [...byName.entries()].map(([name, counts]) => ({ name, counts })),
    dead: failing.map(publicRun),
    failed: waiting.map(publicRun),
  };
}

/** Recent jobs, newest first, optionally of one state and name. */
export async function listJobs(
  ctx: Ctx,
  principal: Principal | null,
  filter: { state?: JobState; name?: string; limit?: number } = {},
) {
  requireAdmin(principal);
  return (await ctx.jobs.list(filter)).map(publicRun);
}

/** Runs one dead (or retry-waiting) job again now. */
export async function retryJob(ctx: Ctx, principal: Principal | null, jobId: string) {
  const p = requireAdmin(principal);
  const job = await ctx.jobs.retry(jobId);
  await audit(ctx.db, {
    actorId: p.userId,
    action: "job.retry",
    targetType: "job",
    targetId: job.id,
    payload: { name: job.name },
  });
  return publicRun(job);
}

/** Runs every dead and retry-waiting job again now (up to 1,000 at a time); returns how many. */
export async function retryFailedJobs(ctx: Ctx, principal: Principal | null, opts: { name?: string } = {}) {
  const p = requireAdmin(principal);
  const where = opts.name
    ? and(inArray(jobs.state, ["dead", "failed"]), eq(jobs.name, opts.name))
    : inArray(jobs.state, ["dead", "failed"]);
  const rows = await ctx.db.select({ id: jobs.id }).from(jobs).where(where).orderBy(jobs.createdAt).limit(1000);
  let retried = 0;
  for (const r of rows) {
    try {
      await ctx.jobs.retry(r.id);
      retried++;
    } catch (err) {
      // picked up meanwhile (a worker retried it on schedule): nothing to do for this one
      if (!(err instanceof AppError && err.code === "CONFLICT")) throw err;
    }
  }
  await audit(ctx.db, {
    actorId: p.userId,
    action: "job.retry-all",
    targetType: "job",
    targetId: null,
    payload: { retried, ...(opts.name ? { name: opts.name } : {}) },
  });
  return { retried };
}

/** Deletes a dead or retry-waiting job (and its stored events): it never runs again. */
export async function discardJob(ctx: Ctx, principal: Principal | null, jobId: string) {
  const p = requireAdmin(principal);
  if (!UUID.test(jobId)) throw notFound("Job");
  const [row] = await ctx.db
    .delete(jobs)
    .where(and(eq(jobs.id, jobId), inArray(jobs.state, ["dead", "failed"])))
    .returning({ id: jobs.id, name: jobs.name });
  if (!row) {
    const job = await ctx.jobs.get(jobId);
    if (!job) throw notFound("Job");
    throw conflict(`The job is ${job.state}; only dead or failed jobs can be discarded.`);
  }
  await audit(ctx.db, {
    actorId: p.userId,
    action: "job.discard",
    targetType: "job",
    targetId: row.id,
    payload: { name: row.name },
  });
  return { discarded: row.id };
}

/** Cron entries with their schedule, next tick, and the job their latest tick made (with its result). */
export async function cronEntries(ctx: Ctx, principal: Principal | null) {
  requireAdmin(principal);
  const entries: CronEntryInfo[] = await ctx.cron.list();
  const ids = entries.map((e) => e.previousJob?.id).filter((id): id is string => !!id);
  const lastErrors = new Map<string, { lastError: string | null; finishedAt: Date | null }>();
  if (ids.length) {
    for (const r of await ctx.db
      .select({ id: jobs.id, lastError: jobs.lastError, finishedAt: jobs.finishedAt })
      .from(jobs)
      .where(inArray(jobs.id, ids))) {
      lastErrors.set(r.id, { lastError: r.lastError, finishedAt: r.finishedAt });
    }
  }
  return entries
    .map((e) => ({
      ...e,
      previousJob: e.previousJob ? { ...e.previousJob, ...(lastErrors.get(e.previousJob.id) ?? {}) } : null,
    }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** Enqueues a cron entry's job now, outside its schedule. */
export async function runCronNow(ctx: Ctx, principal: Principal | null, entryId: string) {
  const p = requireAdmin(principal);
  const result = await ctx.cron.runNow(entryId);
  await audit(ctx.db, {
    actorId: p.userId,
    action: "cron.run",
    targetType: "cron",
    targetId: null,
    payload: { entry: entryId, jobId: result.id },
  });
  return result;
}

// ---------------------------------------------------------------------------------------------------------------
// Payments

export const PAYMENT_STATES = ["PENDING", "SUBMITTED", "COMPLETED", "FAILED"] as const satisfies PaymentStatus[];

/** The idempotency key of a task's payout job (src/payments/jobs.ts enqueues with it). */
const releaseKey = (taskId: string) => `payments.release:${taskId}`;

/** A transaction's page on the configured block explorer, or undefined when none is set. */
export function explorerTxUrl(ctx: Pick<AppContext, "settings">, txHash: string | null): string | undefined {
  const base = ctx.settings.get("chain.explorerUrl").replace(/\/+$/, "");
  return base && txHash ? `${base}/tx/${txHash}` : undefined;
}

/** Payments newest first (optionally of one state) with their task, payout job attempts and failure reason. */
export async function listPayments(
  ctx: Ctx,
  principal: Principal | null,
  opts: { state?: PaymentStatus; page?: number; perPage?: number } = {},
) {
  requireAdmin(principal);
  const perPage = Math.min(Math.max(opts.perPage ?? 50, 1), 200);
  const page = Math.max(opts.page ?? 1, 1);
  const rows = await ctx.db
    .select({
      payment: payments,
      taskTitle: tasks.title,
      projectTitle: projects.title,
      attempts: jobs.attempts,
      jobState: jobs.state,
      jobId: jobs.id,
    })
    .from(payments)
    .innerJoin(tasks, eq(tasks.id, payments.taskId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .leftJoin(jobs, eq(jobs.key, sql`'payments.release:' || ${payments.taskId}::text`))
    .where(opts.state ? eq(payments.status, opts.state) : undefined)
    .orderBy(desc(payments.createdAt), desc(payments.id))
    .limit(perPage + 1)
    .offset((page - 1) * perPage);
  const counts = await ctx.db.select({ status: payments.status, n: count() }).from(payments).groupBy(payments.status);
  return {
    payments: rows.slice(0, perPage).map((r) => ({
      id: r.payment.id,
      taskId: r.payment.taskId,
      taskTitle: r.taskTitle,
      projectTitle: r.projectTitle,
      status: r.payment.status,
      amount: r.payment.amount,
      fee: r.payment.fee,
      tokenAddress: r.payment.tokenAddress,
      payee: r.payment.payee,
      txHash: r.payment.txHash,
      txUrl: explorerTxUrl(ctx, r.payment.txHash),
      lastError: r.payment.lastError,
      attempts: r.attempts ?? 0,
      jobState: r.jobState ?? null,
      jobId: r.jobId ?? null,
      releasedAt: r.payment.releasedAt,
      createdAt: r.payment.createdAt,
    })),
    counts: Object.fromEntries(PAYMENT_STATES.map((s) => [s, counts.find((c) => c.status === s)?.n ?? 0])),
    page,
    hasMore: rows.length > perPage,
  };
}

/**
 * Tries a FAILED payment again through its payout job (`payments.release`, same idempotency key): the dead job is
 * run again with a fresh attempt budget, or enqueued when it was pruned. The payment waits as PENDING meanwhile.
 */
export async function retryPayment(ctx: Ctx, principal: Principal | null, paymentId: string) {
  const p = requireAdmin(principal);
  if (!UUID.test(paymentId)) throw notFound("Payment");
  const [row] = await ctx.db
    .select({ payment: payments, orgId: projects.orgId, projectId: projects.id })
    .from(payments)
    .innerJoin(tasks, eq(tasks.id, payments.taskId))
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(eq(payments.id, paymentId));
  if (!row) throw notFound("Payment");
  const payment = row.payment;
  if (payment.status !== "FAILED")
    throw conflict(`The payment is ${payment.status}; only a failed payment can be retried.`);
  if (!payment.proofId) throw conflict("The payment has no proof to release with.");
  const [job] = await ctx.db
    .select()
    .from(jobs)
    .where(eq(jobs.key, releaseKey(payment.taskId)));
  let jobId: string;
  if (job && (job.state === "dead" || job.state === "failed")) {
    jobId = (await ctx.jobs.retry(job.id)).id;
  } else if (job && (job.state === "queued" || job.state === "running")) {
    throw conflict("The payout job is already queued or running.");
  } else {
    if (!ctx.payments) throw new AppError("UNAVAILABLE", "the payment jobs are not defined in this process", 503);
    if (job) await ctx.db.delete(jobs).where(eq(jobs.id, job.id)); // completed earlier: its key would refuse a new run
    const scope = { orgId: row.orgId, projectId: row.projectId };
    jobId = (
      await ctx.payments.release.enqueue({ proofId: payment.proofId }, { key: releaseKey(payment.taskId), scope })
    ).id;
  }
  await ctx.db.update(payments).set({ status: "PENDING", updatedAt: new Date() }).where(eq(payments.id, payment.id));
  await audit(ctx.db, {
    actorId: p.userId,
    action: "payment.retry",
    targetType: "payment",
    targetId: payment.id,
    payload: { taskId: payment.taskId, jobId, lastError: payment.lastError },
  });
  return { paymentId: payment.id, jobId };
}

// ---------------------------------------------------------------------------------------------------------------
// Escrow fees

/** One token's fees the escrow owes the treasury. */
export interface FeeBalance {
  token: Address;
  symbol: string;
  decimals: number;
  owed: string;
}

/** The tokens the escrow may hold fees in: the native coin, every project's token, the dev chain's token. */
async function feeTokens(ctx: Ctx, devToken?: Address): Promise<Address[]> {
  const rows = await ctx.db.selectDistinct({ token: projects.tokenAddress }).from(projects);
  const paid = await ctx.db.selectDistinct({ token: payments.tokenAddress }).from(payments);
  const all = new Set<string>([zeroAddress]);
  for (const t of [...rows.map((r) => r.token), ...paid.map((r) => r.token), devToken]) {
    if (t && /^0x[0-9a-fA-F]{40}$/.test(t)) all.add(getAddress(t));
  }
  return [...all] as Address[];
}

/** Fees owed per token as the escrow reports them (`feesOwed`), with its treasury and past withdrawals. */
export async function feesOverview(ctx: Ctx, principal: Principal | null) {
  requireAdmin(principal);
  const withdrawals = await feeWithdrawals(ctx, principal);
  try {
    return { ...(await escrowFees(ctx)), withdrawals };
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw unavailable(
      `the chain's node did not answer: ${(err as { shortMessage?: string }).shortMessage ?? (err as Error).message}`,
      {
        fix: "devsponsor doctor",
      },
    );
  }
}

/** The escrow's treasury and what it owes per token, read from the chain. */
async function escrowFees(ctx: Ctx) {
  const rt = await requireChain(ctx);
  const escrow = rt.deployment?.escrow;
  if (!escrow)
    throw new AppError("UNAVAILABLE", "no escrow contract is deployed on this chain", 503, {
      fix: "devsponsor chain deploy",
    });
  const client = rt.conn.publicClient;
  const treasury = (await client.readContract({
    address: escrow,
    abi: ProjectEscrow.abi,
    functionName: "treasury",
  })) as Address;
  const balances: FeeBalance[] = [];
  for (const token of await feeTokens(ctx, rt.deployment?.dev?.token)) {
    const owed = (await client.readContract({
      address: escrow,
      abi: ProjectEscrow.abi,
      functionName: "feesOwed",
      args: [token],
    })) as bigint;
    let symbol = "ETH";
    let decimals = 18;
    if (token !== zeroAddress) {
      try {
        symbol = await client.readContract({ address: token, abi: erc20Abi, functionName: "symbol" });
        decimals = await client.readContract({ address: token, abi: erc20Abi, functionName: "decimals" });
      } catch {
        symbol = `${token.slice(0, 8)}…`; // not an ERC-20 with metadata: shown by address, in base units
        decimals = 0;
      }
    }
    balances.push({ token, symbol, decimals, owed: owed.toString() });
  }
  return { escrow, treasury, balances };
}

/** Past fee withdrawals, newest first, from the audit trail (each names its transaction). */
export async function feeWithdrawals(ctx: Ctx, principal: Principal | null) {
  requireAdmin(principal);
  const rows = await ctx.db
    .select({ createdAt: auditLog.createdAt, payload: auditLog.payload })
    .from(auditLog)
    .where(eq(auditLog.action, "fees.withdraw"))
    .orderBy(desc(auditLog.seq))
    .limit(20);
  return rows.map((w) => {
    const payload = (w.payload ?? {}) as { token?: string; amount?: string; txHash?: string };
    return { at: w.createdAt, ...payload, txUrl: explorerTxUrl(ctx, payload.txHash ?? null) };
  });
}

/** Sends a token's fees to the treasury (the escrow's `withdrawFees`, signed by the worker key) and audits it. */
export async function withdrawFees(ctx: Ctx, principal: Principal | null, tokenInput: string) {
  const p = requireAdmin(principal);
  if (!/^0x[0-9a-fA-F]{40}$/.test(tokenInput))
    throw invalidInput({ token: "Enter a token address (0x… and 40 hex digits)." });
  const token = getAddress(tokenInput);
  const rt = await requireChain(ctx);
  const escrow = rt.deployment?.escrow;
  if (!escrow || !rt.workerKey) throw new AppError("UNAVAILABLE", "the chain is not set up for transactions", 503);
  const client = rt.conn.publicClient;
  const owed = (await client.readContract({
    address: escrow,
    abi: ProjectEscrow.abi,
    functionName: "feesOwed",
    args: [token],
  })) as bigint;
  if (owed === 0n) throw conflict("No fees are owed in this token.");
  const wallet = rt.conn.wallet(rt.workerKey);
  const { request } = await client.simulateContract({
    address: escrow,
    abi: ProjectEscrow.abi,
    functionName: "withdrawFees",
    args: [token],
    account: wallet.account,
  });
  const txHash: Hex = await wallet.writeContract(request as any);
  const receipt = await client.waitForTransactionReceipt({
    hash: txHash,
    confirmations: Math.max(1, rt.confirmations),
  });
  if (receipt.status !== "success")
    throw new AppError("INTERNAL", `the withdrawal transaction reverted: ${txHash}`, 500);
  const [event] = parseEventLogs({ abi: ProjectEscrow.abi, logs: receipt.logs, eventName: "FeesWithdrawn" });
  const args = (event as { args?: { amount: bigint; treasury: Address } } | undefined)?.args;
  const amount = (args?.amount ?? owed).toString();
  await audit(ctx.db, {
    actorId: p.userId,
    action: "fees.withdraw",
    targetType: "escrow",
    targetId: null,
    payload: { token, amount, treasury: args?.treasury ?? null, txHash, blockNumber: receipt.blockNumber.toString() },
  });
  ctx.log.info("escrow fees withdrawn", { token, amount, txHash });
  return { token, amount, txHash, txUrl: explorerTxUrl(ctx, txHash) };
}

// ---------------------------------------------------------------------------------------------------------------
// Doctor

/** Every doctor check (the same as `devsponsor doctor`) with its status, detail and fix. */
export async function doctorReport(ctx: AppContext, principal: Principal | null) {
  requireAdmin(principal);
  const checks = await runChecks(ctx);
  return { checks, ok: !checks.some((c) => c.status === "fail") };
}
