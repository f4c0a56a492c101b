// Regenerates SQL migrations from the drizzle schema and the module that embeds them in the binary.
// Usage: bun run db:generate [--keep]   (--keep appends a migration instead of starting over)
import { $ } from "bun";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { writeEmbeddedMigrations } from "./embed-migrations";

const keep = process.argv.includes("--keep");
if (!keep && existsSync("migrations")) {
  for (const f of readdirSync("migrations")) rmSync(`migrations/${f}`, { recursive: true, force: true });
}
await $`bun --bun node_modules/.bin/drizzle-kit generate --name ${keep ? "change" : "init"}`;
await writeEmbeddedMigrations();
