import { sql } from "drizzle-orm";
import { bigint, check, index, numeric, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { tasks } from "../milestones/schema";
import { zkProofs } from "../zk/schema";

export type PaymentStatus = "PENDING" | "SUBMITTED" | "COMPLETED" | "FAILED";

/**
 * Payments to contributors (spec §4.2.11), one per task at most: the unique task id is the payout's
 * idempotency key in the database, as the escrow's `paid[taskId]` is on chain.
 */
export const payments = pgTable(
  "payments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "restrict" }),
    /** Gross amount in base units; the payee received amount - fee. */
    amount: numeric("amount", { precision: 78, scale: 0 }).notNull(),
    fee: numeric("fee", { precision: 78, scale: 0 }),
    tokenAddress: text("token_address").notNull(),
    payee: text("payee").notNull(),
    txHash: text("tx_hash"),
    proofId: uuid("proof_id").references(() => zkProofs.id),
    status: text("status").$type<PaymentStatus>().notNull().default("PENDING"),
    lastError: text("last_error"),
    releasedAt: timestamp("released_at", { withTimezone: true }),
    /** The block of the release transaction (null for a release recorded before it was kept). */
    blockNumber: bigint("block_number", { mode: "number" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("payments_task_key").on(t.taskId),
    uniqueIndex("payments_tx_hash_key").on(t.txHash),
    index("payments_payee_idx").on(t.payee),
    check("payments_status_check", sql`${t.status} in ('PENDING', 'SUBMITTED', 'COMPLETED', 'FAILED')`),
  ],
);

export type Payment = typeof payments.$inferSelect;
