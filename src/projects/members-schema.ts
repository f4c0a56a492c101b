import { sql } from "drizzle-orm";
import { bigint, check, index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users } from "../users/schema";
import { projects } from "./schema";

/** The roles someone invited to one project may hold there (spec §3.3.2): no project has owners of its own. */
export type ProjectRole = "MAINTAINER" | "SPONSOR" | "CONTRIBUTOR";

/**
 * People who belong to one project without belonging to its org: invited to that project only. Their role
 * counts for that project as an org role would (src/projects/access.ts); the org's own members need no row here.
 */
export const projectMembers = pgTable(
  "project_members",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role").$type<ProjectRole>().notNull(),
    addedById: uuid("added_by_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("project_members_project_user_key").on(t.projectId, t.userId),
    index("project_members_user_idx").on(t.userId),
    check("project_members_role_check", sql`${t.role} in ('MAINTAINER', 'SPONSOR', 'CONTRIBUTOR')`),
  ],
);

/** Repository access of a project member: invited as a collaborator (PENDING), accepted (ACTIVE), then REMOVED. */
export type MemberAccessState = "PENDING" | "ACTIVE" | "REMOVED";

/**
 * Collaborator access to a private project repository given for membership (not for a claim). Kept after the
 * membership ends until GitHub confirms the removal, so a failed removal is retried by `github.access.sync`.
 */
export const projectRepoAccess = pgTable(
  "project_repo_access",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    repoId: bigint("repo_id", { mode: "number" }).notNull(),
    login: text("login").notNull(),
    state: text("state").$type<MemberAccessState>().notNull().default("PENDING"),
    invitationId: bigint("invitation_id", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("project_repo_access_open_key").on(t.projectId, t.userId).where(sql`${t.state} <> 'REMOVED'`),
    index("project_repo_access_repo_login_idx").on(t.repoId, sql`lower(${t.login})`),
  ],
);
