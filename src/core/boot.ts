import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import type { Config } from "./config";
import type { AppContext, Authenticator } from "./context";
import { loadOrCreateMasterKey } from "./crypto";
import { type Database, openDatabase } from "./db";
import { log } from "./logger";
import { SettingsService } from "./settings/service";

export const VERSION: string = process.env.DEVSPONSOR_VERSION ?? pkg.version;

/** Where things live under the data dir. */
export const dataPaths = (dataDir: string) => ({
  pg: join(dataDir, "pg"),
  lancedb: join(dataDir, "lancedb"),
  uploads: join(dataDir, "uploads"),
  masterKey: join(dataDir, "master.key"),
  tmp: join(dataDir, "tmp"),
});

const nobody: Authenticator = async () => null;

/** Opens the database (migrating it), loads the master key and settings: everything but the HTTP server. */
export async function bootstrap(config: Config, opts: { database?: Database } = {}): Promise<AppContext> {
  const paths = dataPaths(config.dataDir);
  const masterKey = loadOrCreateMasterKey(config.masterKey, paths.masterKey);
  const database = opts.database ?? (await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dir: paths.pg }));
  const settings = new SettingsService(database.db, masterKey);
  await settings.reload();
  return {
    config,
    version: VERSION,
    startedAt: new Date(),
    database,
    db: database.db,
    settings,
    masterKey,
    log,
    authenticate: nobody,
    health: new Map(),
    services: {},
  };
}
