import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Admin settings, one row per key. Secret values live only in `secret`, encrypted with the master key. */
export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: jsonb("value"),
  secret: text("secret"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  updatedBy: text("updated_by"),
});

/** One row describing this installation: its stable id and when it first booted. */
export const instance = pgTable("instance", {
  // A single row: the constant key makes a second insert (two processes booting at once) a no-op.
  key: text("key").primaryKey().default("this"),
  id: text("id").notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});
