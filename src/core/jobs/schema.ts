import { sql } from "drizzle-orm";
import { bigserial, check, index, integer, jsonb, pgTable, real, text, timestamp, uuid } from "drizzle-orm/pg-core";

/** Where a job is in its life: `failed` waits for a retry at `run_at`; `completed` and `dead` are final. */
export const JOB_STATES = ["queued", "running", "completed", "failed", "dead"] as const;
export type JobState = (typeof JOB_STATES)[number];

/**
 * The durable job queue. A worker claims due rows with `FOR UPDATE SKIP LOCKED` and holds a lease
 * (`locked_until`) renewed by a heartbeat; a row whose lease ran out belongs to a dead worker and is queued again.
 * `key` is the idempotency key: enqueueing the same key twice returns the first job, which runs once.
 */
export const jobs = pgTable(
  "jobs",
  {
    id: uuid("id").primaryKey(),
    name: text("name").notNull(),
    payload: jsonb("payload").$type<unknown>().notNull(),
    /** The org and project the run belongs to (who may read it); null for system jobs, which only admins read. */
    orgId: uuid("org_id"),
    projectId: uuid("project_id"),
    key: text("key").unique("jobs_key_key"),
    state: text("state", { enum: JOB_STATES }).notNull().default("queued"),
    attempts: integer("attempts").notNull().default(0),
    maxAttempts: integer("max_attempts").notNull().default(5),
    runAt: timestamp("run_at", { withTimezone: true }).notNull().defaultNow(),
    lockedBy: text("locked_by"),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    lastError: text("last_error"),
    result: jsonb("result").$type<unknown>(),
    progress: real("progress").notNull().default(0),
    progressMessage: text("progress_message"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    finishedAt: timestamp("finished_at", { withTimezone: true }),
  },
  (t) => [
    // The claim query's path: due rows of one queue in claim order (with the id, no sort is needed).
    index("jobs_due_idx").on(t.name, t.runAt, t.id).where(sql`state in ('queued', 'failed')`),
    // The lease reaper's path.
    index("jobs_lease_idx").on(t.lockedUntil).where(sql`state = 'running'`),
    index("jobs_created_idx").on(t.createdAt),
    check("jobs_state_check", sql`${t.state} in ('queued', 'running', 'completed', 'failed', 'dead')`),
  ],
);

/** Progress and log lines of each run, kept for replay (`GET /api/runs/:id/stream` sends them first). */
export const jobEvents = pgTable(
  "job_events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    jobId: uuid("job_id")
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["progress", "log"] }).notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("job_events_job_idx").on(t.jobId, t.id)],
);
