import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import type { Config } from "./config";
import type { AppContext, Authenticator } from "./context";
import { loadOrCreateMasterKey } from "./crypto";
import { type Database, openDatabase } from "./db";
import { createCron, createJobQueue } from "./jobs";
import { log } from "./logger";
import { SettingsService } from "./settings/service";

export const VERSION: string = process.env.DEVSPONSOR_VERSION ?? pkg.version;

/** Where things live under the data dir. */
export const dataPaths = (dataDir: string) => ({
  pg: join(dataDir, "pg"),
  lancedb: join(dataDir, "lancedb"),
  uploads: join(dataDir, "uploads"),
  masterKey: join(dataDir, "master.key"),
  /** The embedded dev chain's journal and the contract deployments of every chain used. */
  chain: join(dataDir, "chain"),
  /** A proving key contributed on this installation (`devsponsor zk contribute`). */
  zk: join(dataDir, "zk"),
  tmp: join(dataDir, "tmp"),
});

/** The installation's stable id, created at first boot (it survives restarts and restores). */
async function ensureInstanceId(database: Database): Promise<string> {
  await database.exec("insert into instance (id) values ($1) on conflict (key) do nothing", [crypto.randomUUID()]);
  const [row] = await database.exec<{ id: string }>("select id from instance where key = 'this'");
  return row.id;
}

const nobody: Authenticator = async () => null;

/** Opens the database (migrating it), loads the master key and settings: everything but the HTTP server. */
export async function bootstrap(
  config: Config,
  opts: { database?: Database; env?: NodeJS.ProcessEnv } = {},
): Promise<AppContext> {
  const paths = dataPaths(config.dataDir);
  const masterKey = loadOrCreateMasterKey(config.masterKey, paths.masterKey);
  const database =
    opts.database ?? (await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dir: paths.pg }));
  const settings = new SettingsService(database.db, masterKey, opts.env ?? process.env);
  await settings.reload();
  const instanceId = await ensureInstanceId(database);
  const jobs = createJobQueue(database, { log });
  return {
    config,
    version: VERSION,
    instanceId,
    startedAt: new Date(),
    database,
    db: database.db,
    settings,
    masterKey,
    log,
    jobs,
    cron: createCron(database, jobs, log),
    authenticate: nobody,
    health: new Map(),
  };
}
