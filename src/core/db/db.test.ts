import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createEmptyPostgres, dbKinds, describeEachDb } from "../../../test/support/db";
import { applyMigrations, openDatabase } from "./index";
import { MIGRATIONS } from "./migrations.gen";

describeEachDb("database", (get) => {
  test("migrations are applied and recorded once", async () => {
    const rows = await get().exec<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
    expect(rows[0].n).toBe(MIGRATIONS.length);
  });

  test("applying migrations again is a no-op", async () => {
    await applyMigrations(get(), get().url);
    await applyMigrations(get(), get().url);
    const rows = await get().exec<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
    expect(rows[0].n).toBe(MIGRATIONS.length);
  });

  test("exec runs parameterised and multi-statement SQL", async () => {
    await get().exec("create temp table t1 (x int); insert into t1 values (1), (2);");
    const rows = await get().exec<{ s: number }>("select sum(x)::int as s from t1 where x >= $1", [1]);
    expect(rows[0].s).toBe(3);
  });
});

describe("embedded database on disk", () => {
  test("data survives close and reopen; a second opener of the same dir is refused", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "ds-db-")), "pg");
    const a = await openDatabase({ dir });
    await a.exec("insert into settings (key, value) values ($1, $2)", ["instance.name", JSON.stringify("kept")]);
    expect(readFileSync(join(dir, "devsponsor.pid"), "utf8")).toBe(String(process.pid));
    await a.close();
    const b = await openDatabase({ dir });
    const rows = await b.exec<{ value: string }>("select value from settings where key = $1", ["instance.name"]);
    expect(rows[0].value).toBe("kept");
    await b.close();
  }, 60_000);
});

// On PostgreSQL only: `bun run test` always has one, unless the run opts out with SKIP_POSTGRES=1.
if (dbKinds().includes("postgres")) {
  describe("migrations on PostgreSQL", () => {
    test("two processes migrating one empty database at once both succeed, once", async () => {
      const { url, drop } = await createEmptyPostgres();
      try {
        const [a, b] = await Promise.all([openDatabase({ url, max: 1 }), openDatabase({ url, max: 1 })]);
        const rows = await a.exec<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
        expect(rows[0].n).toBe(MIGRATIONS.length);
        await Promise.all([a.close(), b.close()]);
      } finally {
        await drop();
      }
    });
  });
}
