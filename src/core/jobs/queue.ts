import { hostname } from "node:os";
import { and, asc, desc, eq, gt, type SQL } from "drizzle-orm";
import type { Database } from "../db";
import { conflict, invalidInput, notFound, StoreError } from "../errors";
import { type Logger, log as rootLog } from "../logger";
import { EventBus, type JobEvent, type JobListener } from "./events";
import { jobEvents, type JobState, jobs as jobsTable } from "./schema";
import * as store from "./store";

/** What a handler gets besides its payload: identity of the run, cancellation, and progress reporting. */
export interface RunContext {
  readonly jobId: string;
  readonly name: string;
  /** 1 on the first run, 2 on the first retry, … */
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Aborted on timeout, when the lease is lost, or when shutdown's deadline passes: stop work when it fires. */
  readonly signal: AbortSignal;
  /** Stores a progress event (0–100) and streams it to subscribers. Writes are ordered; awaiting is optional. */
  progress(pct: number, message?: string): Promise<void>;
  /** Stores a log line of this run and streams it to subscribers. */
  log(line: string): Promise<void>;
}

/** A job handler: its resolved value is stored as the job's result (JSON), a throw is a failed attempt. */
export type JobHandler<P, R> = (payload: P, run: RunContext) => R | Promise<R>;

/** Per-job settings given to `define`. */
export interface DefineOptions {
  /** Handlers of this job running at once in this process (default 5). */
  concurrency?: number;
  /** Attempts before the job is dead (default 5); the enqueue option wins. */
  maxAttempts?: number;
  /** First retry delay; doubles each attempt, with jitter (default 1000 ms). */
  backoffMs?: number;
  /** Longest retry delay (default 1 hour). */
  maxBackoffMs?: number;
  /** An attempt running longer fails (its signal is aborted); none by default. */
  timeoutMs?: number;
}

/** Options of one enqueue. */
export interface EnqueueOptions {
  /** Idempotency key: a second enqueue with the same key returns the first job, which runs once. */
  key?: string;
  /** Do not run before this time. */
  runAt?: Date;
  /** Do not run before now + delayMs (database clock); ignored when runAt is given. */
  delayMs?: number;
  maxAttempts?: number;
}

/** The outcome of an enqueue: the job's id, and whether this call created it (false: the key existed). */
export interface EnqueueResult {
  id: string;
  created: boolean;
}

/** A job as stored. */
export type Job<P = unknown, R = unknown> = Omit<typeof jobsTable.$inferSelect, "payload" | "result"> & {
  payload: P;
  result: R | null;
};

/** A defined job, typed by its payload: `await releasePayment.enqueue({ taskId })`. */
export interface JobDefinition<P> {
  readonly name: string;
  enqueue(payload: P, opts?: EnqueueOptions): Promise<EnqueueResult>;
}

/** Thrown by a handler when retrying cannot help (bad payload, revoked access): the job goes dead at once. */
export class FatalJobError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FatalJobError";
  }
}

/** Settings of a queue instance. */
export interface JobQueueOptions {
  /** Identifies this worker in `locked_by`; default `<host>:<pid>:<random>`. */
  workerId?: string;
  log?: Logger;
  /** How often to look for due jobs enqueued elsewhere (other processes, delays); default 500 ms. */
  pollIntervalMs?: number;
  /** How long a claim holds a job without a heartbeat; renewed every third of it. Default 30 s. */
  leaseMs?: number;
  /** Most jobs claimed per queue in one statement; default 50. */
  batchSize?: number;
}

interface Definition {
  name: string;
  handler: JobHandler<any, any>;
  concurrency: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs?: number;
}

interface Running {
  id: string;
  name: string;
  ac: AbortController;
  claimedAt: number;
  /** The handler has settled; its outcome is being written. */
  finishing: boolean;
  /** Handed back at shutdown or lost to another worker: its outcome must not be written. */
  released: boolean;
  done: Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NAME = /^[a-z0-9][\w.:-]{0,99}$/i;
const INSERT_CHUNK = 1000;
const BATCHABLE = 100; // enqueueMany calls larger than this insert on their own

// Workers started in this process. On PGlite the process owns the database, so a running job held by any other
// worker id was left by a killed process and can be taken back at once instead of waiting for its lease.
const liveWorkers = new Set<string>();

/** Creates a job queue on `database`; define handlers, then `start()` to run them. */
export function createJobQueue(database: Database, opts: JobQueueOptions = {}) {
  return new JobQueue(database, opts);
}

/**
 * A durable job queue on the `jobs` table. At-least-once: a run interrupted by a crash runs again; a completed
 * job never does. Concurrency limits are per process.
 */
export class JobQueue {
  readonly workerId: string;
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private readonly leaseMs: number;
  private readonly batchSize: number;
  private readonly reapIntervalMs: number;
  private readonly defs = new Map<string, Definition>();
  private readonly bus = new EventBus();
  private readonly running = new Map<string, Running>();
  private readonly active = new Map<string, number>();
  private status: "idle" | "running" | "stopping" = "idle";
  private wakeScheduled = false;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private lastReap = 0;
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private readonly delayTimers = new Set<ReturnType<typeof setTimeout>>();
  private completions: { id: string; result: unknown; resolve: (ok: boolean) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private inserts: {
    rows: store.NewJobRow[];
    resolve: (r: EnqueueResult[]) => void;
    reject: (err: unknown) => void;
  }[] = [];
  private inserting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private readonly counters = { claimed: 0, completed: 0, failed: 0, dead: 0 };

  constructor(
    private readonly database: Database,
    opts: JobQueueOptions = {},
  ) {
    this.workerId = opts.workerId ?? `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
    this.log = (opts.log ?? rootLog).child({ component: "jobs" });
    this.pollIntervalMs = opts.pollIntervalMs ?? 500;
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.batchSize = opts.batchSize ?? 50;
    this.reapIntervalMs = Math.max(100, Math.min(this.leaseMs / 2, 10_000));
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
    this.wake();
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

  /** Adds many jobs in one statement per thousand; results are in the order given. */
  async enqueueMany(items: (EnqueueOptions & { name: string; payload: unknown })[]): Promise<EnqueueResult[]> {
    const rows: store.NewJobRow[] = items.map((item) => {
      if (!NAME.test(item.name)) throw invalidInput({ name: "not a valid job name" });
      if (item.key !== undefined && (typeof item.key !== "string" || item.key.length === 0 || item.key.length > 500)) {
        throw invalidInput({ key: "an idempotency key is 1–500 characters" });
      }
      try {
        JSON.stringify(item.payload ?? {});
      } catch {
        throw invalidInput({ payload: "the payload must be JSON" });
      }
      return {
        id: Bun.randomUUIDv7(),
        name: item.name,
        payload: item.payload ?? {},
        key: item.key ?? null,
        runAt: item.runAt ? item.runAt.toISOString() : null,
        delayMs: item.delayMs ?? null,
        maxAttempts: positiveInt(item.maxAttempts ?? this.defs.get(item.name)?.maxAttempts ?? 5, "maxAttempts"),
      };
    });
    const results = rows.length > BATCHABLE ? await this.insertRows(rows) : await this.queueInsert(rows);
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      if (!results[i].created || !this.defs.has(r.name)) continue;
      const delay = r.runAt ? Date.parse(r.runAt) - Date.now() : (r.delayMs ?? 0);
      if (delay <= 0) this.wake();
      else if (delay < 60_000 && this.status === "running") this.wakeAt(delay);
    }
    return results;
  }

  /** Small enqueues arriving together share one INSERT (a commit each would cap a busy process at disk speed). */
  private queueInsert(rows: store.NewJobRow[]): Promise<EnqueueResult[]> {
    return new Promise((resolve, reject) => {
      this.inserts.push({ rows, resolve, reject });
      this.scheduleInserts();
    });
  }

  private scheduleInserts() {
    if (this.inserting) return;
    this.inserting = new Promise<void>((r) => setImmediate(r))
      .then(async () => {
        while (this.inserts.length > 0) {
          const groups: typeof this.inserts = [];
          let size = 0;
          while (this.inserts.length > 0 && size < INSERT_CHUNK) {
            const g = this.inserts.shift()!;
            groups.push(g);
            size += g.rows.length;
          }
          try {
            const results = await this.insertRows(groups.flatMap((g) => g.rows));
            let at = 0;
            for (const g of groups) {
              g.resolve(results.slice(at, at + g.rows.length));
              at += g.rows.length;
            }
          } catch (err) {
            for (const g of groups) g.reject(err);
          }
        }
      })
      .finally(() => {
        this.inserting = undefined;
        if (this.inserts.length > 0) this.scheduleInserts();
      });
  }

  /** Inserts rows (chunked) and resolves each to its job: the new one, or the one already holding its key. */
  private async insertRows(rows: store.NewJobRow[]): Promise<EnqueueResult[]> {
    const inserted = new Set<string>();
    for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
      for (const id of await store.insertJobs(this.database, rows.slice(i, i + INSERT_CHUNK))) inserted.add(id);
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
    return rows.map((r) => storedEvent(r));
  }

  /** Runs a dead (or retry-waiting) job again now, with a fresh attempt budget. */
  async retry(id: string): Promise<Job> {
    if (!(UUID.test(id) && (await store.requeueJob(this.database, id)))) {
      const job = await this.get(id);
      if (!job) throw notFound("Job");
      throw conflict(`The job is ${job.state}; only dead or failed jobs can be retried.`);
    }
    this.emitState(id, "queued", 0);
    const job = (await this.get(id)) as Job;
    if (this.defs.has(job.name)) this.wake();
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
    return {
      workerId: this.workerId,
      status: this.status,
      running: this.running.size,
      byQueue: Object.fromEntries(this.active),
      ...this.counters,
    };
  }

  /** Starts claiming and running jobs. Jobs left running by a dead worker are taken back first. */
  start() {
    if (this.status !== "idle") return;
    this.status = "running";
    liveWorkers.add(this.workerId);
    this.lastReap = 0; // reap on the first pump
    this.pollTimer = setInterval(() => this.wake(), this.pollIntervalMs);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(50, this.leaseMs / 3));
    this.wake();
  }

  /**
   * Stops claiming, waits up to `deadlineMs` for running handlers, then aborts the rest and puts them back in the
   * queue (their attempt does not count). Safe to call twice; `start()` may be called again afterwards.
   */
  stop(deadlineMs = 10_000): Promise<void> {
    if (this.status === "idle") return this.stopping ?? Promise.resolve();
    if (this.stopping) return this.stopping;
    this.status = "stopping";
    this.stopping = (async () => {
      clearInterval(this.pollTimer);
      for (const t of this.delayTimers) clearTimeout(t);
      this.delayTimers.clear();
      await this.pumping;
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), deadlineMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) {
        const left = [...this.running.values()].filter((r) => !r.finishing);
        for (const r of left) {
          r.released = true;
          r.ac.abort(new Error("the worker is shutting down"));
        }
        if (left.length) {
          try {
            await store.releaseJobs(
              this.database,
              this.workerId,
              left.map((r) => r.id),
            );
            for (const r of left) this.emitState(r.id, "queued", 0);
            this.log.warn("jobs released at shutdown", { ids: left.map((r) => r.id) });
          } catch (err) {
            this.log.error("could not release jobs at shutdown; their leases will expire", { err });
          }
        }
      }
      while (this.flushing) await this.flushing;
      clearInterval(this.heartbeatTimer);
      liveWorkers.delete(this.workerId);
      this.status = "idle";
      this.stopping = undefined;
    })();
    return this.stopping;
  }

  // --- running jobs ------------------------------------------------------------------------------------------

  /** Schedules a claim round on the next turn of the event loop (coalescing many wake-ups into one statement). */
  private wake() {
    if (this.status !== "running" || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (this.pumping) this.pumpAgain = true;
      else this.pumping = this.pump().finally(() => (this.pumping = undefined));
    });
  }

  private wakeAt(delayMs: number) {
    const t = setTimeout(() => {
      this.delayTimers.delete(t);
      this.wake();
    }, delayMs + 5);
    this.delayTimers.add(t);
  }

  private async pump() {
    try {
      do {
        this.pumpAgain = false;
        if (this.status !== "running") return;
        if (Date.now() - this.lastReap >= this.reapIntervalMs) await this.reap();
        const wants: { name: string; n: number }[] = [];
        for (const def of this.defs.values()) {
          const n = Math.min(this.batchSize, def.concurrency - (this.active.get(def.name) ?? 0));
          if (n > 0) wants.push({ name: def.name, n });
        }
        if (wants.length === 0) return;
        const rows = await store.claimJobs(this.database, this.workerId, wants, this.leaseMs);
        const got = new Map<string, number>();
        for (const row of rows) {
          got.set(row.name, (got.get(row.name) ?? 0) + 1);
          this.execute(row);
        }
        // A queue that filled its whole request probably has more waiting.
        if (wants.some((w) => got.get(w.name) === w.n)) this.pumpAgain = true;
      } while (this.pumpAgain);
    } catch (err) {
      this.log.error("claiming jobs failed", { err });
    }
  }

  private async reap() {
    this.lastReap = Date.now();
    const alive = this.database.kind === "pglite" ? [...liveWorkers] : null;
    const rows = await store.reapLostJobs(this.database, alive);
    for (const r of rows) {
      this.log.warn("job taken back from a lost worker", {
        jobId: r.id,
        job: r.name,
        attempts: r.attempts,
        state: r.state,
      });
      this.emitState(r.id, r.state, r.attempts, "the worker running this job stopped");
      if (r.state === "dead") this.counters.dead++;
    }
  }

  private async heartbeat() {
    if (this.running.size === 0) return;
    const started = Date.now();
    try {
      const held = await store.renewLeases(this.database, this.workerId, this.leaseMs);
      for (const r of this.running.values()) {
        if (held.has(r.id) || r.finishing || r.released || r.claimedAt >= started) continue;
        r.released = true;
        r.ac.abort(new Error("the job's lease was lost"));
        this.log.warn("job lease lost; another worker may run it", { jobId: r.id, job: r.name });
      }
    } catch (err) {
      this.log.warn("renewing job leases failed", { err });
    }
  }

  private execute(row: store.ClaimedRow) {
    const def = this.defs.get(row.name);
    if (!def) return; // not possible: we claim only names we define
    this.counters.claimed++;
    const run: Running = {
      id: row.id,
      name: row.name,
      ac: new AbortController(),
      claimedAt: Date.now(),
      finishing: false,
      released: false,
      done: Promise.resolve(),
    };
    this.running.set(row.id, run);
    this.active.set(row.name, (this.active.get(row.name) ?? 0) + 1);
    this.emitState(row.id, "running", row.attempts);
    run.done = this.perform(def, row, run)
      .catch((err) => this.log.error("job bookkeeping failed", { jobId: row.id, job: row.name, err }))
      .finally(() => {
        this.running.delete(row.id);
        this.active.set(row.name, (this.active.get(row.name) ?? 1) - 1);
        this.wake();
      });
  }

  private async perform(def: Definition, row: store.ClaimedRow, run: Running) {
    const log = this.log.child({ jobId: row.id, job: row.name, attempt: row.attempts });
    let writes: Promise<void> = Promise.resolve();
    const record = (kind: "progress" | "log", data: Record<string, unknown>) => {
      writes = writes.then(() => this.recordEvent(row.id, kind, data, log));
      return writes;
    };
    const ctx: RunContext = {
      jobId: row.id,
      name: row.name,
      attempt: row.attempts,
      maxAttempts: row.max_attempts,
      signal: run.ac.signal,
      progress: (pct, message) =>
        record("progress", { pct: Math.max(0, Math.min(100, Number(pct) || 0)), message: message ?? null }),
      log: (line) => record("log", { line: String(line) }),
    };

    let value: unknown;
    let failure: unknown;
    let failed = false;
    try {
      value = await withTimeout(
        Promise.resolve().then(() => def.handler(row.payload, ctx)),
        def.timeoutMs,
        run.ac,
      );
    } catch (err) {
      failed = true;
      failure = err;
    }
    run.finishing = true;
    await writes;
    if (run.released) return;

    let result: unknown = null;
    if (!failed) {
      try {
        result = value === undefined ? null : JSON.parse(JSON.stringify(value));
      } catch (err) {
        failed = true;
        failure = new FatalJobError("the job's result is not JSON", { cause: err });
      }
    }
    if (failed) return this.recordFailure(def, row, failure, log);

    if (await this.complete(row.id, result)) {
      this.counters.completed++;
      log.debug("job completed");
      this.emitState(row.id, "completed", row.attempts, null, result);
    } else {
      log.warn("job finished after its lease was lost; its result was not recorded");
    }
  }

  private async recordFailure(def: Definition, row: store.ClaimedRow, err: unknown, log: Logger) {
    const message = errorMessage(err);
    const dead = err instanceof FatalJobError || row.attempts >= row.max_attempts;
    const delay = dead ? 0 : backoff(def, row.attempts);
    const line = dead
      ? `attempt ${row.attempts} failed: ${message}; giving up`
      : `attempt ${row.attempts} failed: ${message}; retrying in ${Math.round(delay)} ms`;
    const event = await store.failJob(
      this.database,
      this.workerId,
      row.id,
      dead ? "dead" : "failed",
      message,
      delay,
      line,
    );
    if (!event) {
      log.warn("job failed after its lease was lost", { err });
      return;
    }
    this.bus.emit({ type: "log", jobId: row.id, id: event.id, line, level: "error", at: event.at });
    if (dead) {
      this.counters.dead++;
      log.error("job is dead", { err, attempts: row.attempts });
      this.emitState(row.id, "dead", row.attempts, message);
    } else {
      this.counters.failed++;
      log.warn("job attempt failed; will retry", { err, retryInMs: Math.round(delay) });
      this.emitState(row.id, "failed", row.attempts, message);
      if (delay < 60_000 && this.status === "running") this.wakeAt(delay);
    }
  }

  private async recordEvent(jobId: string, kind: "progress" | "log", data: Record<string, unknown>, log: Logger) {
    try {
      const { id, at } = await store.insertEvent(this.database, jobId, kind, data);
      if (kind === "progress") {
        this.bus.emit({
          type: "progress",
          jobId,
          id,
          pct: data.pct as number,
          message: data.message as string | null,
          at,
        });
      } else {
        this.bus.emit({ type: "log", jobId, id, line: data.line as string, at });
      }
    } catch (err) {
      log.warn("could not store a job event", { err, kind });
    }
  }

  /** Queues a completion; completions arriving together are written by one statement (group commit). */
  private complete(id: string, result: unknown): Promise<boolean> {
    return new Promise((resolve) => {
      this.completions.push({ id, result, resolve });
      this.scheduleFlush();
    });
  }

  private scheduleFlush() {
    if (this.flushing) return;
    this.flushing = new Promise<void>((r) => setImmediate(r))
      .then(() => this.flushCompletions())
      .finally(() => {
        this.flushing = undefined;
        if (this.completions.length > 0) this.scheduleFlush(); // arrived while the last statement returned
      });
  }

  private async flushCompletions() {
    while (this.completions.length > 0) {
      const batch = this.completions.splice(0, 500);
      try {
        const done = await store.completeJobs(this.database, this.workerId, batch);
        for (const c of batch) c.resolve(done.has(c.id));
      } catch (err) {
        // The jobs stay leased to us; if we cannot write, the lease expires and they run again (at least once).
        this.log.error("recording job completions failed", { err, ids: batch.map((c) => c.id) });
        for (const c of batch) c.resolve(false);
      }
    }
  }

  private emitState(jobId: string, state: JobState, attempts: number, error?: string | null, result?: unknown) {
    this.bus.emit({ type: "state", jobId, state, attempts, error, result, at: new Date().toISOString() });
  }
}

function storedEvent(r: typeof jobEvents.$inferSelect): JobEvent {
  const at = r.createdAt.toISOString();
  if (r.kind === "progress") {
    return {
      type: "progress",
      jobId: r.jobId,
      id: r.id,
      pct: Number(r.data.pct),
      message: (r.data.message as string) ?? null,
      at,
    };
  }
  return {
    type: "log",
    jobId: r.jobId,
    id: r.id,
    line: String(r.data.line),
    level: r.data.level as string | undefined,
    at,
  };
}

/** Exponential backoff with jitter: base·2^(attempt−1), capped, then a random point in its upper half. */
function backoff(def: Definition, attempt: number) {
  const ceiling = Math.min(def.maxBackoffMs, def.backoffMs * 2 ** (attempt - 1));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, ac: AbortController): Promise<T> {
  if (!ms) return p;
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => {
      const err = new Error(`the job timed out after ${ms} ms`);
      ac.abort(err);
      reject(err);
    }, ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

function errorMessage(err: unknown): string {
  const text =
    err instanceof Error
      ? err.name && err.name !== "Error"
        ? `${err.name}: ${err.message}`
        : err.message
      : String(err);
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}

function positiveInt(n: number, what: string) {
  if (!Number.isInteger(n) || n < 1) throw invalidInput({ [what]: "must be a positive integer" });
  return n;
}
