import { Elysia } from "elysia";
import type { AppContext } from "../core/context";
import { httpContext } from "../core/http/plugin";
import { loadMilestone } from "../milestones/service";
import { startGeneration } from "./jobs";

/** `POST /api/projects/:id/generate-milestones` and `POST /api/milestones/:id/regenerate`: start the planner job. */
export const plannerRoutes = (ctx: AppContext) =>
  new Elysia({ name: "planner" })
    .use(httpContext(ctx))
    .post(
      "/api/projects/:id/generate-milestones",
      async ({ params, principal, set }) => {
        const { runId } = await startGeneration(ctx, await principal(), params.id);
        set.status = 202;
        return { runId, workflowId: runId, stream: `/api/runs/${runId}/stream` };
      },
      {
        detail: {
          summary: "Draft milestones with the planner (a background run)",
          description:
            "Returns the run id at once; progress and partial output stream at /api/runs/:id/stream. Without a model, or when the " +
            "model's output stays invalid after a repair and 3 attempts, the template planner drafts instead (labelled).",
          tags: ["milestones"],
        },
      },
    )
    .post(
      "/api/milestones/:id/regenerate",
      async ({ params, principal, set }) => {
        const p = await principal();
        const { project } = await loadMilestone(ctx.db, p, params.id, "project.manageMilestones");
        const { runId } = await startGeneration(ctx, p, project.id, { milestoneId: params.id });
        set.status = 202;
        return { runId, workflowId: runId, stream: `/api/runs/${runId}/stream` };
      },
      { detail: { summary: "Regenerate one milestone with the planner (a background run)", tags: ["milestones"] } },
    );
