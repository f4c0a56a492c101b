import { and, eq, sql } from "drizzle-orm";
import type { Principal } from "../core/context";
import { type Db, preparedFor } from "../core/db";
import { AppError, forbidden, notFound, unauthorized } from "../core/errors";
import { can, isReadAction, isUuid, type OrgAction, requireOrgRole } from "../orgs/permissions";
import { projectMembers, type ProjectRole } from "./members-schema";
import { type Project, projects } from "./schema";

/** What anyone signed in may do on a PUBLIC project without belonging to its org (contributors browse them). */
const PUBLIC_ACTIONS: OrgAction[] = ["project.view", "documents.view", "ai.use"];

/**
 * Loads a project the caller may do `action` on (the org permission table). A project the caller may not see
 * is PROJECT_NOT_FOUND, never FORBIDDEN, so its existence does not leak. Every project-scoped read and write
 * of the projects, milestones, planner, documents and sidebar domains goes through here.
 */
export async function loadProject(
  db: Db,
  principal: Principal | null,
  projectId: string,
  action: OrgAction,
): Promise<Project> {
  if (!principal) throw unauthorized();
  const project = await findProject(db, projectId);
  if (!project) throw notFound("Project", "PROJECT_NOT_FOUND");
  return authorizeProject(db, principal, project, action);
}

/**
 * A PUBLIC project for a signed-out visitor, to read its overview (as anyone signed in may). Anything else is
 * UNAUTHORIZED, the answer a missing project gets too, so a private project's existence does not leak.
 */
export async function loadPublicProject(db: Db, projectId: string): Promise<Project> {
  const project = await findProject(db, projectId);
  if (project?.repoVisibility !== "PUBLIC") throw unauthorized();
  return project;
}

/** `project`, already read (joined to another row), when the caller may do `action` on it: loadProject's rule. */
export async function authorizeProject(
  db: Db,
  principal: Principal,
  project: Project,
  action: OrgAction,
): Promise<Project> {
  if (project.repoVisibility === "PUBLIC" && PUBLIC_ACTIONS.includes(action)) return project;
  try {
    await requireOrgRole(db, principal, project.orgId, action, "Project");
  } catch (err) {
    if (!(err instanceof AppError) || (err.status !== 404 && err.status !== 403)) throw err;
    // Someone invited to this project only: their project role decides (the org's role did not let them).
    const role = PROJECT_MEMBER_ACTIONS.includes(action)
      ? await projectMemberRole(db, principal.userId, project.id)
      : null;
    if (!role) {
      if (err.status === 404) throw notFound("Project", "PROJECT_NOT_FOUND");
      throw err;
    }
    if (principal.via === "api-key" && !isReadAction(action) && !principal.scopes?.includes("write"))
      throw forbidden("This API key lacks the write scope.");
    if (!can(role, action)) throw forbidden();
  }
  return project;
}

/** The org actions a project role counts for, on that project only (org settings and membership stay the org's). */
const PROJECT_MEMBER_ACTIONS: OrgAction[] = [
  "project.view",
  "project.update",
  "project.invite",
  "project.manageMilestones",
  "project.approveStructure",
  "project.fund",
  "task.claim",
  "task.review",
  "documents.view",
  "documents.manage",
  "ai.use",
];

const memberRoleQuery = preparedFor((db) =>
  db
    .select({ role: projectMembers.role })
    .from(projectMembers)
    .where(
      and(
        eq(projectMembers.projectId, sql.placeholder("projectId")),
        eq(projectMembers.userId, sql.placeholder("userId")),
      ),
    )
    .limit(1)
    .prepare("project_member_role"),
);

/** The role `userId` was given in this project by a project invite, or null. */
export async function projectMemberRole(db: Db, userId: string, projectId: string): Promise<ProjectRole | null> {
  const [row] = await memberRoleQuery(db).execute({ projectId, userId });
  return row?.role ?? null;
}

const byId = preparedFor((db) =>
  db
    .select()
    .from(projects)
    .where(eq(projects.id, sql.placeholder("id")))
    .limit(1)
    .prepare("find_project"),
);

/** The project row, or undefined (ids that are not uuids are simply not found). */
export async function findProject(db: Db, projectId: string): Promise<Project | undefined> {
  if (!isUuid(projectId)) return undefined;
  const [project] = await byId(db).execute({ id: projectId });
  return project;
}

export { isUuid };
