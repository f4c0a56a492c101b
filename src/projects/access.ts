import { and, eq } from "drizzle-orm";
import type { Principal } from "../core/context";
import type { Db } from "../core/db";
import { forbidden, notFound, unauthorized } from "../core/errors";
import { orgMembers, type OrgRole } from "../orgs/schema";
import { type Project, projects } from "./schema";

/** What a caller wants to do with a project. */
export type ProjectAction = "view" | "manage" | "audit";

/** Org roles allowed each action; `view` on a public project needs only a signed-in user. */
const ROLES: Record<ProjectAction, OrgRole[]> = {
  view: ["OWNER", "MAINTAINER", "SPONSOR", "CONTRIBUTOR"],
  manage: ["OWNER", "MAINTAINER", "SPONSOR"],
  audit: ["OWNER"],
};

/** The caller's role in an org, or null. */
export async function orgRoleOf(db: Db, userId: string, orgId: string): Promise<OrgRole | null> {
  const [row] = await db
    .select({ role: orgMembers.role })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, userId)))
    .limit(1);
  return row?.role ?? null;
}

/** Whether `principal` may do `action` in org `orgId` (admins may do everything). */
export async function canInOrg(db: Db, principal: Principal, orgId: string, action: ProjectAction) {
  if (principal.isAdmin) return true;
  const role = await orgRoleOf(db, principal.userId, orgId);
  return role !== null && ROLES[action].includes(role);
}

/** Throws FORBIDDEN (or NOT_FOUND for non-members, so an org's existence does not leak) unless allowed. */
export async function requireInOrg(db: Db, principal: Principal | null, orgId: string, action: ProjectAction) {
  if (!principal) throw unauthorized();
  if (principal.isAdmin) return;
  const role = await orgRoleOf(db, principal.userId, orgId);
  if (role === null) throw notFound("Organization");
  if (!ROLES[action].includes(role)) throw forbidden();
}

/**
 * Loads a project the caller may `action`. A private project the caller cannot see is PROJECT_NOT_FOUND, not
 * FORBIDDEN: its existence is not revealed. Every project-scoped read and write goes through here.
 */
export async function loadProject(db: Db, principal: Principal | null, projectId: string, action: ProjectAction) {
  if (!principal) throw unauthorized();
  const project = await findProject(db, projectId);
  if (!project) throw notFound("Project", "PROJECT_NOT_FOUND");
  if (principal.isAdmin) return project;
  const role = await orgRoleOf(db, principal.userId, project.orgId);
  const visible = role !== null || project.repoVisibility === "PUBLIC";
  if (!visible) throw notFound("Project", "PROJECT_NOT_FOUND");
  if (action === "view") return project;
  if (role === null || !ROLES[action].includes(role)) throw forbidden();
  return project;
}

/** The project row, or undefined (ids that are not uuids are simply not found). */
export async function findProject(db: Db, projectId: string): Promise<Project | undefined> {
  if (!isUuid(projectId)) return undefined;
  const [project] = await db.select().from(projects).where(eq(projects.id, projectId)).limit(1);
  return project;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a uuid (route ids are checked before they reach SQL or a vector-store filter). */
export const isUuid = (s: string) => UUID.test(s);
