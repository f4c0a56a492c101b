import type { PGlite } from "@electric-sql/pglite";
import { createHash } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { log } from "../logger";
import { MIGRATIONS } from "./migrations.gen";
import { forDrizzle, openPGlite } from "./pglite";
import * as schema from "./schema";

/** The typed drizzle client, the same type on PGlite and PostgreSQL. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/**
 * A statement built once per database handle (the app's, or one transaction's) and then run with placeholders:
 * building a query in drizzle costs more CPU than PostgreSQL takes to answer a small one, so the lookups every
 * request makes (caller, project, membership) are prepared.
 */
export function preparedFor<Q>(build: (db: Db) => Q): (db: Db) => Q {
  const built = new WeakMap<Db, Q>();
  return (db) => {
    let q = built.get(db);
    if (!q) {
      q = build(db);
      built.set(db, q);
    }
    return q;
  };
}

/** The rows of a raw statement's result (`db.execute`): postgres-js gives an array, PGlite an object holding them. */
export const resultRows = <T>(r: unknown): T[] => (Array.isArray(r) ? r : ((r as { rows?: T[] }).rows ?? []));

/** An open database: the drizzle client plus raw SQL and a clean close. */
export interface Database {
  kind: "pglite" | "postgres";
  db: Db;
  /** Runs raw SQL with $1… parameters and returns the rows. Without parameters several statements may be sent. */
  exec<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
  /**
   * Calls `fn` with the payload of every NOTIFY on `channel` (sent with `pg_notify` inside a transaction, it
   * arrives only once that commits). PostgreSQL: from every process, on one extra connection; PGlite: this
   * process. Resolves to the function that stops listening.
   */
  listen(channel: string, fn: (payload: string) => void): Promise<() => Promise<void>>;
  /** The PGlite instance (embedded mode only), e.g. for dumps in backups. */
  pglite?: PGlite;
  /**
   * Embedded mode only: how many statements and transactions have ended through this handle. This process is the
   * database's only user, so while the count stands still nothing can have changed (src/core/db/snapshot.ts).
   */
  ended?: () => number;
}

export interface OpenOptions {
  /** postgres:// URL; when absent PGlite is used. */
  url?: string;
  /** PGlite's directory; undefined means in memory. */
  dir?: string;
  /** Apply migrations after opening (default true). */
  migrate?: boolean;
  /** PGlite only: start from this dump instead of running initdb (fast test databases). */
  loadDataDir?: Blob;
  /** PostgreSQL pool size. */
  max?: number;
}

const MIGRATION_LOCK_KEY = 7_341_920_113; // arbitrary, stable: pg_advisory_lock key for migrations

/** Opens PGlite or PostgreSQL, applies the embedded migrations, and returns the handle. */
export async function openDatabase(opts: OpenOptions = {}): Promise<Database> {
  const database = opts.url
    ? await openPostgres(opts.url, opts.max ?? 10)
    : await openEmbedded(opts.dir, opts.loadDataDir);
  if (opts.migrate !== false) {
    try {
      await applyMigrations(database, opts.url);
    } catch (err) {
      await database.close();
      throw err;
    }
  }
  return database;
}

async function openPostgres(url: string, max: number): Promise<Database> {
  const sql = postgres(url, { max, onnotice: () => {}, connect_timeout: 10 });
  await sql`select 1`; // fail fast with the driver's message when the server is unreachable
  const db = drizzlePostgres(sql, { schema }) as unknown as Db;
  return {
    kind: "postgres",
    db,
    exec: async <T>(text: string, params?: unknown[]) =>
      (params?.length ? await sql.unsafe(text, params as any[]) : await sql.unsafe(text)) as unknown as T[],
    listen: async (channel, fn) => {
      const { unlisten } = await sql.listen(channel, fn);
      return unlisten;
    },
    close: () => sql.end({ timeout: 5 }),
  };
}

async function openEmbedded(dir: string | undefined, loadDataDir?: Blob): Promise<Database> {
  const release = dir ? lockDataDir(dir) : () => {};
  let pg: PGlite;
  try {
    pg = await openPGlite(dir, loadDataDir);
  } catch (err) {
    release();
    throw err;
  }
  const fast = forDrizzle(pg);
  const db = drizzlePglite({ client: fast.client, schema }) as unknown as Db;
  let closed = false;
  return {
    kind: "pglite",
    db,
    pglite: pg,
    exec: async <T>(text: string, params?: unknown[]) => {
      if (!params?.length) {
        const results = await fast.exec(text);
        const last = results.at(-1);
        return (last ? fast.parseLikeBefore(last).rows : []) as T[];
      }
      return (await fast.query(text, params)) as T[];
    },
    listen: (channel, fn) => pg.listen(channel, fn),
    ended: fast.ended,
    close: async () => {
      if (closed) return;
      closed = true;
      await pg.close();
      release();
    },
  };
}

/** PGlite is single-process: a pid lock file keeps a second process from opening (and corrupting) the same dir. */
function lockDataDir(dir: string): () => void {
  const { mkdirSync } = require("node:fs") as typeof import("node:fs");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "devsponsor.pid");
  if (existsSync(file)) {
    const pid = Number(readFileSync(file, "utf8").trim());
    if (pid && pid !== process.pid && isAlive(pid)) {
      throw new Error(`the embedded database in ${dir} is in use by process ${pid}; stop it first or use DATABASE_URL`);
    }
    rmSync(file, { force: true }); // stale lock left by a killed process
  }
  const fd = openSync(file, "wx");
  writeFileSync(fd, String(process.pid));
  closeSync(fd);
  return () => rmSync(file, { force: true });
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The embedded migrations in drizzle's format (same hashes as drizzle's folder reader, so both agree). */
function migrationList() {
  return MIGRATIONS.map((m) => ({
    sql: m.sql.split("--> statement-breakpoint"),
    bps: m.breakpoints,
    folderMillis: m.when,
    hash: createHash("sha256").update(m.sql).digest("hex"),
  }));
}

/** Applies pending migrations; on PostgreSQL under an advisory lock so concurrent starts are safe. */
export async function applyMigrations(database: Database, url?: string) {
  const started = performance.now();
  if (database.kind === "pglite") {
    await (database.db as any).dialect.migrate(migrationList(), (database.db as any).session, { migrationsFolder: "" });
  } else {
    // One dedicated connection: the advisory lock belongs to a session.
    const sql = postgres(url!, { max: 1, onnotice: () => {} });
    try {
      await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
      const db = drizzlePostgres(sql, { schema });
      await (db as any).dialect.migrate(migrationList(), (db as any).session, { migrationsFolder: "" });
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    } finally {
      await sql.end({ timeout: 5 });
    }
  }
  log.debug("migrations applied", { ms: Math.round(performance.now() - started), count: MIGRATIONS.length });
}
