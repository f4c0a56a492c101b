// Who may see a background run (GET /api/runs/:id and its stream): runs carry the org, project or user they
// belong to in their payload, and the org permission table decides.
import { eq } from "drizzle-orm";
import type { AppContext } from "../core/context";
import { unauthorized } from "../core/errors";
import { projects } from "../projects/schema";
import { isUuid, requireOrgRole } from "./permissions";

/** A run as far as authorization needs it. */
interface RunLike {
  payload: unknown;
}

/**
 * The `authorize` hook of the run routes. A run whose payload names an `orgId` or `projectId` is visible to the
 * org's members (NOT_FOUND for everyone else, like the org itself); one naming a `userId` only to that user;
 * others to any signed-in user. Platform admins see every run.
 */
export const authorizeRun = (ctx: AppContext) => async (request: Request, job: RunLike) => {
  const p = await ctx.authenticate(request);
  if (!p) throw unauthorized();
  if (p.isAdmin) return true;
  const payload = (job.payload ?? {}) as Record<string, unknown>;
  let orgId = typeof payload.orgId === "string" ? payload.orgId : null;
  if (!orgId && isUuid(payload.projectId)) {
    const [project] = await ctx.db
      .select({ orgId: projects.orgId })
      .from(projects)
      .where(eq(projects.id, payload.projectId));
    orgId = project?.orgId ?? crypto.randomUUID(); // a run of a deleted project: nobody's org
  }
  if (orgId) {
    await requireOrgRole(ctx.db, p, orgId, "project.view", "Run");
    return true;
  }
  if (typeof payload.userId === "string") return payload.userId === p.userId;
  return true;
};
