// The audit trail is a hash chain: concurrent appends never fork it, and any edit, removal or insertion of a
// row is reported by the verifier (also through `devsponsor audit verify`), while GDPR redaction is not.
import { expect, test } from "bun:test";
import { describeEachDb } from "../../test/support/db";
import { audit, auditMany, GENESIS_HASH, redactAuditFor, verifyAuditChain } from "./service";

const ACTOR = "00000000-0000-4000-8000-000000000001";
const OTHER = "00000000-0000-4000-8000-000000000002";
const THIRD = "00000000-0000-4000-8000-000000000003";

describeEachDb("audit chain", (get, kind) => {
  test("40 concurrent appends form one unbroken chain", async () => {
    const { db } = get();
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        audit(db, {
          actorId: i % 2 ? ACTOR : OTHER,
          action: "test.append",
          targetType: "thing",
          targetId: String(i),
          payload: { i, nested: { b: 1, a: [i] } },
        }),
      ),
    );
    expect(new Set(results.map((r) => r.seq)).size).toBe(40);
    const rows = await get().exec<{ seq: string; prev_hash: string; hash: string }>(
      "select seq, prev_hash, hash from audit_log order by seq",
    );
    expect(rows.map((r) => Number(r.seq))).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(rows[0].prev_hash).toBe(GENESIS_HASH);
    for (let i = 1; i < rows.length; i++) expect(rows[i].prev_hash).toBe(rows[i - 1].hash);
    const report = await verifyAuditChain(db, 7); // a small batch exercises paging
    expect(report).toMatchObject({ ok: true, rows: 40, redacted: 0 });
    expect(report.headHash).toBe(rows.at(-1)!.hash);
  });

  test("an audit entry rolls back with the transaction it belongs to", async () => {
    const { db } = get();
    const before = (await verifyAuditChain(db)).rows;
    await db
      .transaction(async (tx) => {
        await audit(tx, { actorId: ACTOR, action: "test.rollback", targetType: "thing" });
        throw new Error("abort");
      })
      .catch(() => {});
    const after = await verifyAuditChain(db);
    expect(after).toMatchObject({ ok: true, rows: before });
  });

  test("redacting a user's payloads keeps the chain valid", async () => {
    const { db } = get();
    const n = await redactAuditFor(db, ACTOR);
    expect(n).toBe(20);
    const report = await verifyAuditChain(db);
    expect(report).toMatchObject({ ok: true, rows: 40, redacted: 20 });
    const [row] = await get().exec<{ payload: unknown }>("select payload from audit_log where actor_id = $1 limit 1", [
      ACTOR,
    ]);
    expect(row.payload).toEqual({ redacted: true });
  });

  test("an edited payload is detected at its row", async () => {
    const database = get();
    const [target] = await database.exec<{ seq: string }>(
      "select seq from audit_log where actor_id = $1 order by seq limit 1 offset 3",
      [OTHER],
    );
    const seq = Number(target.seq);
    const [orig] = await database.exec<{ payload: unknown }>("select payload from audit_log where seq = $1", [seq]);
    await database.exec(`update audit_log set payload = '{"i": 999}' where seq = ${seq}`);
    const report = await verifyAuditChain(database.db);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq } });
    expect(report.brokenAt!.reason).toContain("payload");
    await database.exec("update audit_log set payload = $1 where seq = $2", [JSON.stringify(orig.payload), seq]);
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  test("an edited field breaks the row hash even when the payload is untouched", async () => {
    const database = get();
    await database.exec("update audit_log set action = 'test.forged' where seq = 5");
    const report = await verifyAuditChain(database.db);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: 5 } });
    expect(report.brokenAt!.reason).toContain("row hash");
    await database.exec("update audit_log set action = 'test.append' where seq = 5");
    expect((await verifyAuditChain(database.db)).ok).toBe(true);
  });

  test("a removed row is detected, and so is a forged row linked in its place", async () => {
    const database = get();
    const [row20] = await database.exec<Record<string, unknown>>("select * from audit_log where seq = 20");
    await database.exec("delete from audit_log where seq = 20");
    let report = await verifyAuditChain(database.db);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: 21 } });
    expect(report.brokenAt!.reason).toContain("sequence");
    // A forger puts a row with the right seq and prev-hash back, but cannot make its hash fit the next link.
    await database.exec(
      `insert into audit_log (seq, actor_id, action, target_type, payload, payload_hash, prev_hash, hash, created_at)
       select 20, null, 'test.forged', 'thing', '{}', $1, (select hash from audit_log where seq = 19), $2, now()`,
      [row20.payload_hash, "f".repeat(64)],
    );
    report = await verifyAuditChain(database.db);
    expect(report).toMatchObject({ ok: false, brokenAt: { seq: 20 } });
  });

  if (kind === "postgres") {
    test("`devsponsor audit verify` exits 0 on a good chain and 1 on a tampered one", { timeout: 30_000 }, async () => {
      const { createTestDb } = await import("../../test/support/db");
      const fresh = await createTestDb("postgres");
      try {
        for (let i = 0; i < 5; i++)
          await audit(fresh.db, { actorId: ACTOR, action: "cli.test", targetType: "thing", payload: { i } });
        const run = () =>
          Bun.spawnSync(["bun", "src/main.ts", "audit", "verify", "--json"], {
            env: { ...process.env, DATABASE_URL: fresh.url!, LOG_LEVEL: "error" },
            cwd: `${import.meta.dir}/../..`,
          });
        const ok = run();
        expect(ok.exitCode).toBe(0);
        expect(JSON.parse(ok.stdout.toString())).toMatchObject({ ok: true, rows: 5 });
        await fresh.exec(`update audit_log set payload = '{"i": 42}' where seq = 3`);
        const bad = run();
        expect(bad.exitCode).toBe(1);
        expect(JSON.parse(bad.stdout.toString())).toMatchObject({ ok: false, brokenAt: { seq: 3 } });
      } finally {
        await fresh.close();
      }
    });
  }
});

describeEachDb("audit chain, entries appended together", (get) => {
  test("entries appended together are consecutive and in order, among concurrent single appends", async () => {
    const { db } = get();
    const batches = Array.from({ length: 5 }, (_, b) =>
      Array.from({ length: 4 }, (_, i) => ({
        actorId: THIRD,
        action: "test.batch",
        targetType: "thing",
        targetId: `${b}-${i}`,
        payload: { b, i },
      })),
    );
    const [many] = await Promise.all([
      Promise.all(batches.map((entries) => db.transaction((tx) => auditMany(tx, entries)))),
      Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          audit(db, { actorId: THIRD, action: "test.single", targetType: "thing", targetId: `s${i}` }),
        ),
      ),
    ]);
    for (const [b, rows] of many.entries()) {
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 4 }, (_, i) => rows[0]!.seq + i));
      const stored = await get().exec<{ target_id: string }>(
        `select target_id from audit_log where seq between ${rows[0]!.seq} and ${rows[3]!.seq} order by seq`,
      );
      expect(stored.map((r) => r.target_id)).toEqual(batches[b]!.map((e) => e.targetId));
    }
    expect(await auditMany(db, [])).toEqual([]);
    expect(await verifyAuditChain(db)).toMatchObject({ ok: true });
  });
});
