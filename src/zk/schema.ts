import { sql } from "drizzle-orm";
import { check, index, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { tasks } from "../milestones/schema";

export type ZkProofStatus = "PENDING" | "VERIFIED" | "FAILED";

/** Stored with a proof: everything needed to submit it again (spec §4.2.10). */
export interface ZkProofData {
  proof: unknown;
  publicSignals: string[];
  calldata: { a: string[]; b: string[][]; c: string[] };
  attestation: Record<string, string>;
  signature: string;
  chainId: number;
  escrow: string;
}

/** Proofs of a task's verification report, bound to its payee and amount (spec §4.2.10). */
export const zkProofs = pgTable(
  "zk_proofs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    taskId: uuid("task_id")
      .notNull()
      .references(() => tasks.id, { onDelete: "cascade" }),
    /** The task id on chain and in the circuit (decimal field element of the task's id). */
    chainTaskId: text("chain_task_id").notNull(),
    proofData: jsonb("proof_data").$type<ZkProofData>().notNull(),
    root: text("root").notNull(),
    digest: text("digest").notNull(),
    txHash: text("tx_hash"),
    status: text("status").$type<ZkProofStatus>().notNull().default("PENDING"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("zk_proofs_task_idx").on(t.taskId),
    index("zk_proofs_chain_task_idx").on(t.chainTaskId),
    check("zk_proofs_status_check", sql`${t.status} in ('PENDING', 'VERIFIED', 'FAILED')`),
  ],
);

export type ZkProof = typeof zkProofs.$inferSelect;
