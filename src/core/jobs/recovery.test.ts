// Real processes: a worker killed with SIGKILL mid-job, and two workers sharing one PostgreSQL queue.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { createTestDb, dbKinds } from "../../../test/support/db";
import { type Database, openDatabase } from "../db";
import { createJobQueue } from "./queue";

const ROOT = join(import.meta.dir, "..", "..", "..");
const WORKER = join(ROOT, "test", "support", "job-worker.ts");
const RUNS_TABLE =
  "create table if not exists job_test_runs (job_id uuid, worker text, phase text, at timestamptz default now())";

/** Starts `test/support/job-worker.ts` and returns it with a reader of its stdout lines. */
function spawnWorker(env: Record<string, string>) {
  const child = Bun.spawn(["bun", WORKER], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdout: "pipe",
    stderr: "inherit",
  });
  const reader = child.stdout.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  /** Resolves with the first output line matching `re` (lines are consumed). */
  const line = async (re: RegExp, ms = 20_000) => {
    const until = Date.now() + ms;
    for (;;) {
      const nl = buffer.indexOf("\n");
      if (nl >= 0) {
        const l = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const m = l.match(re);
        if (m) return m;
        continue;
      }
      if (Date.now() > until) throw new Error(`worker printed no line matching ${re}`);
      const chunk = await Promise.race([reader.read(), Bun.sleep(until - Date.now()).then(() => null)]);
      if (!chunk) continue;
      if (chunk.done) throw new Error(`worker exited (code ${child.exitCode}) before printing ${re}`);
      buffer += decoder.decode(chunk.value, { stream: true });
    }
  };
  return { child, line };
}

async function waitFor<T>(fn: () => Promise<T> | T, ms = 15_000, what = "condition"): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

const children: Subprocess[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  for (const fn of cleanups.reverse()) await fn();
});

/** How many times each phase of a job was recorded by the workers. */
async function phases(database: Database, jobId: string) {
  const rows = await database.exec<{ phase: string; n: number }>(
    "select phase, count(*)::int as n from job_test_runs where job_id = $1 group by phase",
    [jobId],
  );
  return Object.fromEntries(rows.map((r) => [r.phase, r.n]));
}

for (const kind of dbKinds()) {
  describe(`kill -9 recovery [${kind}]`, () => {
    test("a job whose worker was killed mid-run runs again and completes exactly once; then never again", async () => {
      // PGlite: a data dir on disk that the killed process had open and this process reopens.
      // PostgreSQL: the same database, with a short lease so the lost claim expires quickly.
      let database: Database;
      let env: Record<string, string>;
      let dir: string | undefined;
      if (kind === "pglite") {
        const template = await createTestDb("pglite");
        const dump = await template.pglite!.dumpDataDir("none");
        await template.close();
        dir = join(mkdtempSync(join(tmpdir(), "ds-jobs-kill-")), "pg");
        cleanups.push(() => rmSync(join(dir!, ".."), { recursive: true, force: true }));
        database = await openDatabase({ dir, loadDataDir: dump, migrate: false });
        env = { JOB_DB_DIR: dir };
      } else {
        const pg = await createTestDb("postgres");
        cleanups.push(() => pg.close());
        database = pg;
        env = { JOB_DB_URL: pg.url!, JOB_LEASE_MS: "1000" };
      }
      await database.exec(RUNS_TABLE);
      const jobs = createJobQueue(database);
      const { id } = await jobs.enqueue("test.slow", { ms: 60_000 }, { key: "kill-9:slow" });
      if (kind === "pglite") await database.close(); // PGlite is one process at a time: hand the dir over

      const worker = spawnWorker(env);
      children.push(worker.child);
      const [, startedId] = await worker.line(/^started (\S+)$/);
      expect(startedId).toBe(id);
      worker.child.kill("SIGKILL");
      expect(await worker.child.exited).not.toBe(0);

      if (kind === "pglite") {
        database = await openDatabase({ dir: dir! }); // the "restart": reopen the dir the killed process used
        cleanups.push(() => database.close());
      }
      expect(await phases(database, id)).toEqual({ start: 1 });
      const lost = await createJobQueue(database).get(id);
      expect(lost).toMatchObject({ state: "running", attempts: 1 });

      // The next worker (a restart here on PGlite, another process's worker on PostgreSQL) takes the job back.
      const restarted = createJobQueue(database, { leaseMs: 1000, pollIntervalMs: 50 });
      restarted.define("test.slow", async (_p, run) => {
        await database.exec("insert into job_test_runs (job_id, worker, phase) values ($1, $2, 'start')", [
          run.jobId,
          "restarted",
        ]);
        await database.exec("insert into job_test_runs (job_id, worker, phase) values ($1, $2, 'finish')", [
          run.jobId,
          "restarted",
        ]);
        return { attempt: run.attempt };
      });
      restarted.start();
      const done = await waitFor(async () => {
        const j = await restarted.get(id);
        return j?.state === "completed" ? j : null;
      });
      expect(done.attempts).toBe(2);
      expect(done.result).toEqual({ attempt: 2 });
      expect(await phases(database, id)).toEqual({ start: 2, finish: 1 });
      await restarted.stop();

      // A completed job never runs again: not on another start, not when enqueued with its key again.
      const later = createJobQueue(database, { leaseMs: 1000, pollIntervalMs: 50 });
      let reran = false;
      later.define("test.slow", () => {
        reran = true;
      });
      later.start();
      expect(await later.enqueue("test.slow", { ms: 1 }, { key: "kill-9:slow" })).toEqual({ id, created: false });
      await Bun.sleep(1500);
      await later.stop();
      expect(reran).toBe(false);
      expect(await phases(database, id)).toEqual({ start: 2, finish: 1 });
      if (kind === "pglite") await database.close();
    }, 60_000);
  });
}

if (dbKinds().includes("postgres")) {
  describe("two processes on one PostgreSQL queue", () => {
    test("500 jobs are shared by two worker processes and none runs twice", async () => {
      const database = await createTestDb("postgres");
      cleanups.push(() => database.close());
      await database.exec(RUNS_TABLE);
      const workers = [0, 1].map(() =>
        spawnWorker({ JOB_DB_URL: database.url!, JOB_CONCURRENCY: "10", JOB_POLL_MS: "20" }),
      );
      for (const w of workers) children.push(w.child);
      await Promise.all(workers.map((w) => w.line(/^ready$/)));

      const jobs = createJobQueue(database);
      const ids = (
        await jobs.enqueueMany(Array.from({ length: 500 }, (_, i) => ({ name: "test.count", payload: { i, ms: 2 } })))
      ).map((r) => r.id);
      expect(new Set(ids).size).toBe(500);
      await waitFor(
        async () => {
          const [r] = await database.exec<{ n: number }>(
            "select count(*)::int as n from jobs where state = 'completed'",
          );
          return r.n === 500;
        },
        30_000,
        "500 completed jobs",
      );
      for (const w of workers) w.child.kill("SIGTERM");
      await Promise.all(workers.map((w) => w.child.exited));

      const [runs] = await database.exec<{ total: number; distinct: number }>(
        "select count(*)::int as total, count(distinct job_id)::int as distinct from job_test_runs",
      );
      expect(runs).toEqual({ total: 500, distinct: 500 });
      const perWorker = await database.exec<{ worker: string; n: number }>(
        "select worker, count(*)::int as n from job_test_runs group by worker",
      );
      expect(perWorker).toHaveLength(2); // both processes took part
      const [attempts] = await database.exec<{ max: number }>("select max(attempts)::int as max from jobs");
      expect(attempts.max).toBe(1);
    }, 60_000);
  });
}
