import { index, integer, jsonb, pgTable, real, text, timestamp, uuid } from "drizzle-orm/pg-core";

/** What a model call was for. */
export type AiPurpose = "planner" | "planner.repair" | "sidebar" | "embed" | "doctor";
export type AiCallStatus = "ok" | "invalid" | "error";

/**
 * Every model call (spec §4.5): prompt, model, temperature, output, token counts, latency, and a SHA-256
 * checksum over those fields so an edited row is detectable. No foreign keys: the record outlives the project.
 */
export const aiCalls = pgTable(
  "ai_calls",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    purpose: text("purpose").$type<AiPurpose>().notNull(),
    orgId: uuid("org_id"),
    projectId: uuid("project_id"),
    userId: uuid("user_id"),
    /** The job run that made the call, when a job did. */
    runId: text("run_id"),
    provider: text("provider").notNull(),
    model: text("model").notNull(),
    temperature: real("temperature"),
    system: text("system").notNull().default(""),
    /** The messages sent after the system prompt, as `{ role, content }[]` (embeddings: input hashes). */
    prompt: jsonb("prompt").$type<{ role: string; content: string }[]>().notNull(),
    output: text("output").notNull().default(""),
    status: text("status").$type<AiCallStatus>().notNull(),
    error: text("error"),
    inputTokens: integer("input_tokens"),
    outputTokens: integer("output_tokens"),
    latencyMs: integer("latency_ms").notNull(),
    checksum: text("checksum").notNull(),
    /** Set when account deletion erased the prompt and output; the checksum stays, matched against the chain. */
    redactedAt: timestamp("redacted_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("ai_calls_org_idx").on(t.orgId, t.createdAt),
    index("ai_calls_project_idx").on(t.projectId, t.createdAt),
  ],
);

export type AiCall = typeof aiCalls.$inferSelect;
