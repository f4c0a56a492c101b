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
    /**
     * What was deposited when the quote was made: 0 for the first funding; for a top-up of an ACTIVE project the
     * deposits so far, so `amount` is only the difference and the deposits must reach `baseDeposited + amount`.
     */
    baseDeposited: numeric("base_deposited", { precision: 78, scale: 0 }).notNull().default("0"),
    /** Task id → payout in base units; the payouts add up to `baseDeposited + amount`. */
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

/**
 * A funded project's life on chain after its deposit (spec §3.1.5–3.1.6): the escrow key, the expiry date set by
 * the sponsor, the close request (with the end of the withdrawal delay) and the close with its refund. Rows are
 * written from the transactions the appliance sends and from the escrow's events, whichever comes first.
 */
export const projectFunding = pgTable(
  "project_funding",
  {
    projectId: uuid("project_id")
      .primaryKey()
      .references(() => projects.id, { onDelete: "cascade" }),
    /** onChainProjectId(projectId): how the escrow's events name the project. */
    projectKey: text("project_key").notNull(),
    /** After this date no new claims are taken and the unspent funds can be refunded. */
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    closeRequestedAt: timestamp("close_requested_at", { withTimezone: true }),
    /** When the sponsor may close: the end of the escrow's withdrawal delay. */
    closableAt: timestamp("closable_at", { withTimezone: true }),
    closeRequestTx: text("close_request_tx"),
    closedAt: timestamp("closed_at", { withTimezone: true }),
    refundAmount: numeric("refund_amount", { precision: 78, scale: 0 }),
    refundTx: text("refund_tx"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("project_funding_key").on(t.projectKey)],
);

/** Yield taken out of the vault for a project (the escrow's YieldHarvested), one row per harvest transaction. */
export const yieldHarvests = pgTable(
  "yield_harvests",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    txHash: text("tx_hash").notNull(),
    blockNumber: numeric("block_number", { precision: 78, scale: 0 }).notNull(),
    /** yieldAmount = fee (to the treasury) + sponsorShare (to the sponsor), exactly, in base units. */
    yieldAmount: numeric("yield_amount", { precision: 78, scale: 0 }).notNull(),
    fee: numeric("fee", { precision: 78, scale: 0 }).notNull(),
    sponsorShare: numeric("sponsor_share", { precision: 78, scale: 0 }).notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("yield_harvests_tx_key").on(t.txHash, t.projectId),
    index("yield_harvests_project_idx").on(t.projectId, t.createdAt),
    check("yield_harvests_split_check", sql`${t.yieldAmount} = ${t.fee} + ${t.sponsorShare}`),
  ],
);

export type ProjectFunding = typeof projectFunding.$inferSelect;
export type YieldHarvest = typeof yieldHarvests.$inferSelect;
