import { eq, max } from "drizzle-orm";
import type { AppContext, Principal } from "../core/context";
import { AppError, conflict } from "../core/errors";
import { FatalJobError } from "../core/jobs";
import { loadMilestone } from "../milestones/service";
import { milestoneDrafts } from "../milestones/schema";
import { loadProject } from "../projects/access";
import { type PlannerPayload, runPlanner } from "./service";

/** The planner job's stable id. */
export const PLANNER_JOB = "planner.generate";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Defines the planner job on the queue (boot). */
export async function setupPlanner(ctx: AppContext, _on: On) {
  ctx.jobs.define<PlannerPayload & { orgId: string }>(
    PLANNER_JOB,
    async (payload, run) => {
      try {
        return await runPlanner(ctx, payload, {
          id: run.jobId,
          progress: run.progress,
          log: run.log,
          signal: run.signal,
        });
      } catch (err) {
        // Missing or frozen projects will not get better with retries.
        if (err instanceof AppError && err.status < 500) throw new FatalJobError(err.message, { cause: err });
        throw err;
      }
    },
    { concurrency: 2, maxAttempts: 2, backoffMs: 5000, timeoutMs: 20 * 60_000 },
  );
}

/**
 * Starts the planner for a project (or one milestone) and returns the run id (spec §5.5: the workflow id);
 * progress streams at `/api/runs/:id/stream`. Asking twice for the same draft version gives the same run.
 */
export async function startGeneration(
  ctx: AppContext,
  principal: Principal | null,
  projectId: string,
  opts: { milestoneId?: string } = {},
): Promise<{ runId: string; created: boolean }> {
  const project = opts.milestoneId
    ? (await loadMilestone(ctx.db, principal, opts.milestoneId, "project.manageMilestones")).project
    : await loadProject(ctx.db, principal, projectId, "project.manageMilestones");
  if (project.structureApprovedAt) throw conflict("The milestone structure is approved and frozen.");
  const [row] = await ctx.db
    .select({ v: max(milestoneDrafts.version) })
    .from(milestoneDrafts)
    .where(eq(milestoneDrafts.projectId, project.id));
  const jobs = ctx.jobs;
  const payload = {
    projectId: project.id,
    orgId: project.orgId,
    milestoneId: opts.milestoneId ?? null,
    requestedBy: principal!.userId,
  };
  const key = `${PLANNER_JOB}:${project.id}:${opts.milestoneId ?? "all"}:v${row?.v ?? 0}`;
  const scope = { orgId: project.orgId, projectId: project.id };
  const r = await jobs.enqueue(PLANNER_JOB, payload, { key, scope });
  if (!r.created) {
    const job = await jobs.get(r.id);
    if (job?.state === "dead" || job?.state === "completed") {
      // The same draft version was planned before (a failed run, or a result edited away): plan it again.
      const again = await jobs.enqueue(PLANNER_JOB, payload, { key: `${key}:${Date.now()}`, scope });
      return { runId: again.id, created: true };
    }
  }
  return { runId: r.id, created: r.created };
}
