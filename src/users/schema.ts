import { sql } from "drizzle-orm";
import { boolean, index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

/** What a user does on the platform; both may be set (spec §3.1.1: dual roles allowed). */
export type UserRole = "SPONSOR" | "CONTRIBUTOR";

/** Per-user preferences changed with PATCH /api/me. */
export interface UserPreferences {
  emailNotifications?: boolean;
  /** Per notification type and channel (src/notifications/types.ts); missing ones follow the type's default. */
  notifications?: Record<string, { inApp?: boolean; email?: boolean }>;
}

/**
 * People who sign in. A deleted account stays as an anonymized tombstone (`deleted_at` set, personal fields
 * cleared) so that foreign keys and the audit chain keep pointing at a valid row.
 */
export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** Lower-cased; unique among accounts that have one. */
    email: text("email"),
    emailVerified: boolean("email_verified").notNull().default(false),
    name: text("name").notNull(),
    githubId: text("github_id"),
    githubLogin: text("github_login"),
    avatarUrl: text("avatar_url"),
    /** argon2id (Bun.password); null for GitHub-only accounts. */
    passwordHash: text("password_hash"),
    isAdmin: boolean("is_admin").notNull().default(false),
    roles: text("roles").array().$type<UserRole[]>().notNull().default(sql`'{}'::text[]`),
    preferences: jsonb("preferences").$type<UserPreferences>().notNull().default({}),
    onboardedAt: timestamp("onboarded_at", { withTimezone: true }),
    /** Set by an admin: the account cannot sign in, its sessions and API keys stop working. */
    disabledAt: timestamp("disabled_at", { withTimezone: true }),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    uniqueIndex("users_github_id_key").on(t.githubId),
    index("users_github_login_idx").on(sql`lower(${t.githubLogin})`),
  ],
);

/** EVM addresses a user proved to control with a Sign-In-with-Ethereum signature; one may receive payouts. */
export const wallets = pgTable(
  "wallets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** EIP-55 checksummed. */
    address: text("address").notNull(),
    chainId: text("chain_id").notNull(),
    isPayout: boolean("is_payout").notNull().default(false),
    /** The signed EIP-4361 message and signature, kept as the proof of control. */
    siweMessage: text("siwe_message").notNull(),
    signature: text("signature").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex("wallets_address_key").on(sql`lower(${t.address})`),
    uniqueIndex("wallets_one_payout_per_user").on(t.userId).where(sql`${t.isPayout}`),
  ],
);

/** Single-use nonces handed out for SIWE messages; a signature is only accepted with an unused, fresh nonce. */
export const walletNonces = pgTable("wallet_nonces", {
  nonce: text("nonce").primaryKey(),
  userId: uuid("user_id")
    .notNull()
    .references(() => users.id, { onDelete: "cascade" }),
  expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  usedAt: timestamp("used_at", { withTimezone: true }),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
