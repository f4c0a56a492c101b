// The check run "DevSponsor verification" on the verified commit, and the comment on the pull request when the
// task is paid. Both follow the database: a sync writes what the stored verification says, so running it twice
// (or late) leaves GitHub as it should be.
import { desc, eq } from "drizzle-orm";
import type { AppContext } from "../core/context";
import { tasks } from "../milestones/schema";
import { payments } from "../payments/schema";
import { taskVerifications } from "../tasks/schema";
import { latestVerification } from "../tasks/service";
import { githubError } from "./client";
import { postComment, projectRepo, repoClient } from "./api";
import { taskLink } from "./commands";
import { githubCheckRuns, githubPulls } from "./schema";

type Ctx = Pick<AppContext, "db" | "settings" | "log">;

/** The check run's name on GitHub. */
export const CHECK_NAME = "DevSponsor verification";

/** Thrown while the database does not show the event yet (its transaction has not committed): the job retries. */
export class NotYetVisible extends Error {}

const CONCLUSION: Record<string, "success" | "failure" | "neutral"> = {
  PASSED: "success",
  FAILED: "failure",
  FLAKY: "failure",
  ERROR: "neutral",
};

/** Creates or updates the check run of a task's latest verification; returns what it did. */
export async function syncCheckRun(ctx: Ctx, taskId: string, verificationId?: string): Promise<string> {
  const [task] = await ctx.db.select().from(tasks).where(eq(tasks.id, taskId));
  if (!task) return "task gone";
  const repo = await projectRepo(ctx, task.projectId);
  if (!repo) return "the project has no repository reached by the App";
  const v = await latestVerification(ctx.db, taskId);
  if (!v || (verificationId && v.id !== verificationId && !(await known(ctx, verificationId)))) {
    throw new NotYetVisible("the verification is not visible yet");
  }
  const c = await repoClient(ctx, repo.repoId);
  const [existing] = await ctx.db.select().from(githubCheckRuns).where(eq(githubCheckRuns.verificationId, v.id));
  const done = v.status !== "QUEUED" && v.status !== "RUNNING";
  const link = taskLink(ctx, taskId);
  const tests = v.tests ?? [];
  const failed = tests.filter((t) => !t.passed);
  const lines = [
    `Task: ${task.title}`,
    `Commit: ${v.commit} (attempt ${v.attempt})`,
    done ? `Verdict: **${v.status}**${v.reason ? ` — ${v.reason}` : ""}` : "Verification is running in the sandbox.",
    done && tests.length ? `Tests: ${tests.length - failed.length} passed, ${failed.length} failed.` : "",
    ...(done && tests.length
      ? [
          "",
          "| Test | Result |",
          "|---|---|",
          ...tests.slice(0, 50).map((t) => `| ${t.id.replace(/\|/g, "\\|")} | ${t.passed ? "passed" : "**failed**"} |`),
        ]
      : []),
    tests.length > 50 ? `… and ${tests.length - 50} more on the task page.` : "",
  ].filter((l, i, a) => l !== "" || (i > 0 && a[i - 1] !== ""));
  const output = {
    title: done ? `Verification ${v.status.toLowerCase()}` : "Verification running",
    summary: lines.join("\n").slice(0, 60_000),
  };
  const body = {
    name: CHECK_NAME,
    details_url: link.startsWith("http") ? link : undefined,
    external_id: v.id,
    ...(done
      ? {
          status: "completed" as const,
          conclusion: CONCLUSION[v.status] ?? "neutral",
          completed_at: (v.finishedAt ?? new Date()).toISOString(),
        }
      : { status: "in_progress" as const }),
    output,
  };
  try {
    if (existing) {
      if (existing.status === "completed") return `check run ${existing.checkRunId} already completed`;
      await c.octokit.request("PATCH /repos/{owner}/{repo}/check-runs/{check_run_id}", {
        owner: c.owner,
        repo: c.repo,
        check_run_id: existing.checkRunId,
        ...body,
      });
      await ctx.db
        .update(githubCheckRuns)
        .set({ status: body.status, updatedAt: new Date() })
        .where(eq(githubCheckRuns.verificationId, v.id));
      return `check run ${existing.checkRunId} ${body.status}`;
    }
    const res = await c.octokit.request("POST /repos/{owner}/{repo}/check-runs", {
      owner: c.owner,
      repo: c.repo,
      head_sha: v.commit,
      ...body,
    });
    await ctx.db
      .insert(githubCheckRuns)
      .values({
        verificationId: v.id,
        taskId,
        repoId: repo.repoId,
        headSha: v.commit,
        checkRunId: Number(res.data.id),
        status: body.status,
      })
      .onConflictDoNothing();
    return `check run ${res.data.id} created (${body.status})`;
  } catch (err) {
    throw githubError(err, `write the check run on ${c.owner}/${c.repo}`);
  }
}

async function known(ctx: Ctx, verificationId: string) {
  const [row] = await ctx.db
    .select({ id: taskVerifications.id })
    .from(taskVerifications)
    .where(eq(taskVerifications.id, verificationId));
  return !!row;
}

/** Comments on the task's pull request that the task is paid (amount and transaction); once per task. */
export async function commentPaid(ctx: Ctx, taskId: string): Promise<string> {
  const [task] = await ctx.db.select().from(tasks).where(eq(tasks.id, taskId));
  if (!task) return "task gone";
  if (task.status !== "PAID") throw new NotYetVisible("the task is not PAID yet");
  const [pull] = await ctx.db
    .select()
    .from(githubPulls)
    .where(eq(githubPulls.taskId, taskId))
    .orderBy(desc(githubPulls.eventAt))
    .limit(1);
  if (!pull) return "no pull request tied to the task";
  const [pay] = await ctx.db
    .select()
    .from(payments)
    .where(eq(payments.taskId, taskId))
    .orderBy(desc(payments.createdAt))
    .limit(1);
  const c = await repoClient(ctx, pull.repoId);
  const amount = pay ? paymentAmount(pay) : "";
  const tx = pay ? paymentTx(pay) : "";
  const body = [
    `Paid: [${task.title}](${taskLink(ctx, taskId)})${amount ? ` — ${amount}` : ""}.`,
    tx ? `Transaction: \`${tx}\`` : "",
  ]
    .filter(Boolean)
    .join("\n\n");
  const id = await postComment(c, pull.number, body);
  return `paid comment ${id} on #${pull.number}`;
}

function paymentAmount(p: typeof payments.$inferSelect): string {
  // Amounts are in the token's smallest unit; the token is named by its address (the native token is 0x0…0).
  const native = /^0x0{40}$/.test(p.tokenAddress);
  return native ? `${p.amount} wei` : `${p.amount} (token ${p.tokenAddress})`;
}

function paymentTx(p: typeof payments.$inferSelect): string {
  return p.txHash ?? "";
}
