import { bigint, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/**
 * The append-only audit trail. Rows form a hash chain: `hash` covers the row's fields, the hash of its payload
 * and the previous row's hash, so editing, deleting or inserting a row breaks every later link. The payload is
 * covered through `payload_hash`, which lets account deletion erase personal data from a payload (`redacted_at`)
 * without breaking the chain. No foreign keys: the trail outlives what it describes.
 */
export const auditLog = pgTable(
  "audit_log",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    seq: bigint("seq", { mode: "number" }).notNull(),
    actorId: uuid("actor_id"),
    action: text("action").notNull(),
    targetType: text("target_type").notNull(),
    targetId: text("target_id"),
    orgId: uuid("org_id"),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    payloadHash: text("payload_hash").notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
    redactedAt: timestamp("redacted_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex("audit_log_seq_key").on(t.seq),
    uniqueIndex("audit_log_prev_hash_key").on(t.prevHash),
    index("audit_log_org_idx").on(t.orgId, t.seq),
    index("audit_log_actor_idx").on(t.actorId),
  ],
);
