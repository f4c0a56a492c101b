import { index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { users } from "../users/schema";

/** Roles inside an organization (spec §4.2.4). */
export type OrgRole = "OWNER" | "MAINTAINER" | "SPONSOR" | "CONTRIBUTOR";

/** Organizations: the unit of membership and of every authorization check. */
export const orgs = pgTable(
  "orgs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    name: text("name").notNull(),
    description: text("description"),
    /**
     * File name of a logo under a node's uploads dir, written before logos moved into the database (`org_logos`);
     * null for logos uploaded since.
     */
    logoFile: text("logo_file"),
    /** The logo's media type, set while the org has a logo. */
    logoType: text("logo_type"),
    createdById: uuid("created_by_id").references(() => users.id),
    /** Set when the last member left (account deletion); archived orgs are visible to admins only. */
    archivedAt: timestamp("archived_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("orgs_created_by_idx").on(t.createdById)],
);

/** Who belongs to which org, with which role. */
export const orgMembers = pgTable(
  "org_members",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    role: text("role").$type<OrgRole>().notNull(),
    addedById: uuid("added_by_id").references(() => users.id),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("org_members_org_user_key").on(t.orgId, t.userId), index("org_members_user_idx").on(t.userId)],
);

/**
 * Org logos, in the database so every node serves them: the image encrypted under the master key (AES-256-GCM,
 * bound to the org), as every upload is.
 */
export const orgLogos = pgTable("org_logos", {
  orgId: uuid("org_id")
    .primaryKey()
    .references(() => orgs.id, { onDelete: "cascade" }),
  sealed: text("sealed").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
