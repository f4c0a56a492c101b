// Regenerates SQL migrations from the drizzle schema and the module that embeds them in the binary.
// Usage: bun run db:generate [--keep]   (--keep appends a migration instead of starting over)
import { $ } from "bun";
import { appendFileSync, existsSync, readdirSync, rmSync } from "node:fs";
import { writeEmbeddedMigrations } from "./embed-migrations";

const keep = process.argv.includes("--keep");
if (!keep && existsSync("migrations")) {
  for (const f of readdirSync("migrations")) rmSync(`migrations/${f}`, { recursive: true, force: true });
}
await $`bun --bun node_modules/.bin/drizzle-kit generate --name ${keep ? "change" : "init"}`;
/** A trigger raising `group`'s version (src/core/db/data-versions.ts) on every write to `table` but `touch`. */
function versionTriggers(table: string, group: string, touch?: string) {
  const bump = `EXECUTE FUNCTION bump_data_version('${group}')`;
  if (!touch) {
    return `CREATE TRIGGER ${table}_${group}_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ${table}
  FOR EACH STATEMENT ${bump};`;
  }
  return `CREATE TRIGGER ${table}_${group}_version AFTER INSERT OR DELETE OR TRUNCATE ON ${table} FOR EACH STATEMENT ${bump};
--> statement-breakpoint
CREATE TRIGGER ${table}_${group}_version_update AFTER UPDATE ON ${table} FOR EACH ROW
  WHEN ((to_jsonb(OLD) - '${touch}') IS DISTINCT FROM (to_jsonb(NEW) - '${touch}')) ${bump};`;
}

const DATA_VERSION_TRIGGERS = [
  `CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO data_versions AS d (name, version) VALUES (TG_ARGV[0], 1)
    ON CONFLICT (name) DO UPDATE SET version = d.version + 1;
  RETURN NULL;
END $$;`,
  versionTriggers("users", "auth"),
  versionTriggers("sessions", "auth", "last_seen_at"),
  versionTriggers("api_keys", "auth", "last_used_at"),
].join("\n--> statement-breakpoint\n");

if (!keep) {
  // What drizzle-kit does not generate (triggers) goes at the end of the first migration.
  const [init] = readdirSync("migrations").filter((f) => f.endsWith(".sql"));
  appendFileSync(`migrations/${init}`, `--> statement-breakpoint\n${DATA_VERSION_TRIGGERS}\n`);
}
await writeEmbeddedMigrations();
