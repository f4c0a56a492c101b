import { sql } from "drizzle-orm";
import { index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { orgs, type OrgRole } from "../orgs/schema";
import { projects } from "../projects/schema";
import { users } from "../users/schema";

export type InviteStatus = "PENDING" | "ACCEPTED" | "DECLINED" | "REVOKED" | "EXPIRED";

/**
 * Invitations to an org, or to one project of it (`project_id`), by e-mail or GitHub username. The e-mail is
 * stored encrypted (spec §7.6) with a keyed hash beside it for look-ups; the accept token sent by e-mail is stored
 * only as a hash. At most one PENDING invite per org (or project) and invitee (partial unique indexes).
 */
export const orgInvites = pgTable(
  "org_invites",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    orgId: uuid("org_id")
      .notNull()
      .references(() => orgs.id, { onDelete: "cascade" }),
    /** Set for an invite to this project only: accepting makes a project member, not an org member. */
    projectId: uuid("project_id").references(() => projects.id, { onDelete: "cascade" }),
    invitedById: uuid("invited_by_id").references(() => users.id),
    emailEnc: text("email_enc"),
    emailHash: text("email_hash"),
    /** Lower-cased GitHub username. */
    githubLogin: text("github_login"),
    /** The invitee's account, when it is known (at creation or at acceptance). */
    inviteeId: uuid("invitee_id").references(() => users.id, { onDelete: "set null" }),
    role: text("role").$type<OrgRole>().notNull(),
    message: text("message"),
    tokenHash: text("token_hash").notNull(),
    status: text("status").$type<InviteStatus>().notNull().default("PENDING"),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    respondedAt: timestamp("responded_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("org_invites_pending_email_key")
      .on(t.orgId, t.emailHash)
      .where(sql`${t.status} = 'PENDING' and ${t.projectId} is null`),
    uniqueIndex("org_invites_pending_github_key")
      .on(t.orgId, t.githubLogin)
      .where(sql`${t.status} = 'PENDING' and ${t.projectId} is null`),
    uniqueIndex("project_invites_pending_email_key")
      .on(t.projectId, t.emailHash)
      .where(sql`${t.status} = 'PENDING' and ${t.projectId} is not null`),
    uniqueIndex("project_invites_pending_github_key")
      .on(t.projectId, t.githubLogin)
      .where(sql`${t.status} = 'PENDING' and ${t.projectId} is not null`),
    uniqueIndex("org_invites_token_key").on(t.tokenHash),
    index("org_invites_invitee_idx").on(t.inviteeId),
    index("org_invites_email_hash_idx").on(t.emailHash),
  ],
);
