// Test databases: a fresh PGlite (from a migrated template, ~0.5 s) and, when TEST_DATABASE_URL is set, a fresh
// PostgreSQL database cloned from a migrated template database. `describeEachDb` runs a suite on both.
import { afterAll, beforeAll, describe } from "bun:test";
import { createHash } from "node:crypto";
import postgres from "postgres";
import { type Database, openDatabase } from "../../src/core/db";
import { MIGRATIONS } from "../../src/core/db/migrations.gen";

export type DbKind = "pglite" | "postgres";

const schemaHash = createHash("sha256")
  // The journal's tags and times are part of what drizzle records, so they are part of the template's identity.
  .update(MIGRATIONS.map((m) => `${m.tag}:${m.when}:${m.sql}`).join("\n"))
  .digest("hex")
  .slice(0, 12);

let pgliteTemplate: Promise<Blob> | undefined;
let pgTemplate: Promise<string> | undefined;

/** The kinds of database this run tests against: always PGlite, plus PostgreSQL when TEST_DATABASE_URL is set. */
export function dbKinds(): DbKind[] {
  return process.env.TEST_DATABASE_URL ? ["pglite", "postgres"] : ["pglite"];
}

function adminUrl(database: string) {
  const u = new URL(process.env.TEST_DATABASE_URL!);
  u.pathname = `/${database}`;
  return u.toString();
}

async function postgresTemplate(): Promise<string> {
  const name = `devsponsor_tmpl_${schemaHash}`;
  const admin = postgres(adminUrl("postgres"), { max: 1, onnotice: () => {} });
  try {
    const exists = await admin`select 1 from pg_database where datname = ${name}`;
    if (exists.length === 0) {
      const building = `${name}_build_${process.pid}`;
      await admin.unsafe(`drop database if exists "${building}"`);
      await admin.unsafe(`create database "${building}"`);
      const d = await openDatabase({ url: adminUrl(building), max: 1 });
      await d.close();
      try {
        await admin.unsafe(`alter database "${building}" rename to "${name}"`);
      } catch {
        await admin.unsafe(`drop database if exists "${building}"`); // another process built it first
      }
    }
  } finally {
    await admin.end();
  }
  return name;
}

/** A fresh, migrated test database of the given kind; the caller closes it (PostgreSQL databases are dropped). */
export async function createTestDb(kind: DbKind = "pglite"): Promise<Database & { url?: string }> {
  if (kind === "pglite") {
    pgliteTemplate ??= (async () => {
      const d = await openDatabase({});
      const blob = await d.pglite!.dumpDataDir("none");
      await d.close();
      return blob;
    })();
    return openDatabase({ loadDataDir: await pgliteTemplate, migrate: false });
  }
  pgTemplate ??= postgresTemplate();
  const template = await pgTemplate;
  const name = `devsponsor_t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(adminUrl("postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}" template "${template}"`);
  await admin.end();
  const url = adminUrl(name);
  const d = await openDatabase({ url, migrate: false, max: 5 });
  return {
    ...d,
    url,
    close: async () => {
      await d.close();
      const a = postgres(adminUrl("postgres"), { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

/** A fresh empty (unmigrated) PostgreSQL database URL, for migration tests; the returned function drops it. */
export async function createEmptyPostgres(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `devsponsor_e_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = postgres(adminUrl("postgres"), { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  return {
    url: adminUrl(name),
    drop: async () => {
      const a = postgres(adminUrl("postgres"), { max: 1, onnotice: () => {} });
      await a.unsafe(`drop database if exists "${name}" with (force)`);
      await a.end();
    },
  };
}

/**
 * Runs `body` once per database kind, each with its own fresh database for the whole describe block.
 * `get()` returns the open database inside tests.
 */
export function describeEachDb(name: string, body: (get: () => Database & { url?: string }, kind: DbKind) => void) {
  for (const kind of dbKinds()) {
    describe(`${name} [${kind}]`, () => {
      let database: (Database & { url?: string }) | undefined;
      beforeAll(async () => {
        database = await createTestDb(kind);
      });
      afterAll(async () => {
        await database?.close();
      });
      body(() => {
        if (!database) throw new Error("test database not open yet");
        return database;
      }, kind);
    });
  }
}
