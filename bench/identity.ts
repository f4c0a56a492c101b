// Identity costs: argon2id hashing (what a sign-in costs), audit appends (serialized, so this is the ceiling
// of privileged actions per second) sequentially and from 8 writers, chain verification speed, and session
// resolution (every request). PGlite in memory, and PostgreSQL when DATABASE_URL is set.
import { createApiKey, createSession, hashPassword, resolveApiKey, resolveSession } from "../src/auth/service";
import { audit, verifyAuditChain } from "../src/audit/service";
import { openDatabase } from "../src/core/db";
import { users } from "../src/users/schema";

const rate = (n: number, ms: number) => Math.round((n / ms) * 1000);
const time = async (fn: () => Promise<unknown>) => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};

const t = performance.now();
for (let i = 0; i < 5; i++) await hashPassword(`password-${i}`);
console.log(JSON.stringify({ bench: "argon2id.hash", msEach: Math.round((performance.now() - t) / 5) }));

const targets: [string, () => ReturnType<typeof openDatabase>][] = [["pglite", () => openDatabase({})]];
if (process.env.DATABASE_URL)
  targets.push(["postgres", () => openDatabase({ url: process.env.DATABASE_URL!, max: 10 })]);

for (const [kind, open] of targets) {
  const database = await open();
  const { db } = database;
  await database.exec("delete from audit_log");
  const N = 1000;
  const seqMs = await time(async () => {
    for (let i = 0; i < N; i++)
      await audit(db, { actorId: null, action: "bench.append", targetType: "bench", payload: { i } });
  });
  const parMs = await time(async () => {
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < N / 8; i++)
          await audit(db, { actorId: null, action: "bench.append", targetType: "bench", payload: { w, i } });
      }),
    );
  });
  let report!: Awaited<ReturnType<typeof verifyAuditChain>>;
  const verifyMs = await time(async () => {
    report = await verifyAuditChain(db);
  });
  const [u] = await db
    .insert(users)
    .values({ name: "bench", email: `bench-${Date.now()}@example.test` })
    .returning();
  const s = await createSession(db, u.id);
  const { key } = await createApiKey(db, u.id, { name: "bench", scopes: ["read"] });
  const R = 500;
  const sessMs = await time(async () => {
    for (let i = 0; i < R; i++) await resolveSession(db, s.token);
  });
  const keyMs = await time(async () => {
    for (let i = 0; i < R; i++) await resolveApiKey(db, key);
  });
  console.log(
    JSON.stringify({
      bench: "identity",
      database: kind,
      auditAppendsPerSecSequential: rate(N, seqMs),
      auditAppendsPerSec8Writers: rate(N, parMs),
      verifyRowsPerSec: rate(report.rows, verifyMs),
      chainOk: report.ok,
      rows: report.rows,
      sessionResolveMs: Math.round((sessMs / R) * 100) / 100,
      apiKeyResolveMs: Math.round((keyMs / R) * 100) / 100,
    }),
  );
  await database.close();
}
