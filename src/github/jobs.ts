// The GitHub domain's jobs: `github.delivery` processes one stored webhook delivery, `github.task-event` mirrors a
// task event on GitHub (check run, paid comment, collaborator access), and `github.access.sync` (cron) repairs
// repository access that drifted.
import { eq } from "drizzle-orm";
import type { AppContext } from "../core/context";
import type { Db } from "../core/db";
import { onTaskEvent, type TaskEventName } from "../tasks/events";
import { MEMBER_ACCESS_JOB, type MemberAccessJob } from "../projects/members-service";
import { accessState, grantAccess, revokeAccess, syncAccess, syncMemberAccess } from "./access";
import { NotYetVisible, commentPaid, syncCheckRun } from "./checks";
import { appConfigured } from "./client";
import { githubRepositories } from "./schema";
import { processDelivery } from "./service";
import { DELIVERY_JOB } from "./webhooks";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** The job mirroring one task event on GitHub. */
export const TASK_EVENT_JOB = "github.task-event";

/** What a task-event job carries. */
export interface TaskEventJob {
  name: TaskEventName;
  taskId: string;
  verificationId?: string;
}

const CHECK_EVENTS = new Set<TaskEventName>(["task.verification_started", "task.verified", "task.verification_failed"]);
const REVOKE_EVENTS = new Set<TaskEventName>(["task.unclaimed", "task.released", "task.claim_expired", "task.paid"]);

/** What a task event asks of GitHub; retried while the event's transaction is not visible yet. */
export async function mirrorTaskEvent(ctx: AppContext, job: TaskEventJob, lastAttempt: boolean): Promise<string> {
  const out: string[] = [];
  try {
    if (CHECK_EVENTS.has(job.name)) out.push(await syncCheckRun(ctx, job.taskId, job.verificationId));
    if (job.name === "task.claimed") {
      const state = await grantAccess(ctx, job.taskId);
      if (state === "no active claim" && !lastAttempt) throw new NotYetVisible("the claim is not visible yet");
      out.push(`access ${state}`);
    }
    if (REVOKE_EVENTS.has(job.name)) {
      const n = await revokeAccess(ctx, job.taskId);
      if (n === 0 && (await accessState(ctx, job.taskId)) && !lastAttempt) {
        throw new NotYetVisible("the claim's end is not visible yet");
      }
      out.push(`access removed: ${n}`);
    }
    if (job.name === "task.paid") out.push(await commentPaid(ctx, job.taskId));
  } catch (err) {
    if (err instanceof NotYetVisible && lastAttempt) return `gave up: ${err.message}`;
    throw err;
  }
  return out.join("; ") || "nothing to do";
}

/** Defines the GitHub jobs and cron entries, and subscribes to task events. */
export async function setupGitHub(ctx: AppContext, on: On): Promise<void> {
  ctx.jobs.define<{ deliveryId: string }, { outcome: string }>(
    DELIVERY_JOB,
    async ({ deliveryId }) => ({ outcome: await processDelivery(ctx, deliveryId) }),
    // One at a time: deliveries about the same pull request or repository apply in the order they are taken.
    { concurrency: 1, maxAttempts: 5 },
  );
  ctx.jobs.define<TaskEventJob, { outcome: string }>(
    TASK_EVENT_JOB,
    async (job, run) => ({ outcome: await mirrorTaskEvent(ctx, job, run.attempt >= run.maxAttempts) }),
    { concurrency: 2, maxAttempts: 6, backoffMs: 400 },
  );
  ctx.jobs.define<MemberAccessJob, { outcome: string }>(
    MEMBER_ACCESS_JOB,
    async ({ projectId, userId }) => ({ outcome: await syncMemberAccess(ctx, projectId, userId) }),
    { concurrency: 1, maxAttempts: 6, backoffMs: 1000 },
  );
  ctx.jobs.define("github.access.sync", () => syncAccess(ctx), { maxAttempts: 1 });
  ctx.cron.register("github.access.sync", "0 */10 * * * *", "github.access.sync");

  const off = onTaskEvent(async (tx, name, event) => {
    if (!appConfigured(ctx.settings)) return;
    if (!CHECK_EVENTS.has(name) && !REVOKE_EVENTS.has(name) && name !== "task.claimed") return;
    const [linked] = await tx
      .select({ id: githubRepositories.repoId })
      .from(githubRepositories)
      .where(eq(githubRepositories.projectId, event.projectId));
    if (!linked) return;
    const payload: TaskEventJob = {
      name,
      taskId: event.taskId,
      ...(typeof event.verificationId === "string" ? { verificationId: event.verificationId } : {}),
    };
    // Queued in the emitting transaction: the job exists exactly when the task's change does, so a crash after the
    // commit (or a webhook delivery marked processed after it) cannot lose it, and a rollback queues nothing.
    await ctx.jobs.enqueueIn(tx as Db, TASK_EVENT_JOB, payload);
  });
  on.stop(off);
}
