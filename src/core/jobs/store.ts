// The queue's SQL. One statement per operation, so each is atomic without a transaction (PGlite has a single
// connection; PostgreSQL a pool). Lists travel as one JSON parameter: the same text works on both drivers.
import type { Database } from "../db";
import type { JobState } from "./schema";

/**
 * A row to insert; `runAt` wins over `delayMs`; neither means now (database time). With `lockedBy` the row is
 * inserted already claimed by that worker (the enqueuing process runs it at once, saving a claim round trip).
 */
export interface NewJobRow {
  id: string;
  name: string;
  payload: unknown;
  key: string | null;
  runAt: string | null;
  delayMs: number | null;
  maxAttempts: number;
  lockedBy: string | null;
  orgId: string | null;
  projectId: string | null;
}

/** What a worker needs of a claimed job. */
export interface ClaimedRow {
  id: string;
  name: string;
  payload: unknown;
  attempts: number;
  max_attempts: number;
}

const ms = (param: string) => `(${param}::float8 * interval '1 millisecond')`;

/**
 * A PostgreSQL array literal of strings, for `$n::text[]` / `$n::uuid[]` parameters. Arrays (not JSON sets) let the
 * planner see how many values there are, so it probes the indexes instead of scanning the table.
 */
export const pgArray = (values: string[]) => `{${values.map((v) => `"${v.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;

// Columns set from `locked` (the claiming worker, or null): an enqueued row is queued, a pre-claimed one running.
const claimColumns = (locked: string, lease: string) => `
  case when ${locked} is null then 'queued' else 'running' end,
  case when ${locked} is null then 0 else 1 end,
  ${locked},
  case when ${locked} is null then null else now() + ${ms(lease)} end,
  case when ${locked} is null then null else now() end`;

/** Inserts jobs; rows whose key exists already are skipped. Returns the ids actually inserted. */
export async function insertJobs(database: Database, rows: NewJobRow[], leaseMs: number): Promise<Set<string>> {
  const columns =
    "id, name, payload, key, run_at, max_attempts, org_id, project_id, state, attempts, locked_by, locked_until, started_at";
  if (rows.length === 1) {
    const r = rows[0];
    const inserted = await database.exec<{ id: string }>(
      `insert into jobs (${columns})
       values ($1, $2, $3::jsonb, $4, coalesce($5::timestamptz, now() + ${ms("$6")}), $7, $10::uuid, $11::uuid,
               ${claimColumns("$8::text", "$9")})
       on conflict (key) do nothing returning id`,
      [
        r.id,
        r.name,
        JSON.stringify(r.payload ?? {}),
        r.key,
        r.runAt,
        r.delayMs ?? 0,
        r.maxAttempts,
        r.lockedBy,
        leaseMs,
        r.orgId,
        r.projectId,
      ],
    );
    return new Set(inserted.map((x) => x.id));
  }
  const inserted = await database.exec<{ id: string }>(
    `insert into jobs (${columns})
     select id, name, coalesce(payload, '{}'::jsonb), key,
            coalesce(run_at, now() + coalesce(delay_ms, 0) * interval '1 millisecond'), max_attempts,
            org_id, project_id, ${claimColumns("locked_by", "$2")}
       from jsonb_to_recordset($1::jsonb) as x(id uuid, name text, payload jsonb, key text, run_at timestamptz,
                                               delay_ms float8, max_attempts int, locked_by text,
                                               org_id uuid, project_id uuid)
     on conflict (key) do nothing returning id`,
    [
      JSON.stringify(
        rows.map((r) => ({
          id: r.id,
          name: r.name,
          payload: r.payload ?? {},
          key: r.key,
          run_at: r.runAt,
          delay_ms: r.delayMs,
          max_attempts: r.maxAttempts,
          locked_by: r.lockedBy,
          org_id: r.orgId,
          project_id: r.projectId,
        })),
      ),
      leaseMs,
    ],
  );
  return new Set(inserted.map((x) => x.id));
}

/** The ids of existing jobs by idempotency key. */
export async function idsByKey(database: Database, keys: string[]): Promise<Map<string, string>> {
  if (keys.length === 0) return new Map();
  const rows = await database.exec<{ id: string; key: string }>(
    "select id, key from jobs where key = any($1::text[])",
    [pgArray(keys)],
  );
  return new Map(rows.map((r) => [r.key, r.id]));
}

/**
 * Claims up to `n` due jobs per queue for `workerId` and starts their lease. Each queue's pick is its own
 * materialized, SKIP LOCKED subquery, so concurrent workers (other processes) never get the same row and the
 * planner sees small, index-ordered picks.
 */
export function claimJobs(database: Database, workerId: string, wants: { name: string; n: number }[], leaseMs: number) {
  const params: unknown[] = [workerId, leaseMs];
  const picks = wants.map((w, i) => {
    params.push(w.name, w.n);
    return `p${i} as materialized (
       select id from jobs
        where name = $${params.length - 1} and state in ('queued', 'failed') and run_at <= now()
        order by run_at, id limit $${params.length}
        for update skip locked)`;
  });
  return database.exec<ClaimedRow>(
    `with ${picks.join(",\n")},
     picked as (${wants.map((_, i) => `select id from p${i}`).join(" union all ")})
     update jobs j
        set state = 'running', attempts = j.attempts + 1, locked_by = $1, locked_until = now() + ${ms("$2")},
            started_at = now(), updated_at = now()
       from picked where j.id = picked.id
     returning j.id, j.name, j.payload, j.attempts, j.max_attempts`,
    params,
  );
}

/** Marks runs completed (only those still leased to `workerId`); returns the ids that were. */
export async function completeJobs(database: Database, workerId: string, done: { id: string; result: unknown }[]) {
  const results = Object.fromEntries(done.map((d) => [d.id, d.result ?? null]));
  const rows = await database.exec<{ id: string }>(
    `update jobs
        set state = 'completed', result = $3::jsonb -> id::text, progress = 100, locked_by = null,
            locked_until = null, finished_at = now(), updated_at = now()
      where id = any($2::uuid[]) and locked_by = $1 and state = 'running'
     returning id`,
    [workerId, pgArray(done.map((d) => d.id)), JSON.stringify(results)],
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * Records a failed attempt: `failed` with a retry at now + delay, or `dead`. Also stores the error as a log event,
 * whose id and time it returns (null when the job was no longer leased to `workerId`).
 */
export async function failJob(
  database: Database,
  workerId: string,
  id: string,
  state: "failed" | "dead",
  error: string,
  retryInMs: number,
  line: string,
) {
  const [row] = await database.exec<{ id: number; at: string }>(
    `with j as (
       update jobs
          set state = $3, last_error = $4, run_at = case when $3 = 'failed' then now() + ${ms("$5")} else run_at end,
              locked_by = null, locked_until = null, updated_at = now(),
              finished_at = case when $3 = 'dead' then now() else null end
        where id = $1 and locked_by = $2 and state = 'running'
        returning id)
     insert into job_events (job_id, kind, data)
       select id, 'log', jsonb_build_object('line', $6::text, 'level', 'error') from j
     returning id::float8 as id, created_at::text as at`,
    [id, workerId, state, error, retryInMs, line],
  );
  return row ? { id: Number(row.id), at: new Date(row.at).toISOString() } : null;
}

/** Renews the lease of every job `workerId` runs; returns the ids it still holds. */
export async function renewLeases(database: Database, workerId: string, leaseMs: number) {
  const rows = await database.exec<{ id: string }>(
    `update jobs set locked_until = now() + ${ms("$2")}
      where state = 'running' and locked_by = $1 returning id`,
    [workerId, leaseMs],
  );
  return new Set(rows.map((r) => r.id));
}

/** Puts jobs back in the queue without counting the attempt (graceful stop before they finished). */
export function releaseJobs(database: Database, workerId: string, ids: string[]) {
  return database.exec(
    `update jobs set state = 'queued', attempts = greatest(attempts - 1, 0), locked_by = null, locked_until = null,
            run_at = now(), updated_at = now()
      where id = any($2::uuid[]) and locked_by = $1 and state = 'running'`,
    [workerId, pgArray(ids)],
  );
}

/**
 * Takes back jobs whose worker is gone: lease expired, or (`aliveWorkers`, PGlite only, where one process owns the
 * database) held by a worker that is not alive in this process. The lost run counts as an attempt, so a job that
 * keeps killing its process ends up dead instead of looping.
 */
export function reapLostJobs(database: Database, aliveWorkers: string[] | null) {
  return database.exec<{ id: string; state: JobState; attempts: number; name: string }>(
    `update jobs
        set state = case when attempts >= max_attempts then 'dead' else 'queued' end,
            last_error = 'the worker running this job stopped (lease expired or process killed)',
            finished_at = case when attempts >= max_attempts then now() else null end,
            locked_by = null, locked_until = null, run_at = now(), updated_at = now()
      where state = 'running'
        and (locked_until < now() or ($1::text[] is not null and locked_by <> all($1::text[])))
     returning id, state, attempts, name`,
    [aliveWorkers ? pgArray(aliveWorkers) : null],
  );
}

/** Stores one progress or log event and returns its id; progress also updates the job row. */
export async function insertEvent(
  database: Database,
  jobId: string,
  kind: "progress" | "log",
  data: Record<string, unknown>,
): Promise<{ id: number; at: string }> {
  const text =
    kind === "progress"
      ? `with e as (insert into job_events (job_id, kind, data) values ($1, 'progress', $2::jsonb) returning id, created_at),
              u as (update jobs set progress = $3, progress_message = $4, updated_at = now() where id = $1)
         select id::float8 as id, created_at::text as at from e`
      : `insert into job_events (job_id, kind, data) values ($1, 'log', $2::jsonb)
         returning id::float8 as id, created_at::text as at`;
  const params =
    kind === "progress" ? [jobId, JSON.stringify(data), data.pct, data.message ?? null] : [jobId, JSON.stringify(data)];
  const [row] = await database.exec<{ id: number; at: string }>(text, params);
  return { id: Number(row.id), at: new Date(row.at).toISOString() };
}

/** Requeues a dead (or waiting) job now, with a fresh attempt budget. */
export async function requeueJob(database: Database, id: string) {
  const rows = await database.exec<{ id: string }>(
    `update jobs set state = 'queued', attempts = 0, run_at = now(), finished_at = null, updated_at = now()
      where id = $1 and state in ('dead', 'failed') returning id`,
    [id],
  );
  return rows.length > 0;
}

/**
 * Deletes finished jobs older than `before` whose key no longer protects anything: keyless jobs and cron ticks.
 * Jobs with other keys stay (their key must keep refusing a second run); their events are dropped.
 */
export async function pruneJobs(database: Database, before: Date) {
  const iso = before.toISOString();
  const deleted = await database.exec<{ n: number }>(
    `with d as (delete from jobs where state in ('completed', 'dead') and finished_at < $1::timestamptz
                  and (key is null or key like 'cron:%') returning 1)
     select count(*)::int as n from d`,
    [iso],
  );
  await database.exec(
    `delete from job_events where job_id in (
       select id from jobs where state in ('completed', 'dead') and finished_at < $1::timestamptz)`,
    [iso],
  );
  return deleted[0]?.n ?? 0;
}
