import { bigint, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/** Where each chain follower stands: the last block read and its hash (a changed hash means a reorg). */
export const chainCursors = pgTable("chain_cursors", {
  key: text("key").primaryKey(),
  blockNumber: bigint("block_number", { mode: "bigint" }).notNull(),
  blockHash: text("block_hash").notNull(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Escrow events at confirmation depth, recorded once each (chain, tx hash, log index). */
export const chainEvents = pgTable(
  "chain_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    chainId: integer("chain_id").notNull(),
    contract: text("contract").notNull(),
    blockNumber: bigint("block_number", { mode: "bigint" }).notNull(),
    blockHash: text("block_hash").notNull(),
    txHash: text("tx_hash").notNull(),
    logIndex: integer("log_index").notNull(),
    name: text("name").notNull(),
    args: jsonb("args").$type<Record<string, string | number | boolean>>().notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("chain_events_log_key").on(t.chainId, t.txHash, t.logIndex),
    index("chain_events_block_idx").on(t.chainId, t.contract, t.blockNumber),
    index("chain_events_name_idx").on(t.name),
  ],
);
