// Every recorded model call has an entry in the audit chain holding its id and checksum, so the verifier names a
// call row that was deleted, edited, slipped in without an entry, or erased outside an account deletion.
import { expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { type AiCallRecord, eraseAiCallsOf, recordAiCall } from "../ai/audit";
import { aiCalls } from "../ai/schema";
import { describeEachDb } from "../../test/support/db";
import { auditLog } from "./schema";
import { verifyAudit } from "./verify";

const USER = "00000000-0000-4000-8000-0000000000a1";
const OTHER = "00000000-0000-4000-8000-0000000000a2";

const call = (userId: string, question: string): AiCallRecord => ({
  purpose: "sidebar",
  userId,
  provider: "ollama",
  model: "llama3.1",
  temperature: 0.2,
  system: "You are the assistant.",
  prompt: [{ role: "user", content: question }],
  output: `An answer to ${question}`,
  status: "ok",
  inputTokens: 12,
  outputTokens: 7,
  latencyMs: 321.4,
});

describeEachDb("AI calls in the audit chain", (get, kind) => {
  const ids: string[] = [];

  test("each recorded call leaves one chain entry with its id and checksum, and nothing it asked", async () => {
    const { db } = get();
    for (let i = 0; i < 4; i++) ids.push((await recordAiCall(db, call(i % 2 ? OTHER : USER, `question ${i}?`)))!);
    expect(new Set(ids).size).toBe(4);
    for (const id of ids) {
      const [row] = await db.select().from(aiCalls).where(eq(aiCalls.id, id));
      const entries = await db.select().from(auditLog).where(eq(auditLog.targetId, id));
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ action: "ai.call", targetType: "ai_call", actorId: row!.userId });
      expect(entries[0]!.payload).toEqual({
        checksum: row!.checksum,
        purpose: "sidebar",
        model: "llama3.1",
        status: "ok",
      });
      expect(JSON.stringify(entries[0]!.payload)).not.toContain("question");
    }
    const report = await verifyAudit(db, 3);
    expect(report.ok).toBe(true);
    expect(report.aiCalls).toMatchObject({ chained: 4, erased: 0, problemCount: 0 });
  });

  test("a call whose chain entry cannot be written is not stored either (one transaction)", async () => {
    const database = get();
    const before = await database.exec<{ n: number }>("select count(*)::int as n from ai_calls");
    // a trigger makes the audit insert fail after the call row was inserted in the same transaction
    await database.exec(`create or replace function ai_chain_test_fail() returns trigger language plpgsql as
      $$ begin raise exception 'audit store down'; end $$`);
    await database.exec(
      "create trigger ai_chain_test_fail before insert on audit_log for each row execute function ai_chain_test_fail()",
    );
    const errors: unknown[] = [];
    try {
      expect(await recordAiCall(database.db, call(USER, "lost?"), (e) => errors.push(e))).toBeNull();
    } finally {
      await database.exec("drop trigger ai_chain_test_fail on audit_log");
    }
    const causes = (e: unknown): string => (e instanceof Error ? `${e.message} ${causes(e.cause)}` : "");
    expect(causes(errors[0])).toContain("audit store down");
    const after = await database.exec<{ n: number }>("select count(*)::int as n from ai_calls");
    expect(after[0]!.n).toBe(before[0]!.n);
    expect((await verifyAudit(database.db)).ok).toBe(true);
  });

  test("a deleted call row is named as missing", async () => {
    const database = get();
    const [row] = await database.exec<Record<string, unknown>>("select * from ai_calls where id = $1", [ids[1]]);
    await database.exec("delete from ai_calls where id = $1", [ids[1]]);
    const report = await verifyAudit(database.db);
    expect(report.ok).toBe(false);
    expect(report.brokenAt).toBeUndefined(); // the chain itself is intact
    expect(report.aiCalls.problems).toEqual([
      { id: ids[1]!, problem: "missing", message: `AI call ${ids[1]} missing (its row was deleted)` },
    ]);
    const cols = Object.keys(row!);
    await database.exec(
      `insert into ai_calls (${cols.join(",")}) select ${cols.map((c) => c).join(",")} from json_populate_record(null::ai_calls, $1::json)`,
      [JSON.stringify(row)],
    );
    expect((await verifyAudit(database.db)).ok).toBe(true);
  });

  test("an edited output, or a checksum recomputed to fit the edit, is a checksum mismatch", async () => {
    const database = get();
    await database.exec("update ai_calls set output = 'forged answer' where id = $1", [ids[2]]);
    let report = await verifyAudit(database.db);
    expect(report.aiCalls.problems).toEqual([
      {
        id: ids[2]!,
        problem: "checksum mismatch",
        message: `AI call ${ids[2]} checksum mismatch (its row was edited)`,
      },
    ]);
    // A forger who also fixes the row's checksum still differs from the chain's copy.
    const [edited] = await database.db.select().from(aiCalls).where(eq(aiCalls.id, ids[2]!));
    const { aiCallChecksum } = await import("../ai/audit");
    const original = edited!.checksum;
    await database.db
      .update(aiCalls)
      .set({ checksum: aiCallChecksum(edited!) })
      .where(eq(aiCalls.id, ids[2]!));
    report = await verifyAudit(database.db);
    expect(report.aiCalls.problems.map((p) => [p.id, p.problem])).toEqual([[ids[2], "checksum mismatch"]]);
    await database.exec("update ai_calls set output = $1, checksum = $2 where id = $3", [
      "An answer to question 2?",
      original,
      ids[2],
    ]);
    expect((await verifyAudit(database.db)).ok).toBe(true);
  });

  test("a call row added without its chain entry is reported", async () => {
    const database = get();
    const [forged] = await database.exec<{ id: string }>(
      `insert into ai_calls (purpose, provider, model, prompt, status, latency_ms, checksum)
       values ('sidebar', 'ollama', 'llama3.1', '[]', 'ok', 1, 'x') returning id`,
    );
    const report = await verifyAudit(database.db);
    expect(report.aiCalls.problems.map((p) => [p.id, p.problem])).toEqual([[forged!.id, "no chain entry"]]);
    await database.exec("delete from ai_calls where id = $1", [forged!.id]);
  });

  test("erasing a user's calls keeps the chain valid; an erasure by hand does not", async () => {
    const database = get();
    await database.db.transaction(async (tx) => {
      expect(await eraseAiCallsOf(tx, USER)).toBe(2);
    });
    const [erased] = await database.db.select().from(aiCalls).where(eq(aiCalls.id, ids[0]!));
    expect(erased).toMatchObject({ prompt: [], output: "", system: "" });
    expect(erased!.redactedAt).toBeInstanceOf(Date);
    let report = await verifyAudit(database.db);
    expect(report.ok).toBe(true);
    expect(report.aiCalls).toMatchObject({ chained: 4, erased: 2 });
    await database.exec("update ai_calls set output = '', redacted_at = now() where id = $1", [ids[1]]);
    report = await verifyAudit(database.db);
    expect(report.aiCalls.problems.map((p) => [p.id, p.problem])).toEqual([[ids[1], "erased without a chain entry"]]);
  });

  if (kind === "postgres") {
    test("`devsponsor audit verify` names a deleted AI call and exits 1", { timeout: 30_000 }, async () => {
      const { createTestDb } = await import("../../test/support/db");
      const fresh = await createTestDb("postgres");
      try {
        const id = (await recordAiCall(fresh.db, call(USER, "cli?")))!;
        const run = (...args: string[]) =>
          Bun.spawnSync(["bun", "src/main.ts", "audit", "verify", ...args], {
            env: { ...process.env, DATABASE_URL: fresh.url!, LOG_LEVEL: "error" },
            cwd: `${import.meta.dir}/../..`,
          });
        const ok = run();
        expect(ok.exitCode).toBe(0);
        expect(ok.stdout.toString()).toContain("1 AI calls match their entries");
        await fresh.exec("delete from ai_calls where id = $1", [id]);
        const bad = run();
        expect(bad.exitCode).toBe(1);
        expect(bad.stdout.toString()).toContain(`AI call ${id} missing`);
        const json = JSON.parse(run("--json").stdout.toString());
        expect(json).toMatchObject({ ok: false, aiCalls: { problems: [{ id, problem: "missing" }] } });
      } finally {
        await fresh.close();
      }
    });
  }
});
