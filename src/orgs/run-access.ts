// Who may see a background run (GET /api/runs/:id, its stream and log lines): runs carry the org and project
// they belong to (set by the domain that enqueued them), and the org permission table decides.
import { and, eq, isNull } from "drizzle-orm";
import type { AppContext } from "../core/context";
import { forbidden, notFound, unauthorized } from "../core/errors";
import { can, type OrgAction } from "./permissions";
import { orgMembers, orgs } from "./schema";

/** A run as far as authorization needs it. */
interface RunLike {
  name: string;
  orgId: string | null;
}

// What a member must be allowed to do in the org to read a run of each job: its log lines show what the job saw
// (a planner run shows the repository and the documents; an ingest run the documents).
const READ_ACTION: Record<string, OrgAction> = {
  "planner.generate": "project.manageMilestones",
  "documents.ingest": "documents.view",
  "harness.run": "project.view",
  "tasks.verify": "project.view",
  "payments.proof": "project.view",
  "payments.release": "project.view",
};

/** The permission a member needs to read a run of job `name` (jobs not listed: the org's managers only). */
export const runReadAction = (name: string): OrgAction => READ_ACTION[name] ?? "project.update";

/**
 * The `authorize` hook of the run routes. Admins see every run; a run without an org (a system job) only them.
 * A member reads a run of their org when their role allows the job's read action (FORBIDDEN otherwise); anyone
 * else gets NOT_FOUND, as for the org itself. Reading needs no write scope, so read-only API keys work.
 */
export const authorizeRun = (ctx: AppContext) => async (request: Request, job: RunLike) => {
  const p = await ctx.authenticate(request);
  if (!p) throw unauthorized();
  if (p.isAdmin) return true;
  if (!job.orgId) throw notFound("Run");
  const [member] = await ctx.db
    .select({ role: orgMembers.role })
    .from(orgMembers)
    .innerJoin(orgs, eq(orgs.id, orgMembers.orgId))
    .where(and(eq(orgMembers.orgId, job.orgId), eq(orgMembers.userId, p.userId), isNull(orgs.archivedAt)));
  const role = member?.role;
  if (!role) throw notFound("Run");
  if (!can(role, runReadAction(job.name))) throw forbidden("Your role in this organization cannot see this run.");
  return true;
};
