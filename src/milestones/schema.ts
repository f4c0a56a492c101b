import { sql } from "drizzle-orm";
import {
  check,
  index,
  integer,
  jsonb,
  numeric,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import { projects } from "../projects/schema";
import { users } from "../users/schema";

export type MilestoneStatus = "DRAFT" | "ACTIVE" | "FROZEN" | "COMPLETED";
/** A task's life (src/tasks/state.ts holds the transitions). */
export type TaskStatus = "OPEN" | "CLAIMED" | "VERIFYING" | "VERIFIED" | "PAYING" | "PAID";

/** How the test harness decides a task is done: the command to run and how many tests must pass. */
export interface VerificationRules {
  /** Tests that must pass (the ZK circuit's public rule). */
  minPassingTests: number;
  /** Empty: detected from the repository (bun, npm, pytest, go test, cargo test). */
  testCommand: string;
  /** Further checks in words (lint clean, no new warnings, …), shown to contributors and reviewers. */
  rules: string[];
  /**
   * The acceptance tests the sponsor names (at most 32 test ids as the harness reports them, e.g.
   * "test > src/a.test.ts > adds"): each must run and pass. Empty: every test must pass.
   */
  acceptanceTests?: string[];
  /** Acceptance test files (repository paths): pinned at approval and put over the contributor's checkout. */
  testFiles?: string[];
}

/**
 * What a task's acceptance tests are pinned to when the plan is approved: a commit of the base branch (the test
 * files are taken from it), or a test bundle the sponsor uploaded and keeps hidden from contributors.
 */
export type AcceptancePin =
  | { kind: "commit"; commit: string; ref: string; pinnedAt: string }
  | { kind: "bundle"; bundleId: string; sha256: string; pinnedAt: string; baseCommit?: string };

/** Milestones of a project (spec §4.2.6); `points` is the sum of its tasks' points. */
export const milestones = pgTable(
  "milestones",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    points: integer("points").notNull().default(0),
    acceptanceCriteria: jsonb("acceptance_criteria").$type<string[]>().notNull().default([]),
    verificationRules: jsonb("verification_rules").$type<string[]>().notNull().default([]),
    estimatedHours: integer("estimated_hours"),
    position: integer("position").notNull(),
    status: text("status").$type<MilestoneStatus>().notNull().default("DRAFT"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("milestones_project_idx").on(t.projectId, t.position),
    check("milestones_status_check", sql`${t.status} in ('DRAFT', 'ACTIVE', 'FROZEN', 'COMPLETED')`),
    check("milestones_points_check", sql`${t.points} >= 0`),
  ],
);

/** Tasks, the tasks contributors claim (spec §4.2.7). `project_id` is kept for project-wide sums. */
export const tasks = pgTable(
  "tasks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    milestoneId: uuid("milestone_id")
      .notNull()
      .references(() => milestones.id, { onDelete: "cascade" }),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    title: text("title").notNull(),
    description: text("description").notNull().default(""),
    points: integer("points").notNull(),
    acceptanceCriteria: jsonb("acceptance_criteria").$type<string[]>().notNull().default([]),
    verification: jsonb("verification")
      .$type<VerificationRules>()
      .notNull()
      .default({ minPassingTests: 1, testCommand: "", rules: [] }),
    estimatedHours: integer("estimated_hours"),
    position: integer("position").notNull(),
    status: text("status").$type<TaskStatus>().notNull().default("OPEN"),
    /** Token base units, computed when the project is funded. */
    payoutAmount: numeric("payout_amount", { precision: 78, scale: 0 }),
    claimedById: uuid("claimed_by_id").references(() => users.id),
    /** Set when the plan is approved (or a bundle uploaded later): what the harness checks the work against. */
    acceptancePin: jsonb("acceptance_pin").$type<AcceptancePin>(),
    prUrl: text("pr_url"),
    branchName: text("branch_name"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("tasks_milestone_idx").on(t.milestoneId, t.position),
    index("tasks_project_idx").on(t.projectId),
    index("tasks_claimed_by_idx").on(t.claimedById),
    check("tasks_points_check", sql`${t.points} >= 0`),
    check("tasks_status_check", sql`${t.status} in ('OPEN', 'CLAIMED', 'VERIFYING', 'VERIFIED', 'PAYING', 'PAID')`),
  ],
);

/** Where a draft version came from. */
export type DraftSource = "ai" | "template" | "edit" | "regenerate" | "restore" | "approved";

/**
 * Every version of a project's milestone structure, as a full snapshot (the plan JSON). A generation, an edit,
 * a regeneration of one milestone and the approval each append one; earlier versions can be restored.
 */
export const milestoneDrafts = pgTable(
  "milestone_drafts",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    source: text("source").$type<DraftSource>().notNull(),
    /** One line: what changed, or why the template planner was used. */
    note: text("note").notNull().default(""),
    plan: jsonb("plan").notNull(),
    model: text("model"),
    runId: text("run_id"),
    createdById: uuid("created_by_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("milestone_drafts_project_version_key").on(t.projectId, t.version)],
);

export type Milestone = typeof milestones.$inferSelect;
export type Task = typeof tasks.$inferSelect;
export type MilestoneDraft = typeof milestoneDrafts.$inferSelect;
