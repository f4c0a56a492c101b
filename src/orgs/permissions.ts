// The permission table of spec §3.1.2 / §7.1, in one place. Every org- or project-scoped service calls
// `requireOrgRole` before it reads or writes; routes never decide on their own.
import { and, eq, sql } from "drizzle-orm";
import type { Principal } from "../core/context";
import { type Db, preparedFor } from "../core/db";
import { forbidden, notFound, unauthorized } from "../core/errors";
import { orgMembers, orgs, type OrgRole } from "./schema";

export type { OrgRole } from "./schema";

/** The org roles, most powerful first. */
export const ORG_ROLES = ["OWNER", "MAINTAINER", "SPONSOR", "CONTRIBUTOR"] as const satisfies readonly OrgRole[];

const O = "OWNER";
const M = "MAINTAINER";
const S = "SPONSOR";
const C = "CONTRIBUTOR";

/**
 * Which org roles may do what. `admin: true` marks read-only actions a platform admin may do in any org
 * ("admin sees all"); admins get no write rights in orgs they do not belong to.
 */
export const PERMISSIONS = {
  "org.view": { roles: [O, M, S, C], admin: true },
  "org.update": { roles: [O, M] }, // "manage settings"
  "org.delete": { roles: [O] },
  "members.view": { roles: [O, M, S, C], admin: true },
  "members.invite": { roles: [O, M] },
  "members.remove": { roles: [O, M] },
  "members.changeRole": { roles: [O, M] },
  "audit.view": { roles: [O], admin: true },
  "project.create": { roles: [O, M] },
  "project.view": { roles: [O, M, S, C], admin: true },
  "project.update": { roles: [O, M] },
  "project.delete": { roles: [O] },
  "project.invite": { roles: [O, M] },
  "project.manageMilestones": { roles: [O, M, S] },
  "project.approveStructure": { roles: [O, M, S] },
  "project.fund": { roles: [O, M, S] },
  "task.claim": { roles: [M, C] },
  "task.review": { roles: [O, M, S] },
  "documents.view": { roles: [O, M, S, C], admin: true },
  "documents.manage": { roles: [O, M, S] },
  "ai.use": { roles: [O, M, S, C] },
  "webhooks.view": { roles: [O, M] },
  "webhooks.manage": { roles: [O, M] },
} as const satisfies Record<string, { roles: readonly OrgRole[]; admin?: boolean }>;

/** Something a member may be allowed to do in an org. */
export type OrgAction = keyof typeof PERMISSIONS;

/** Whether `role` may do `action` (the table above; no database). */
export function can(role: OrgRole | null | undefined, action: OrgAction): boolean {
  if (!role) return false;
  return (PERMISSIONS[action].roles as readonly OrgRole[]).includes(role);
}

/** Whether a platform admin may do `action` in any org. */
export const adminCan = (action: OrgAction): boolean => (PERMISSIONS[action] as { admin?: boolean }).admin === true;

/** Actions that change nothing; an API key needs the `write` scope for every other one. */
export const isReadAction = (action: OrgAction) => action.endsWith(".view");

/**
 * Whether someone with `actorRole` may give `targetRole` to a member, or change/remove a member who has
 * `currentRole`: only owners hand out or take away ownership.
 */
export function canAssignRole(
  actorRole: OrgRole | null,
  currentRole: OrgRole | null,
  targetRole: OrgRole | null,
): boolean {
  if (!can(actorRole, "members.changeRole")) return false;
  if (actorRole === "OWNER") return true;
  return currentRole !== "OWNER" && targetRole !== "OWNER";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether `s` is a uuid (ids from URLs are checked before they reach SQL). */
export const isUuid = (s: unknown): s is string => typeof s === "string" && UUID.test(s);

/** What `requireOrgRole` found out about the caller in the org. */
export interface OrgAccess {
  orgId: string;
  userId: string;
  /** The caller's role, or null when a platform admin reads an org they do not belong to. */
  role: OrgRole | null;
  isAdmin: boolean;
}

/**
 * Throws unless the caller may do `action` in org `orgId`: UNAUTHORIZED without a caller, NOT_FOUND when the
 * caller is not a member (so org ids cannot be probed), FORBIDDEN when the role is not enough or an API key
 * lacks the `write` scope. Platform admins pass read-only actions everywhere.
 */
export async function requireOrgRole(
  db: Db,
  principal: Principal | null,
  orgId: string,
  action: OrgAction,
  notFoundWhat = "Organization",
): Promise<OrgAccess> {
  if (!principal) throw unauthorized();
  if (!isUuid(orgId)) throw notFound(notFoundWhat);
  if (principal.via === "api-key" && !isReadAction(action) && !principal.scopes?.includes("write")) {
    throw forbidden("This API key lacks the write scope.");
  }
  const row = await membershipOf(db, principal, orgId);
  const base = { orgId, userId: principal.userId, isAdmin: principal.isAdmin };
  if (row && !row.archivedAt && row.role) {
    if (can(row.role, action)) return { ...base, role: row.role };
    if (principal.isAdmin && adminCan(action)) return { ...base, role: row.role };
    throw forbidden();
  }
  if (row && principal.isAdmin && adminCan(action)) return { ...base, role: null };
  throw notFound(notFoundWhat);
}

type Membership = { archivedAt: Date | null; role: OrgRole | null } | undefined;

// The parts of one page check the same caller in the same org at once (overview, funding panel, sidebar): those
// checks share one query while it runs. Entries go when it settles, so nothing is remembered between checks; the
// key is the request's principal object and the database handle (a transaction sees its own rows).
const inFlight = new WeakMap<Principal, Map<string, { db: Db; row: Promise<Membership> }>>();

const membershipQuery = preparedFor((db) =>
  db
    .select({ archivedAt: orgs.archivedAt, role: orgMembers.role })
    .from(orgs)
    .leftJoin(orgMembers, and(eq(orgMembers.orgId, orgs.id), eq(orgMembers.userId, sql.placeholder("userId"))))
    .where(eq(orgs.id, sql.placeholder("orgId")))
    .prepare("org_membership"),
);

function membershipOf(db: Db, principal: Principal, orgId: string): Promise<Membership> {
  const mine = inFlight.get(principal) ?? new Map<string, { db: Db; row: Promise<Membership> }>();
  const running = mine.get(orgId);
  if (running && running.db === db) return running.row;
  const row = membershipQuery(db)
    .execute({ orgId, userId: principal.userId })
    .then(([r]) => r);
  inFlight.set(principal, mine);
  const entry = { db, row };
  mine.set(orgId, entry);
  const done = () => {
    if (mine.get(orgId) === entry) mine.delete(orgId);
  };
  row.then(done, done);
  return row;
}
