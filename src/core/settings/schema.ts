import { jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/** Admin settings, one row per key. Secret values live only in `secret`, encrypted with the master key. */
export const settings = pgTable("settings", {
  key: text("key").primaryKey(),
  value: jsonb("value"),
  secret: text("secret"),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  updatedBy: text("updated_by"),
});
