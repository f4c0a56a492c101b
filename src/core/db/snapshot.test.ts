import { beforeAll, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { describeEachDb } from "../../../test/support/db";
import type { Database } from ".";
import { dataVersions } from "./data-versions";
import { currentSnapshot, snapshotCache } from "./snapshot";

describeEachDb("database snapshot", (db, kind) => {
  beforeAll(async () => {
    await db().exec("create table snap_probe (n int)");
  });

  test("the same while nothing is written, another once a write commits", async () => {
    const a = await currentSnapshot(db());
    await db().exec("select count(*) from snap_probe");
    expect(await currentSnapshot(db())).toBe(a);
    await db().exec("insert into snap_probe values (1)");
    expect(await currentSnapshot(db())).not.toBe(a);
  });

  test("callers at the same time share reads, and none uses a read that began before it asked", async () => {
    // the same database, with its raw reads counted
    let reads = 0;
    const counted: Database = {
      ...db(),
      exec: (text, params) => {
        reads++;
        return db().exec(text, params);
      },
    };
    const first = currentSnapshot(counted); // starts a read
    // twenty ask while it runs: it began before they asked, so they wait for one read of their own, shared
    const later = Promise.all(Array.from({ length: 20 }, () => currentSnapshot(counted)));
    expect(reads).toBe(1);
    await first;
    const snaps = await later;
    expect(reads).toBe(2);
    expect(new Set(snaps).size).toBe(1);
    // and someone asking after a commit sees it
    await db().exec("insert into snap_probe values (2)");
    expect(await currentSnapshot(counted)).not.toBe(snaps[0]);
    expect(reads).toBe(3);
  });

  test("the embedded database is read again only after a statement ended; PostgreSQL each time", async () => {
    let reads = 0;
    const counted: Database = {
      ...db(),
      exec: (text, params) => {
        if (text.includes("pg_current_snapshot")) reads++;
        return db().exec(text, params);
      },
    };
    const a = await currentSnapshot(counted);
    expect(reads).toBe(1);
    // asked later (after that read began): the embedded database has not run a statement since, so it still holds
    expect(await currentSnapshot(counted, performance.now())).toBe(a);
    expect(reads).toBe(kind === "pglite" ? 1 : 2);
    // a read-only statement ends: read again (and the snapshot is the same)
    await db().exec("select count(*) from snap_probe");
    expect(await currentSnapshot(counted, performance.now())).toBe(a);
    const afterSelect = reads;
    expect(afterSelect).toBe(kind === "pglite" ? 2 : 3);
    // a write ends: read again, and the snapshot differs
    await db().exec("insert into snap_probe values (5)");
    expect(await currentSnapshot(counted, performance.now())).not.toBe(a);
    expect(reads).toBe(afterSelect + 1);
  });

  test("a cache answers from memory until a write commits; `usable` can refuse a kept value", async () => {
    const cache = snapshotCache<number>(db());
    let loads = 0;
    const load = async () => {
      loads++;
      const [row] = await db().exec<{ n: number }>("select count(*)::int as n from snap_probe");
      return row!.n;
    };
    const n = await cache.get("rows", load);
    expect(await cache.get("rows", load)).toBe(n);
    expect(loads).toBe(1);
    await db().exec("insert into snap_probe values (3)");
    expect(await cache.get("rows", load)).toBe(n + 1);
    expect(loads).toBe(2);
    expect(await cache.get("rows", load, () => false)).toBe(n + 1);
    expect(loads).toBe(3);
    const together = await Promise.all(Array.from({ length: 10 }, () => cache.get("other", load)));
    expect(new Set(together).size).toBe(1);
    expect(loads).toBe(4);
    // the ten shared one load: whether the others waited for it or found it kept depends on timing
    const { hits, misses, entries } = cache.stats();
    expect([hits + misses, misses, entries]).toEqual([14, 4, 2]);
  });

  test("a cache scoped to the auth tables keeps its values across other writes, not across theirs", async () => {
    const cache = snapshotCache<number>(db(), { scope: "auth" });
    let loads = 0;
    const load = async () => ++loads;
    const version = async () =>
      (await db().db.select().from(dataVersions).where(eq(dataVersions.name, "auth")))[0]?.version;
    await cache.get("k", load);
    await db().exec("insert into snap_probe values (4)");
    expect(await cache.get("k", load)).toBe(1); // another table: kept
    const [user] = await db().exec<{ id: string }>(
      "insert into users (email, name) values ('snap-probe@example.test', 'Probe') returning id",
    );
    expect(await cache.get("k", load)).toBe(2); // a new user: loaded again
    await db().exec(
      "insert into sessions (user_id, token_hash, csrf_token, expires_at) values ($1, 'h1', 'c1', now() + interval '1 day')",
      [user!.id],
    );
    expect(await cache.get("k", load)).toBe(3); // a sign-in
    // recording a session's use changes nothing it resolves to; revoking it does
    const before = await version();
    await db().exec("update sessions set last_seen_at = now() + interval '1 minute' where token_hash = 'h1'");
    expect(await version()).toBe(before);
    expect(await cache.get("k", load)).toBe(3);
    await db().exec("update sessions set revoked_at = now() where token_hash = 'h1'");
    expect(await cache.get("k", load)).toBe(4);
    // disabling the user; a write that rolls back changes nothing
    await db().exec("update users set disabled_at = now() where id = $1", [user!.id]);
    expect(await cache.get("k", load)).toBe(5);
    await db()
      .db.transaction(async (tx) => {
        await tx.execute(sql`update users set name = 'Renamed' where id = ${user!.id}`);
        throw new Error("rolled back");
      })
      .catch(() => {});
    expect(await cache.get("k", load)).toBe(5);
    await db().exec("delete from sessions where token_hash = 'h1'");
    expect(await cache.get("k", load)).toBe(6);
  });
});
