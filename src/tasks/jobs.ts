// Durable jobs of the tasks domain: `tasks.verify` runs the harness on a linked commit against the task's pinned
// acceptance tests (the base commit's results once per suite, cached), records the verdict with the harness's
// signed report (which may start the payout); `tasks.expire-claims` (cron) ends claims nobody linked work to in time.
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import type { Address } from "viem";
import type { AppContext } from "../core/context";
import { sha256Hex } from "../core/crypto";
import { AppError } from "../core/errors";
import { FatalJobError } from "../core/jobs";
import type { AcceptanceOptions } from "../harness/acceptance";
import { sandboxSettings } from "../harness/jobs";
import { type HarnessRunOptions, runHarness } from "../harness/run";
import type { RuleTest } from "../harness/rule";
import { signReport } from "../harness/signer";
import { type AcceptancePin, type Task, tasks } from "../milestones/schema";
import { projects } from "../projects/schema";
import { wallets } from "../users/schema";
import { projectGitToken } from "../github/api";
import { loadTestBundle } from "./acceptance";
import { harnessBaseResults, type SignedReport, taskVerifications, taskWorkLinks } from "./schema";
import { registerUserDataHook } from "../users/data-hooks";
import { eraseTaskData, expireClaims, exportTaskData, recordVerdict, resumeTasks, VERIFY_JOB } from "./service";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Defines the tasks jobs and cron entries on the core queue. */
export async function setupTasks(ctx: AppContext, _on: On): Promise<void> {
  ctx.jobs.define<{ verificationId: string }, { status: string }>(
    VERIFY_JOB,
    async ({ verificationId }, run) => {
      const [row] = await ctx.db
        .select({ v: taskVerifications, link: taskWorkLinks, task: tasks, runs: projects.verificationRuns })
        .from(taskVerifications)
        .innerJoin(taskWorkLinks, eq(taskWorkLinks.id, taskVerifications.workLinkId))
        .innerJoin(tasks, eq(tasks.id, taskVerifications.taskId))
        .innerJoin(projects, eq(projects.id, tasks.projectId))
        .where(eq(taskVerifications.id, verificationId));
      if (!row) throw new FatalJobError("the verification is gone");
      if (row.v.status !== "QUEUED" && row.v.status !== "RUNNING") return { status: row.v.status };
      await ctx.db
        .update(taskVerifications)
        .set({ status: "RUNNING", jobId: run.jobId })
        .where(eq(taskVerifications.id, verificationId));
      const minPassing = Math.max(1, row.task.verification.minPassingTests);
      try {
        const common: HarnessRunOptions = {
          repo: row.link.repoUrl,
          ref: row.v.commit,
          // Fetched on the host with the App's installation token when the project's repository is private on
          // GitHub; the token never reaches the sandbox, the job's payload or its log.
          token: await projectGitToken(ctx, row.task.projectId, row.link.repoUrl),
          project: row.task.projectId,
          testCommand: row.task.verification.testCommand || undefined,
          ...sandboxSettings(ctx.settings),
          baseDir: join(ctx.config.dataDir, "harness"),
          signal: run.signal,
          onProgress: (pct, message) => void run.progress(pct, message),
          onLog: (line) => void run.log(line),
        };
        const acceptance = await acceptanceOf(ctx, row.task);
        const baseTests = acceptance ? await baseResults(ctx, row.task, acceptance, common) : null;
        const r = await runHarness({
          ...common,
          acceptance: acceptance?.options,
          baseTests,
          minPassing,
          repeat: row.runs === 2 ? 2 : 1,
        });
        const status = r.result;
        const passedCount = r.tests.filter((t) => t.passed).length;
        let signedReport: SignedReport | null = null;
        // Signed when the rule holds with flaky tests counted as not passed: a FLAKY verdict then waits for a
        // reviewer with its signature ready; otherwise it has none and is never paid.
        if (r.ruleHolds && (status === "PASSED" || status === "FLAKY")) {
          const payee = row.task.claimedById ? await payoutWallet(ctx, row.task.claimedById) : undefined;
          if (!payee) void run.log("verdict recorded without a signature: the claimer has no payout wallet");
          else if (!row.task.payoutAmount)
            void run.log("verdict recorded without a signature: the task has no payout amount");
          else {
            const s = await signReport(ctx, {
              projectId: row.task.projectId,
              taskId: row.task.id,
              payee,
              amount: BigInt(row.task.payoutAmount),
              digest: r.digest,
              reportHash: r.reportHash,
            });
            if (s.signed) signedReport = s.signed;
            else void run.log(`verdict recorded without a signature: ${s.reason}`);
          }
        }
        // The acceptance fields and the signature first; recordVerdict then moves the task (and may start the payout).
        await ctx.db
          .update(taskVerifications)
          .set({
            baseCommit: r.baseCommit,
            named: r.digest.acceptance?.named ?? null,
            newFailures: r.digest.merkle.newFailures,
            flaky: r.digest.flaky,
            protectedChanges: r.protectedChanges.map((c) => `${c.path} (${c.why})`),
            signedReport,
          })
          .where(eq(taskVerifications.id, verificationId));
        await recordVerdict(ctx, verificationId, {
          status,
          reportHash: r.reportHash,
          digest: r.digest,
          tests: r.tests,
          passedCount,
          failedCount: r.tests.length - passedCount,
          reason: r.reason,
        });
        return { status };
      } catch (err) {
        // Problems outside the contributor's code (an unreachable remote, no sandbox) are errors, not verdicts;
        // a retry may fix a transient one, the last attempt records it.
        const fatal = err instanceof AppError && err.status < 500;
        if (fatal || run.attempt >= run.maxAttempts) {
          const e = err as Error & { code?: string };
          await recordVerdict(ctx, verificationId, {
            status: "ERROR",
            reportHash: null,
            digest: null,
            tests: null,
            passedCount: null,
            failedCount: null,
            reason: `${e.code ? `${e.code}: ` : ""}${e.message}`.slice(0, 1000),
          });
          if (fatal) throw new FatalJobError(e.message, { cause: err });
        }
        throw err;
      }
    },
    { concurrency: 2, maxAttempts: 2, timeoutMs: 60 * 60_000 },
  );

  registerUserDataHook({
    name: "tasks",
    covers: ["task_claims.user_id"],
    export: exportTaskData,
    erase: eraseTaskData,
  });
  ctx.jobs.define("tasks.expire-claims", () => expireClaims(ctx), { maxAttempts: 1 });
  ctx.cron.register("tasks.expire-claims", "0 */15 * * * *", "tasks.expire-claims");
  ctx.jobs.define("tasks.resume", () => resumeTasks(ctx), { maxAttempts: 1 });
  ctx.cron.register("tasks.resume", "30 * * * * *", "tasks.resume");
}

/** A task's acceptance tests as the harness takes them, and the key of its base results; null without a pin. */
async function acceptanceOf(
  ctx: AppContext,
  task: Task,
): Promise<{ options: AcceptanceOptions; baseCommit: string | null; suiteKey: string } | null> {
  const pin: AcceptancePin | null = task.acceptancePin;
  const named = [...new Set(task.verification.acceptanceTests ?? [])];
  const testFiles = task.verification.testFiles ?? [];
  if (!pin) {
    // Named tests before anything is pinned: judged in the work as it is, every failure counting.
    return named.length ? { options: { named, testFiles, pin: null }, baseCommit: null, suiteKey: "" } : null;
  }
  const suite = (pinId: string) =>
    sha256Hex(JSON.stringify({ pin: pinId, testFiles, testCommand: task.verification.testCommand }));
  if (pin.kind === "commit") {
    return {
      options: { named, testFiles, pin: { kind: "commit", commit: pin.commit } },
      baseCommit: pin.commit,
      suiteKey: suite(pin.commit),
    };
  }
  const bundle = await loadTestBundle(ctx, task.id);
  if (!bundle || bundle.sha256 !== pin.sha256)
    throw new AppError("TEST_BUNDLE_MISSING", "The task's pinned test bundle is gone or was replaced.", 422);
  return {
    options: { named, testFiles, pin: { kind: "bundle", tar: bundle.tar, baseCommit: pin.baseCommit } },
    baseCommit: pin.baseCommit ?? null,
    suiteKey: suite(`bundle:${bundle.sha256}`),
  };
}

/**
 * The suite's results at the base commit: run once per (project, commit, suite) and kept in harness_base_results.
 * Null when the pin has no base commit (a bundle uploaded without one): every failing test then counts.
 */
async function baseResults(
  ctx: AppContext,
  task: Task,
  acc: { options: AcceptanceOptions; baseCommit: string | null; suiteKey: string },
  common: HarnessRunOptions,
): Promise<RuleTest[] | null> {
  if (!acc.baseCommit) return null;
  const key = and(
    eq(harnessBaseResults.projectId, task.projectId),
    eq(harnessBaseResults.commit, acc.baseCommit),
    eq(harnessBaseResults.suiteKey, acc.suiteKey),
  );
  const [cached] = await ctx.db.select().from(harnessBaseResults).where(key).limit(1);
  if (cached) {
    common.onLog?.(`base results of ${acc.baseCommit.slice(0, 12)} from the cache (${cached.tests.length} tests)`);
    return cached.tests;
  }
  common.onLog?.(`running the suite at the base commit ${acc.baseCommit.slice(0, 12)} once`);
  const base = await runHarness({
    ...common,
    ref: acc.baseCommit,
    acceptance: { ...acc.options, named: [] },
    onProgress: undefined,
  });
  await ctx.db
    .insert(harnessBaseResults)
    .values({ projectId: task.projectId, commit: acc.baseCommit, suiteKey: acc.suiteKey, tests: base.tests })
    .onConflictDoNothing();
  return base.tests;
}

/** The claimer's payout wallet now: the payee the signature binds. */
async function payoutWallet(ctx: AppContext, userId: string): Promise<Address | undefined> {
  const [w] = await ctx.db
    .select({ address: wallets.address })
    .from(wallets)
    .where(and(eq(wallets.userId, userId), eq(wallets.isPayout, true)))
    .limit(1);
  return w?.address as Address | undefined;
}
