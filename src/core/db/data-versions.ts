// Version counters the database keeps for groups of tables, so a cache of what only those tables decide survives
// writes elsewhere. Triggers (written by scripts/db-generate.ts into the migration) bump a group's row in the writing
// transaction, so the new version becomes visible exactly when the write does, on every node (src/core/db/snapshot.ts
// reads them with the snapshot). Group `auth`: what signed-in credentials resolve to (sessions, API keys and their
// users); the touches that record a session's or key's use (`last_seen_at`, `last_used_at`) leave it alone.
import { bigint, pgTable, text } from "drizzle-orm/pg-core";

/** One row per group of tables: its version, raised by every committed write to them. */
export const dataVersions = pgTable("data_versions", {
  name: text("name").primaryKey(),
  version: bigint("version", { mode: "number" }).notNull().default(0),
});
