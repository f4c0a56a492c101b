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
import type { FundingMode } from "../projects/schema";

/**
 * Funding quotes (spec §3.1.5, §6.1.2): the amount a sponsor must deposit, with the rate, the oracle price and
 * when it was read. Amounts are integers in the token's base units.
 */
export const fundingQuotes = pgTable(
  "funding_quotes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    chainId: integer("chain_id").notNull(),
    escrowAddress: text("escrow_address").notNull(),
    /** ERC-20 address, or null for the native coin. */
    tokenAddress: text("token_address"),
    tokenDecimals: integer("token_decimals").notNull(),
    totalPoints: integer("total_points").notNull(),
    pointRateUsdCents: integer("point_rate_usd_cents").notNull(),
    usdCents: numeric("usd_cents", { precision: 78, scale: 0 }).notNull(),
    priceFeed: text("price_feed").notNull(),
    priceAnswer: numeric("price_answer", { precision: 78, scale: 0 }).notNull(),
    priceDecimals: integer("price_decimals").notNull(),
    priceUpdatedAt: timestamp("price_updated_at", { withTimezone: true }).notNull(),
    amount: numeric("amount", { precision: 78, scale: 0 }).notNull(),
    /** Task id → payout in base units; the payouts add up to `amount`. */
    payouts: jsonb("payouts").$type<Record<string, string>>().notNull(),
    createdById: uuid("created_by_id").references(() => users.id),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [index("funding_quotes_project_idx").on(t.projectId, t.createdAt)],
);

/** Confirmed deposits (spec §4.2.13): one per deposit transaction. */
export const fundingRecords = pgTable(
  "funding_records",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    quoteId: uuid("quote_id").references(() => fundingQuotes.id),
    amount: numeric("amount", { precision: 78, scale: 0 }).notNull(),
    /** ERC-20 address or "native". */
    token: text("token").notNull(),
    mode: text("mode").$type<FundingMode>().notNull(),
    depositTxHash: text("deposit_tx_hash").notNull(),
    blockNumber: numeric("block_number", { precision: 78, scale: 0 }).notNull(),
    depositor: text("depositor").notNull(),
    oracleRate: numeric("oracle_rate", { precision: 78, scale: 0 }).notNull(),
    oracleDecimals: integer("oracle_decimals").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("funding_records_tx_key").on(t.depositTxHash),
    index("funding_records_project_idx").on(t.projectId),
    check("funding_records_mode_check", sql`${t.mode} in ('ESCROW', 'YIELD')`),
  ],
);

export type FundingQuote = typeof fundingQuotes.$inferSelect;
export type FundingRecord = typeof fundingRecords.$inferSelect;
