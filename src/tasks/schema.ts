import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { tasks } from "../milestones/schema";
import { users } from "../users/schema";

/** How a claim ended: given up, taken back by the sponsor, run out of time, or paid. */
export type ClaimState = "ACTIVE" | "UNCLAIMED" | "RELEASED" | "EXPIRED" | "PAID";

/**
 * Claims of tasks. At most one ACTIVE claim per task (a partial unique index, so two people claiming at the same
 * instant get exactly one winner); ended claims stay as history.
 */
export const taskClaims = pgTable(
  "task_claims",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    state: text("state").$type<ClaimState>().notNull().default("ACTIVE"),
    claimedAt: timestamp("claimed_at", { withTimezone: true }).notNull().defaultNow(),
    /** No work linked by then: the claim expires (a linked claim does not). */
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    /** When the claimer was told the claim is about to expire. */
    warnedAt: timestamp("warned_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    endReason: text("end_reason"),
  },
  (t) => [
    uniqueIndex("task_claims_one_active_key").on(t.taskId).where(sql`${t.state} = 'ACTIVE'`),
    index("task_claims_user_idx").on(t.userId, t.state),
    index("task_claims_expiry_idx").on(t.state, t.expiresAt),
    check("task_claims_state_check", sql`${t.state} in ('ACTIVE', 'UNCLAIMED', 'RELEASED', 'EXPIRED', 'PAID')`),
  ],
);

/** What a claimer linked as the work: a pull request or a branch, at an exact commit. */
export type WorkKind = "pull_request" | "branch";

/** Work links of a claim; the newest one is the one verified. */
export const taskWorkLinks = pgTable(
  "task_work_links",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    claimId: uuid("claim_id")
      .notNull()
      .references(() => taskClaims.id, { onDelete: "cascade" }),
    kind: text("kind").$type<WorkKind>().notNull(),
    /** The pull request's URL, or null for a branch. */
    url: text("url"),
    /** The git URL the commit is fetched from (the project's repository or a fork). */
    repoUrl: text("repo_url").notNull(),
    branch: text("branch").notNull(),
    commit: text("commit").notNull(),
    committedAt: timestamp("committed_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("task_work_links_task_idx").on(t.taskId, t.createdAt),
    check("task_work_links_kind_check", sql`${t.kind} in ('pull_request', 'branch')`),
  ],
);

/** A verification's outcome; ERROR is a problem outside the contributor's code (sandbox, fetch), not a verdict. */
export type VerificationStatus = "QUEUED" | "RUNNING" | "PASSED" | "FAILED" | "FLAKY" | "ERROR";

/** One test of a verification as shown to people. */
export interface VerificationTest {
  id: string;
  passed: boolean;
}

/**
 * Verifications of linked work: one harness run of one commit. The stored report (digest, tests) is what the
 * payout proves; nothing a caller hands in.
 */
export const taskVerifications = pgTable(
  "task_verifications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    claimId: uuid("claim_id")
      .notNull()
      .references(() => taskClaims.id, { onDelete: "cascade" }),
    workLinkId: uuid("work_link_id")
      .notNull()
      .references(() => taskWorkLinks.id, { onDelete: "cascade" }),
    commit: text("commit").notNull(),
    /** 1 for the first run of this commit, 2 after "Verify again", … */
    attempt: integer("attempt").notNull().default(1),
    status: text("status").$type<VerificationStatus>().notNull().default("QUEUED"),
    jobId: text("job_id"),
    reportHash: text("report_hash"),
    /** The harness digest (canonical report) as the harness produced it. */
    digest: jsonb("digest"),
    tests: jsonb("tests").$type<VerificationTest[]>(),
    passedCount: integer("passed_count"),
    failedCount: integer("failed_count"),
    /** Why it failed, in words (failing tests named, or the error). */
    reason: text("reason"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    uniqueIndex("task_verifications_commit_attempt_key").on(t.taskId, t.commit, t.attempt),
    index("task_verifications_task_idx").on(t.taskId, t.createdAt),
    check(
      "task_verifications_status_check",
      sql`${t.status} in ('QUEUED', 'RUNNING', 'PASSED', 'FAILED', 'FLAKY', 'ERROR')`,
    ),
  ],
);

export type TaskClaim = typeof taskClaims.$inferSelect;
export type TaskWorkLink = typeof taskWorkLinks.$inferSelect;
export type TaskVerification = typeof taskVerifications.$inferSelect;
