// Durable jobs of the tasks domain: `tasks.verify` runs the harness on a linked commit and records the verdict
// (which may start the payout); `tasks.expire-claims` (cron) ends claims nobody linked work to in time.
import { join } from "node:path";
import { eq } from "drizzle-orm";
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { FatalJobError } from "../core/jobs";
import { sandboxSettings } from "../harness/jobs";
import { ID_SEPARATOR } from "../harness/results";
import { runHarness } from "../harness/run";
import { tasks } from "../milestones/schema";
import { taskVerifications, taskWorkLinks } from "./schema";
import { registerUserDataHook } from "../users/data-hooks";
import { eraseTaskData, expireClaims, exportTaskData, recordVerdict, resumeTasks, VERIFY_JOB } from "./service";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Defines the tasks jobs and cron entries on the core queue. */
export async function setupTasks(ctx: AppContext, _on: On): Promise<void> {
  ctx.jobs.define<{ verificationId: string }, { status: string }>(
    VERIFY_JOB,
    async ({ verificationId }, run) => {
      const [row] = await ctx.db
        .select({ v: taskVerifications, link: taskWorkLinks, task: tasks })
        .from(taskVerifications)
        .innerJoin(taskWorkLinks, eq(taskWorkLinks.id, taskVerifications.workLinkId))
        .innerJoin(tasks, eq(tasks.id, taskVerifications.taskId))
        .where(eq(taskVerifications.id, verificationId));
      if (!row) throw new FatalJobError("the verification is gone");
      if (row.v.status !== "QUEUED" && row.v.status !== "RUNNING") return { status: row.v.status };
      await ctx.db
        .update(taskVerifications)
        .set({ status: "RUNNING", jobId: run.jobId })
        .where(eq(taskVerifications.id, verificationId));
      const minPassing = row.task.verification.minPassingTests;
      try {
        const r = await runHarness({
          repo: row.link.repoUrl,
          ref: row.v.commit,
          project: row.task.projectId,
          testCommand: row.task.verification.testCommand || undefined,
          ...sandboxSettings(ctx.settings),
          baseDir: join(ctx.config.dataDir, "harness"),
          signal: run.signal,
          onProgress: (pct, message) => void run.progress(pct, message),
          onLog: (line) => void run.log(line),
        });
        // Every leaf is stored (the payout proves them all); people are told of tests, not of the steps' own leaves.
        const tests = r.digest.tests.map((t) => ({ id: t.id, passed: t.passed }));
        const ran = r.steps.flatMap((s) =>
          s.tests.filter((t) => t.status !== "skipped").map((t) => ({ id: `${s.name}${ID_SEPARATOR}${t.id}`, t })),
        );
        const passedCount = ran.filter((x) => x.t.status === "passed").length;
        const failing = ran.filter((x) => x.t.status !== "passed").map((x) => x.id);
        const enough = passedCount >= minPassing;
        const status = r.result === "PASSED" && enough ? "PASSED" : r.result === "FLAKY" ? "FLAKY" : "FAILED";
        const reason =
          status === "PASSED"
            ? null
            : status === "FLAKY"
              ? `Tests changed verdict between two runs: ${r.digest.flaky.slice(0, 10).join(", ")}`
              : failing.length > 0
                ? `${failing.length} test${failing.length === 1 ? "" : "s"} failed: ${failing.slice(0, 10).join(", ")}${failing.length > 10 ? ", …" : ""}`
                : !enough
                  ? `${passedCount} test${passedCount === 1 ? "" : "s"} passed; the task asks for at least ${minPassing}.`
                  : `A step failed: ${r.steps.find((s) => s.status !== "OK")?.message ?? r.steps.map((s) => `${s.name} ${s.status}`).join(", ")}`;
        await recordVerdict(ctx, verificationId, {
          status,
          reportHash: r.reportHash,
          digest: r.digest,
          tests,
          passedCount,
          failedCount: failing.length,
          reason,
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

  registerUserDataHook({ name: "tasks", export: exportTaskData, erase: eraseTaskData });
  ctx.jobs.define("tasks.expire-claims", () => expireClaims(ctx), { maxAttempts: 1 });
  ctx.cron.register("tasks.expire-claims", "0 */15 * * * *", "tasks.expire-claims");
  ctx.jobs.define("tasks.resume", () => resumeTasks(ctx), { maxAttempts: 1 });
  ctx.cron.register("tasks.resume", "30 * * * * *", "tasks.resume");
}
