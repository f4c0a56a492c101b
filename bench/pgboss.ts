// The maintained alternative to our queue, measured the same way as bench/jobs.ts: pg-boss 11 (12.x needs a package
// the registry here does not serve) on PGlite through its `db` adapter and on PostgreSQL. Jobs per second end to
// end (first send → all completed). A pg-boss worker fetches a batch, runs it, then waits out its polling interval
// (0.5 s at the fastest), so its ceiling is batch size / 0.5 s per worker: BENCH_PGBOSS_BATCH (default 50, the
// number of jobs in flight our queue runs in bench/jobs.ts) sets it. BENCH_JOBS sets the jobs per run (1,000).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import PgBoss from "pg-boss";
import postgres from "postgres";
import { openPGlite } from "../src/core/db/pglite";

const N = Number(process.env.BENCH_JOBS ?? 1000);
const BATCH = Number(process.env.BENCH_PGBOSS_BATCH ?? 50);

type Exec = (sql: string, values?: unknown[]) => Promise<{ rows: any[] }>;

async function scenario(boss: PgBoss, exec: Exec, label: string, send: (name: string) => Promise<void>) {
  const name = `bench-${label.replace(/\W+/g, "-")}`;
  await boss.createQueue(name);
  await boss.work(name, { batchSize: BATCH, pollingIntervalSeconds: 0.5 }, async () => undefined);
  const t0 = performance.now();
  await send(name);
  const tSent = performance.now();
  for (;;) {
    const { rows } = await exec("select count(*)::int as n from pgboss.job where name = $1 and state = 'completed'", [
      name,
    ]);
    if (rows[0].n >= N) break;
    await Bun.sleep(20);
  }
  const t1 = performance.now();
  await boss.offWork(name);
  const rate = N / ((t1 - t0) / 1000);
  console.log(
    `  ${label.padEnd(34)} ${N} jobs in ${((t1 - t0) / 1000).toFixed(2)} s: ${rate.toFixed(0).padStart(5)} jobs/s end to end` +
      ` (send alone ${(N / ((tSent - t0) / 1000)).toFixed(0)}/s)`,
  );
  return rate;
}

async function run(boss: PgBoss, exec: Exec, kind: string, target: number) {
  // dropping the bench database ends pg-boss's idle connections after stop(): not an error of the run
  boss.on("error", (err) => (boss as unknown as { stopped?: boolean }).stopped || console.error(err));
  const t = performance.now();
  await boss.start();
  console.log(
    `${kind} (target ≥ ${target} jobs/s, batch ${BATCH}; pg-boss started in ${((performance.now() - t) / 1000).toFixed(1)} s):`,
  );
  const sequential = await scenario(boss, exec, "send, one at a time", async (name) => {
    for (let i = 0; i < N; i++) await boss.send(name, { i });
  });
  const rates = [
    await scenario(boss, exec, "send, 8 callers", async (name) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < N) await boss.send(name, { i: next++ });
        }),
      );
    }),
    await scenario(boss, exec, "insert (batches of 500)", async (name) => {
      for (let i = 0; i < N; i += 500) {
        await boss.insert(
          name,
          Array.from({ length: Math.min(500, N - i) }, (_, k) => ({ name, data: { i: i + k } })),
        );
      }
    }),
  ];
  await boss.stop({ graceful: false, wait: true });
  (boss as unknown as { stopped?: boolean }).stopped = true;
  const worst = Math.min(...rates);
  console.log(
    `  slowest concurrent or batched scenario ${worst.toFixed(0)} jobs/s: ${worst >= target ? "meets" : "MISSES"}` +
      ` the target of ${target}; one caller awaiting each send: ${sequential.toFixed(0)} jobs/s`,
  );
}

// PGlite on a data dir on disk, through pg-boss's `db` adapter (parameterless, multi-statement SQL goes through exec).
{
  const dir = mkdtempSync(join(tmpdir(), "ds-bench-pgboss-"));
  const pg = await openPGlite(join(dir, "pg"));
  const exec: Exec = async (text, values) => {
    if (!values || values.length === 0) return { rows: (await pg.exec(text)).at(-1)?.rows ?? [] };
    return { rows: (await pg.query(text, values)).rows };
  };
  try {
    await run(new PgBoss({ db: { executeSql: exec } } as any), exec, "pg-boss on PGlite (file data dir)", 300);
  } finally {
    await pg.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (url) {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const db = `bench_pgboss_${process.pid}`;
  await admin.unsafe(`create database ${db}`);
  const dbUrl = new URL(url);
  dbUrl.pathname = `/${db}`;
  const sql = postgres(dbUrl.toString(), { max: 2, onnotice: () => {} });
  const exec: Exec = async (text, values) => ({ rows: await sql.unsafe(text, (values ?? []) as any[]) });
  try {
    await run(
      new PgBoss({ connectionString: dbUrl.toString(), max: 10 }),
      exec,
      "pg-boss on PostgreSQL (pool of 10)",
      1000,
    );
  } finally {
    await sql.end();
    await admin.unsafe(`drop database ${db} with (force)`);
    await admin.end();
  }
} else {
  console.log("PostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)");
}
process.exit(0);
