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

/** How a named acceptance test ended in a verification: a missing one counts as not passed. */
export interface NamedTestResult {
  id: string;
  status: "passed" | "failed" | "missing" | "flaky";
}

/**
 * The harness's signed attestation of a verification (EIP-712, src/zk/attestation.ts), as stored with the run:
 * every field as a decimal or 0x string, the signature and the signer's address. The payout only verifies it.
 */
export interface SignedReport {
  attestation: Record<string, string>;
  signature: string;
  signer: string;
  chainId: number;
  escrow: string;
}

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
    /** The base commit the acceptance tests were pinned to (its results decide what counts as a regression). */
    baseCommit: text("base_commit"),
    /** Each named acceptance test's outcome. */
    named: jsonb("named").$type<NamedTestResult[]>(),
    /** Tests failing now that did not fail at the base commit. */
    newFailures: integer("new_failures"),
    /** Tests whose outcome changed between two runs. */
    flaky: jsonb("flaky").$type<string[]>(),
    /** Protected paths (tests, runner and CI config) the work changed; any is a refusal. */
    protectedChanges: jsonb("protected_changes").$type<string[]>(),
    /** The harness's signature over the report, bound to task, payee and amount; null when the rule does not hold. */
    signedReport: jsonb("signed_report").$type<SignedReport>(),
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

/**
 * A test bundle a sponsor uploaded for one task and keeps hidden from contributors: a tar archive of test files,
 * encrypted at rest with the appliance's master key. Its file names are not shown to contributors either.
 */
export const taskTestBundles = pgTable(
  "task_test_bundles",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    /** The encrypted tar archive (src/core/crypto.ts encrypt, base64). */
    ciphertext: text("ciphertext").notNull(),
    /** sha256 of the plain archive. */
    sha256: text("sha256").notNull(),
    files: jsonb("files").$type<string[]>().notNull().default([]),
    sizeBytes: integer("size_bytes").notNull(),
    uploadedById: uuid("uploaded_by_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("task_test_bundles_task_key").on(t.taskId)],
);

/**
 * Test results of a base commit, run once per (project, commit, suite): what passed before the work decides
 * which failures are regressions.
 */
export const harnessBaseResults = pgTable(
  "harness_base_results",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id").notNull(),
    commit: text("commit").notNull(),
    /** sha256 of the suite command, the pinned test set and the toolchain. */
    suiteKey: text("suite_key").notNull(),
    tests: jsonb("tests").$type<VerificationTest[]>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("harness_base_results_key").on(t.projectId, t.commit, t.suiteKey)],
);

export type TaskTestBundle = typeof taskTestBundles.$inferSelect;
