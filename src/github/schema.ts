import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { tasks } from "../milestones/schema";
import { projects } from "../projects/schema";
import { users } from "../users/schema";

/** Webhook deliveries as received: the delivery id is the idempotency key (a replay finds its row and stops). */
export const githubDeliveries = pgTable(
  "github_deliveries",
  {
    deliveryId: text("delivery_id").primaryKey(),
    event: text("event").notNull(),
    action: text("action"),
    payload: jsonb("payload").notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    processedAt: timestamp("processed_at", { withTimezone: true }),
    /** What the handler did, in a few words (shown to admins; never a secret). */
    outcome: text("outcome"),
  },
  (t) => [index("github_deliveries_received_idx").on(t.receivedAt)],
);

/** Installations of the App on accounts; kept after deletion (marked) so late deliveries do no harm. */
export const githubInstallations = pgTable("github_installations", {
  installationId: bigint("installation_id", { mode: "number" }).primaryKey(),
  accountLogin: text("account_login").notNull(),
  accountId: bigint("account_id", { mode: "number" }).notNull(),
  accountType: text("account_type").notNull(),
  suspendedAt: timestamp("suspended_at", { withTimezone: true }),
  deletedAt: timestamp("deleted_at", { withTimezone: true }),
  /** The time of the newest event applied: an older delivery never overwrites a newer one. */
  eventAt: timestamp("event_at", { withTimezone: true }).notNull(),
});

/**
 * Repositories the App can see, by GitHub's stable repository id: a project keeps its repository through renames
 * and transfers because the link is the id, not the name.
 */
export const githubRepositories = pgTable(
  "github_repositories",
  {
    repoId: bigint("repo_id", { mode: "number" }).primaryKey(),
    installationId: bigint("installation_id", { mode: "number" }),
    fullName: text("full_name").notNull(),
    private: boolean("private").notNull().default(false),
    projectId: uuid("project_id").references(() => projects.id, { onDelete: "set null" }),
    /** Removed from the installation or deleted on GitHub. */
    removedAt: timestamp("removed_at", { withTimezone: true }),
    eventAt: timestamp("event_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex("github_repositories_project_key").on(t.projectId).where(sql`${t.projectId} is not null`),
    index("github_repositories_name_idx").on(sql`lower(${t.fullName})`),
  ],
);

/** Pull requests seen on linked repositories, with the newest head applied (older deliveries are ignored). */
export const githubPulls = pgTable(
  "github_pulls",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    repoId: bigint("repo_id", { mode: "number" }).notNull(),
    number: integer("number").notNull(),
    authorId: bigint("author_id", { mode: "number" }).notNull(),
    authorLogin: text("author_login").notNull(),
    headSha: text("head_sha").notNull(),
    state: text("state").notNull(),
    merged: boolean("merged").notNull().default(false),
    taskId: uuid("task_id").references(() => tasks.id, { onDelete: "set null" }),
    /** `pull_request.updated_at` of the newest delivery applied. */
    eventAt: timestamp("event_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex("github_pulls_repo_number_key").on(t.repoId, t.number),
    index("github_pulls_task_idx").on(t.taskId),
  ],
);

/** Check runs created for verifications, so the completion updates the run it started. */
export const githubCheckRuns = pgTable(
  "github_check_runs",
  {
    verificationId: uuid("verification_id").primaryKey(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    repoId: bigint("repo_id", { mode: "number" }).notNull(),
    headSha: text("head_sha").notNull(),
    checkRunId: bigint("check_run_id", { mode: "number" }).notNull(),
    status: text("status").notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("github_check_runs_task_idx").on(t.taskId)],
);

/** Collaborator access granted to claimers of tasks in private repositories, until it is removed (KEPT: paid, kept). */
export type AccessState = "PENDING" | "ACTIVE" | "KEPT" | "REMOVED";

/** Repository access of one claimer for one task: invited (PENDING), accepted (ACTIVE), then REMOVED. */
export const githubAccess = pgTable(
  "github_access",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    repoId: bigint("repo_id", { mode: "number" }).notNull(),
    login: text("login").notNull(),
    state: text("state").$type<AccessState>().notNull().default("PENDING"),
    invitationId: bigint("invitation_id", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("github_access_open_key").on(t.taskId, t.userId).where(sql`${t.state} <> 'REMOVED'`),
    index("github_access_repo_login_idx").on(t.repoId, sql`lower(${t.login})`),
  ],
);

/** One-time states of the App manifest flow (CSRF protection of the callback). */
export const githubManifestStates = pgTable("github_manifest_states", {
  state: text("state").primaryKey(),
  userId: uuid("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  usedAt: timestamp("used_at", { withTimezone: true }),
});

/** A GitHub issue linked to a task: slash commands in its comments act on that task. */
export const githubIssueLinks = pgTable(
  "github_issue_links",
  {
    repoId: bigint("repo_id", { mode: "number" }).notNull(),
    number: integer("number").notNull(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("github_issue_links_key").on(t.repoId, t.number)],
);
