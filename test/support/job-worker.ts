// A job worker in its own process, for the queue's crash and multi-process tests.
// Env: JOB_DB_URL (PostgreSQL) or JOB_DB_DIR (PGlite data dir), JOB_LEASE_MS, JOB_CONCURRENCY, JOB_POLL_MS.
// Jobs: `test.slow` records "start", prints `started <id>`, waits payload.ms (default 60 s), records "finish";
// `test.count` records "run" and waits payload.ms (default 2 ms). Records go to the table `job_test_runs`,
// which the test creates. Prints `ready` once claiming; SIGTERM stops gracefully.
import { openDatabase } from "../../src/core/db";
import { createJobQueue } from "../../src/core/jobs/queue";
import { setLogSink } from "../../src/core/logger";

if (!process.env.TEST_VERBOSE) setLogSink(() => {}, "error");

// The test hands over a migrated database: no migrations here (the checkout's may be newer than the test's).
const database = await openDatabase(
  process.env.JOB_DB_URL
    ? { url: process.env.JOB_DB_URL, max: 4, migrate: false }
    : { dir: process.env.JOB_DB_DIR as string, migrate: false },
);
const jobs = createJobQueue(database, {
  leaseMs: Number(process.env.JOB_LEASE_MS ?? 30_000),
  pollIntervalMs: Number(process.env.JOB_POLL_MS ?? 50),
});
const record = (jobId: string, phase: string) =>
  database.exec("insert into job_test_runs (job_id, worker, phase) values ($1, $2, $3)", [jobId, jobs.workerId, phase]);

jobs.define<{ ms?: number }>(
  "test.slow",
  async (payload, run) => {
    await record(run.jobId, "start");
    process.stdout.write(`started ${run.jobId}\n`);
    await Bun.sleep(payload.ms ?? 60_000);
    await record(run.jobId, "finish");
    return { worker: jobs.workerId };
  },
  { concurrency: 1 },
);
jobs.define<{ ms?: number }>(
  "test.count",
  async (payload, run) => {
    await record(run.jobId, "run");
    await Bun.sleep(payload.ms ?? 2);
  },
  { concurrency: Number(process.env.JOB_CONCURRENCY ?? 10) },
);

jobs.start();
process.stdout.write("ready\n");

process.on("SIGTERM", async () => {
  await jobs.stop(5000);
  await database.close();
  process.exit(0);
});
