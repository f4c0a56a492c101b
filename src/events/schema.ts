import { sql } from "drizzle-orm";
import { index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * The transactional outbox of domain events (`task.claimed`, `project.funded`, …). A row is written in the
 * transaction of the change it announces, together with the `events.deliver` job that hands it to subscribers;
 * `delivered_to` lists the subscribers that have it, so a retry reaches only the ones still missing it.
 */
export const domainEvents = pgTable(
  "domain_events",
  {
    id: uuid("id").primaryKey(),
    name: text("name").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    orgId: uuid("org_id"),
    projectId: uuid("project_id"),
    /** Ids of the subscribers that have handled the event. */
    deliveredTo: text("delivered_to").array().notNull().default(sql`'{}'::text[]`),
    /** Delivery runs so far (the sweep gives up on an event after many). */
    attempts: integer("attempts").notNull().default(0),
    lastError: text("last_error"),
    /** Set once every subscriber has the event. */
    deliveredAt: timestamp("delivered_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // The sweep's path: undelivered events only.
    index("domain_events_pending_idx").on(t.createdAt).where(sql`delivered_at is null`),
    index("domain_events_name_idx").on(t.name, t.createdAt),
  ],
);
