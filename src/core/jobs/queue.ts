import { hostname } from "node:os";
import { and, asc, desc, eq, gt, type SQL, sql } from "drizzle-orm";
import type { Database, Db } from "../db";
import { conflict, invalidInput, notFound, StoreError } from "../errors";
import { log as rootLog } from "../logger";
import { GroupCommit } from "./batch";
import { EventBus, type JobEvent, type JobListener } from "./events";
import { Runner } from "./runner";
import { jobEvents, type JobState, jobs as jobsTable } from "./schema";
import * as store from "./store";
import type {
  DefineOptions,
  Definition,
  EnqueueOptions,
  EnqueueResult,
  Job,
  JobDefinition,
  JobHandler,
  JobQueueOptions,
} from "./types";

export {
  type DefineOptions,
  type EnqueueOptions,
  type EnqueueResult,
  FatalJobError,
  type Job,
  type JobDefinition,
  type JobHandler,
  type JobQueueOptions,
  type RunContext,
  type RunScope,
} from "./types";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = /^[a-z0-9][\w.:-]{0,99}$/i;
const INSERT_CHUNK = 1000;
const BATCHABLE = 100; // enqueueMany calls larger than this insert on their own
const COMMIT_GRACE_MS = 50; // enqueueIn's wake: most transactions commit within it; the poll finds the rest

/** Creates a job queue on `database`; define handlers, then `start()` to run them. */
export function createJobQueue(database: Database, opts: JobQueueOptions = {}) {
  return new JobQueue(database, opts);
}

/**
 * A durable job queue on the `jobs` table. At-least-once: a run interrupted by a crash runs again; a completed
 * job never does. Any process may enqueue any job; a job runs in a process that defines it. Concurrency limits
 * are per process.
 */
export class JobQueue {
  readonly workerId: string;
  private readonly defs = new Map<string, Definition>();
  private readonly bus = new EventBus();
  private readonly runner: Runner;
  private readonly leaseMs: number;
  private readonly inserts: GroupCommit<store.NewJobRow, EnqueueResult>;

  constructor(
    private readonly database: Database,
    opts: JobQueueOptions = {},
  ) {
    this.workerId = opts.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.runner = new Runner(database, this.bus, this.defs, {
      workerId: this.workerId,
      log: (opts.log ?? rootLog).child({ component: "jobs" }),
      pollIntervalMs: opts.pollIntervalMs ?? 500,
      leaseMs: this.leaseMs,
      batchSize: opts.batchSize ?? 50,
    });
    this.inserts = new GroupCommit((rows) => this.insertRows(rows), INSERT_CHUNK);
  }

  /** Registers the handler of job `name`; returns a typed handle to enqueue it. */
  define<P = unknown, R = unknown>(
    name: string,
    handler: JobHandler<P, R>,
    opts: DefineOptions = {},
  ): JobDefinition<P> {
    if (!NAME.test(name)) throw new Error(`invalid job name ${JSON.stringify(name)}`);
    if (this.defs.has(name)) throw new Error(`job ${name} is already defined`);
    this.defs.set(name, {
      name,
      handler,
      concurrency: positiveInt(opts.concurrency ?? 5, "concurrency"),
      maxAttempts: positiveInt(opts.maxAttempts ?? 5, "maxAttempts"),
      backoffMs: opts.backoffMs ?? 1000,
      maxBackoffMs: opts.maxBackoffMs ?? 3_600_000,
      timeoutMs: opts.timeoutMs,
    });
    this.runner.added(name);
    return { name, enqueue: (payload, o) => this.enqueue(name, payload, o) };
  }

  /** Names of the jobs this process can run. */
  defined(): string[] {
    return [...this.defs.keys()];
  }

  /** Adds a job (or returns the existing one with the same key). Runs on whichever process defines `name`. */
  async enqueue<P>(name: string, payload: P, opts: EnqueueOptions = {}): Promise<EnqueueResult> {
    const [result] = await this.enqueueMany([{ ...opts, name, payload }]);
    return result;
  }

  /**
   * Adds a job inside the caller's transaction `tx`: it is stored exactly when that transaction commits, so a state
   * change and the job that follows it up never come apart (a crash right after the commit loses neither, and a
   * rollback leaves no job behind). Workers see it once committed: on their next poll, or the wake shortly after.
   */
  async enqueueIn<P>(tx: Db, name: string, payload: P, opts: EnqueueOptions = {}): Promise<EnqueueResult> {
    const r = this.toRow({ ...opts, name, payload });
    const delay = r.runAt ? Date.parse(r.runAt) - Date.now() : (r.delayMs ?? 0);
    const result = await insertJobIn(tx, r);
    // The commit comes after this returns: a wake now would find nothing, so the wake waits a little.
    if (result.created && this.defs.has(name)) this.runner.wakeAt(Math.max(0, delay) + COMMIT_GRACE_MS);
    return result;
  }

  /**
   * Adds many jobs; results are in the order given. Small calls made together share one INSERT; a large call
   * inserts a thousand rows per statement.
   */
  async enqueueMany(items: (EnqueueOptions & { name: string; payload: unknown })[]): Promise<EnqueueResult[]> {
    const rows = items.map((item) => this.toRow(item));
    // Jobs this process can start right away are inserted already claimed: one statement instead of two.
    for (const r of rows) if (this.runner.reserveSlot(r)) r.lockedBy = this.workerId;
    const direct = rows.filter((r) => r.lockedBy);
    const inserting =
      rows.length > BATCHABLE ? this.insertRows(rows) : Promise.all(rows.map((r) => this.inserts.submit(r)));
    if (direct.length > 0) this.runner.trackDirect(inserting);
    let results: EnqueueResult[];
    try {
      results = await inserting;
    } catch (err) {
      for (const r of direct) this.runner.releaseSlot(r.name);
      throw err;
    }
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (r.lockedBy) {
        if (results[i].created) {
          const claimed = { id: r.id, name: r.name, payload: r.payload, attempts: 1, max_attempts: r.maxAttempts };
          this.runner.execute(claimed, true);
        } else {
          this.runner.releaseSlot(r.name);
        }
      } else if (results[i].created && this.defs.has(r.name)) {
        const delay = r.runAt ? Date.parse(r.runAt) - Date.now() : (r.delayMs ?? 0);
        if (delay <= 0) this.runner.wake();
        else this.runner.wakeAt(delay);
      }
    }
    return results;
  }

  /** The job with this id, or null. */
  async get<P = unknown, R = unknown>(id: string): Promise<Job<P, R> | null> {
    if (!UUID.test(id)) return null;
    const [row] = await this.database.db.select().from(jobsTable).where(eq(jobsTable.id, id)).limit(1);
    return (row as Job<P, R> | undefined) ?? null;
  }

  /** Recent jobs, newest first. */
  async list(filter: { state?: JobState; name?: string; limit?: number } = {}): Promise<Job[]> {
    const where: SQL[] = [];
    if (filter.state) where.push(eq(jobsTable.state, filter.state));
    if (filter.name) where.push(eq(jobsTable.name, filter.name));
    const rows = await this.database.db
      .select()
      .from(jobsTable)
      .where(where.length ? and(...where) : undefined)
      .orderBy(desc(jobsTable.createdAt), desc(jobsTable.id))
      .limit(Math.min(Math.max(filter.limit ?? 50, 1), 500));
    return rows as Job[];
  }

  /** Stored progress and log events of a job after event id `after`, oldest first. */
  async events(jobId: string, opts: { after?: number; limit?: number } = {}): Promise<JobEvent[]> {
    if (!UUID.test(jobId)) return [];
    const rows = await this.database.db
      .select()
      .from(jobEvents)
      .where(and(eq(jobEvents.jobId, jobId), gt(jobEvents.id, opts.after ?? 0)))
      .orderBy(asc(jobEvents.id))
      .limit(opts.limit ?? 1000);
    return rows.map(storedEvent);
  }

  /** Runs a dead (or retry-waiting) job again now, with a fresh attempt budget. */
  async retry(id: string): Promise<Job> {
    if (!(UUID.test(id) && (await store.requeueJob(this.database, id)))) {
      const job = await this.get(id);
      if (!job) throw notFound("Job");
      throw conflict(`The job is ${job.state}; only dead or failed jobs can be retried.`);
    }
    this.bus.emitState(id, "queued", 0);
    const job = (await this.get(id)) as Job;
    if (this.defs.has(job.name)) this.runner.wake();
    return job;
  }

  /** Live events of one job (or "*" for every job) run by this process. Returns the unsubscribe function. */
  subscribe(jobId: string, fn: JobListener): () => void {
    return this.bus.subscribe(jobId, fn);
  }

  /** Deletes finished keyless and cron jobs older than `olderThanMs`; returns how many. */
  prune(olderThanMs: number): Promise<number> {
    return store.pruneJobs(this.database, new Date(Date.now() - olderThanMs));
  }

  /** Counters since this queue was created, and what runs now. */
  stats() {
    return this.runner.stats();
  }

  /** Starts claiming and running jobs. Jobs left running by a dead worker are taken back first. */
  start() {
    this.runner.start();
  }

  /**
   * Stops claiming, waits up to `deadlineMs` for running handlers, then aborts the rest and puts them back in the
   * queue (their attempt does not count). Safe to call twice; `start()` may be called again afterwards.
   */
  async stop(deadlineMs = 10_000): Promise<void> {
    await this.runner.stop(deadlineMs);
    await this.inserts.drain();
  }

  private toRow(item: EnqueueOptions & { name: string; payload: unknown }): store.NewJobRow {
    if (!NAME.test(item.name)) throw invalidInput({ name: "not a valid job name" });
    if (item.key !== undefined && (typeof item.key !== "string" || item.key.length === 0 || item.key.length > 500)) {
      throw invalidInput({ key: "an idempotency key is 1–500 characters" });
    }
    try {
      JSON.stringify(item.payload ?? {});
    } catch {
      throw invalidInput({ payload: "the payload must be JSON" });
    }
    const { orgId = null, projectId = null } = item.scope ?? {};
    if ((orgId !== null && !UUID.test(orgId)) || (projectId !== null && !UUID.test(projectId))) {
      throw invalidInput({ scope: "a run's org and project are ids" });
    }
    return {
      id: Bun.randomUUIDv7(),
      name: item.name,
      payload: item.payload ?? {},
      key: item.key ?? null,
      runAt: item.runAt ? item.runAt.toISOString() : null,
      delayMs: item.delayMs ?? null,
      maxAttempts: positiveInt(item.maxAttempts ?? this.defs.get(item.name)?.maxAttempts ?? 5, "maxAttempts"),
      lockedBy: null,
      orgId,
      projectId,
    };
  }

  /** Inserts rows (chunked) and resolves each to its job: the new one, or the one already holding its key. */
  private async insertRows(rows: store.NewJobRow[]): Promise<EnqueueResult[]> {
    const inserted = new Set<string>();
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      const chunk = rows.slice(i, i + INSERT_CHUNK);
      for (const id of await store.insertJobs(this.database, chunk, this.leaseMs)) inserted.add(id);
    }
    const missingKeys = [...new Set(rows.filter((r) => !inserted.has(r.id)).map((r) => r.key as string))];
    let existing = await store.idsByKey(this.database, missingKeys);
    if (existing.size < missingKeys.length) {
      // A concurrent insert of the same key committed after our statement's snapshot: read again.
      existing = await store.idsByKey(this.database, missingKeys);
    }
    return rows.map((r) => {
      if (inserted.has(r.id)) return { id: r.id, created: true };
      const id = existing.get(r.key as string);
      if (!id) throw new StoreError(`job with key ${r.key} was neither inserted nor found`);
      return { id, created: false };
    });
  }
}

/**
 * Adds job `name` inside transaction `tx` where no queue is at hand (the domain event bus's emit): it is stored
 * exactly when `tx` commits, and a worker of any process that defines `name` finds it on its next poll.
 */
export function enqueueInTx(
  tx: Db,
  name: string,
  payload: unknown,
  opts: Pick<EnqueueOptions, "key" | "maxAttempts" | "scope"> = {},
): Promise<EnqueueResult> {
  return insertJobIn(tx, {
    id: Bun.randomUUIDv7(),
    name,
    payload,
    key: opts.key ?? null,
    runAt: null,
    delayMs: null,
    maxAttempts: opts.maxAttempts ?? 5,
    lockedBy: null,
    orgId: opts.scope?.orgId ?? null,
    projectId: opts.scope?.projectId ?? null,
  });
}

/** Inserts one job row in `tx`; a row whose key exists already resolves to that job. */
async function insertJobIn(tx: Db, r: store.NewJobRow): Promise<EnqueueResult> {
  const delay = r.runAt ? Date.parse(r.runAt) - Date.now() : (r.delayMs ?? 0);
  const [row] = await tx
    .insert(jobsTable)
    .values({
      id: r.id,
      name: r.name,
      payload: r.payload,
      key: r.key,
      maxAttempts: r.maxAttempts,
      orgId: r.orgId,
      projectId: r.projectId,
      // The database's clock, as enqueue() uses.
      runAt: r.runAt ? new Date(r.runAt) : sql`now() + (${Math.max(0, delay)}::float8 * interval '1 millisecond')`,
    })
    .onConflictDoNothing()
    .returning({ id: jobsTable.id });
  if (row) return { id: row.id, created: true };
  const existing = r.key
    ? (await tx.select({ id: jobsTable.id }).from(jobsTable).where(eq(jobsTable.key, r.key)))[0]
    : undefined;
  if (!existing) throw new StoreError(`job with key ${r.key} was neither inserted nor found`);
  return { id: existing.id, created: false };
}

function storedEvent(r: typeof jobEvents.$inferSelect): JobEvent {
  const at = r.createdAt.toISOString();
  if (r.kind === "progress") {
    const message = (r.data.message as string | null) ?? null;
    return { type: "progress", jobId: r.jobId, id: r.id, pct: Number(r.data.pct), message, at };
  }
  const level = r.data.level as string | undefined;
  return { type: "log", jobId: r.jobId, id: r.id, line: String(r.data.line), ...(level ? { level } : {}), at };
}

function positiveInt(n: number, what: string) {
  if (!Number.isInteger(n) || n < 1) throw invalidInput({ [what]: "must be a positive integer" });
  return n;
}
