import { beforeAll, expect, test } from "bun:test";
import { describeEachDb } from "../../../test/support/db";
import type { Database } from ".";
import { currentSnapshot, snapshotCache } from "./snapshot";

describeEachDb("database snapshot", (db) => {
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
});
