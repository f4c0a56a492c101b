// Jobs per second end to end (enqueue → completed) on PGlite with a data dir on disk and, when
// BENCH_DATABASE_URL or TEST_DATABASE_URL is set, on PostgreSQL (a fresh database, dropped afterwards).
// Targets: ≥ 300 jobs/s on PGlite, ≥ 1,000 jobs/s on PostgreSQL. BENCH_JOBS sets the number of jobs per run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { type Database, openDatabase } from "../src/core/db";
import { setLogSink } from "../src/core/logger";
import { createJobQueue, type JobQueue } from "../src/core/jobs/queue";

setLogSink(() => {}, "error");
const N = Number(process.env.BENCH_JOBS ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 50);

/** Resolves when this queue (which runs one job name) has completed `n` jobs. */
function completions(jobs: JobQueue, n: number) {
  let done = 0;
  return new Promise<void>((resolve) => {
    const off = jobs.subscribe("*", (e) => {
      if (e.type === "state" && e.state === "completed" && ++done === n) {
        off();
        resolve();
      }
    });
  });
}

async function scenario(
  database: Database,
  label: string,
  enqueue: (jobs: JobQueue, name: string) => Promise<void>,
  quiet = false,
) {
  const name = `bench.${label.replace(/\W+/g, "-")}`;
  const jobs = createJobQueue(database, { pollIntervalMs: 200 });
  jobs.define(name, async () => undefined, { concurrency: CONCURRENCY });
  jobs.start();
  const finished = completions(jobs, N);
  const t0 = performance.now();
  await enqueue(jobs, name);
  const tEnqueued = performance.now();
  await finished;
  const t1 = performance.now();
  await jobs.stop();
  const [row] = await database.exec<{ n: number }>(
    "select count(*)::int as n from jobs where name = $1 and state = 'completed'",
    [name],
  );
  if (row.n !== N) throw new Error(`${label}: ${row.n} of ${N} completed`);
  const enqueueRate = N / ((tEnqueued - t0) / 1000);
  const rate = N / ((t1 - t0) / 1000);
  console.log(
    `  ${(quiet ? `(${label})` : label).padEnd(34)} ${N} jobs in ${((t1 - t0) / 1000).toFixed(2)} s: ${rate.toFixed(0).padStart(5)} jobs/s end to end` +
      ` (enqueue alone ${enqueueRate.toFixed(0)}/s)`,
  );
  return rate;
}

/** Median time of a durable one-row commit: what one caller waiting for each enqueue cannot beat. */
async function commitLatency(database: Database) {
  await database.exec("create table if not exists bench_commit (id int)");
  const times: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t = performance.now();
    await database.exec("insert into bench_commit values ($1)", [i]);
    times.push(performance.now() - t);
  }
  await database.exec("drop table bench_commit");
  return times.sort((a, b) => a - b)[50];
}

async function run(database: Database, kind: string, target: number) {
  const commit = await commitLatency(database);
  console.log(
    `${kind} (target ≥ ${target} jobs/s, concurrency ${CONCURRENCY}; one-row commit ${commit.toFixed(2)} ms,` +
      ` so one waiting caller enqueues at most ~${(1000 / commit).toFixed(0)}/s):`,
  );
  // Warm-up (JIT tiers, caches, first plans), shown in parentheses, not counted: PGlite's engine keeps getting
  // faster for its first few thousand jobs.
  for (let round = 0; round < 3; round++) {
    await scenario(
      database,
      `warm-up ${round}`,
      async (jobs, name) => {
        for (let i = 0; i < N; i++) await jobs.enqueue(name, { i });
      },
      true,
    );
  }
  // One caller awaiting each enqueue measures commit latency more than the queue: every job costs that
  // caller's commit plus, interleaved, its completion's commit. Shown, but the target is the queue's throughput
  // with callers enqueueing concurrently (requests, jobs enqueueing jobs) or in batches.
  const sequential = await scenario(database, "single enqueue, one at a time", async (jobs, name) => {
    for (let i = 0; i < N; i++) await jobs.enqueue(name, { i });
  });
  const rates = [
    await scenario(database, "single enqueue, 8 callers", async (jobs, name) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < N) await jobs.enqueue(name, { i: next++ });
        }),
      );
    }),
    await scenario(database, "single enqueue with key, 8 callers", async (jobs, name) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < N) {
            const i = next++;
            await jobs.enqueue(name, { i }, { key: `${name}:${i}` });
          }
        }),
      );
    }),
    await scenario(database, "enqueueMany (batches of 500)", async (jobs, name) => {
      for (let i = 0; i < N; i += 500) {
        await jobs.enqueueMany(
          Array.from({ length: Math.min(500, N - i) }, (_, k) => ({ name, payload: { i: i + k } })),
        );
      }
    }),
  ];
  const worst = Math.min(...rates);
  console.log(
    `  slowest concurrent or batched scenario ${worst.toFixed(0)} jobs/s: ${worst >= target ? "meets" : "MISSES"}` +
      ` the target of ${target}; one caller awaiting each enqueue: ${sequential.toFixed(0)} jobs/s` +
      ` (two commits per job at ${commit.toFixed(2)} ms: ~${(1000 / (2 * commit)).toFixed(0)}/s at best)`,
  );
}

// PGlite on a data dir on disk, as the appliance runs by default.
{
  const dir = mkdtempSync(join(tmpdir(), "ds-bench-jobs-"));
  const t = performance.now();
  const database = await openDatabase({ dir: join(dir, "pg") });
  console.log(`PGlite data dir created and migrated in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  try {
    await run(database, "PGlite (file data dir)", 300);
  } finally {
    await database.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (url) {
  const name = `devsponsor_bench_${process.pid}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  const database = await openDatabase({ url: u.toString(), max: 10 });
  try {
    await run(database, "PostgreSQL (pool of 10)", 1000);
  } finally {
    await database.close();
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
} else {
  console.log("PostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)");
}
