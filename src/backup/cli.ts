import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../core/config";
import { createBackup, restoreBackup } from "./service";

/** `devsponsor backup FILE` */
export async function backupCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    options: { "data-dir": { type: "string" } },
    allowPositionals: true,
  });
  if (!positionals[0]) {
    console.error("usage: devsponsor backup FILE");
    return 2;
  }
  const config = loadConfig(process.env, { dataDir: values["data-dir"] });
  const m = await createBackup(config.dataDir, resolve(positionals[0]), !!config.databaseUrl);
  console.log(`backup written: ${positionals[0]} (${m.entries.join(", ")})`);
  if (config.databaseUrl) console.log("note: the PostgreSQL database is not in the archive; back it up with pg_dump");
  return 0;
}

/** `devsponsor restore FILE [--force]` */
export async function restoreCommand(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    options: { "data-dir": { type: "string" }, force: { type: "boolean" } },
    allowPositionals: true,
  });
  if (!positionals[0]) {
    console.error("usage: devsponsor restore FILE [--force]");
    return 2;
  }
  const config = loadConfig(process.env, { dataDir: values["data-dir"] });
  const m = await restoreBackup(config.dataDir, resolve(positionals[0]), !!values.force);
  console.log(`restored ${m.entries.join(", ")} from a backup of ${m.createdAt} (version ${m.version})`);
  return 0;
}
