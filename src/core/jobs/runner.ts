// The worker side of the queue: claims due jobs, runs their handlers within each queue's concurrency, holds their
// leases, records outcomes (completions by group commit), retries with backoff, and takes back jobs of lost workers.
import type { Database } from "../db";
import type { Logger } from "../logger";
import { GroupCommit } from "./batch";
import type { EventBus } from "./events";
import * as store from "./store";
import { type Definition, FatalJobError, type RunContext } from "./types";

// PGlite runs no autovacuum: the queue vacuums its own (busy) tables after this many runs, or this long.
const VACUUM_EVERY_RUNS = 5000;
const VACUUM_EVERY_MS = 10 * 60_000;
const COMPLETIONS_PER_STATEMENT = 500;

// Workers started in this process. On PGlite the process owns the database, so a running job held by any other
// worker id was left by a killed process and can be taken back at once instead of waiting for its lease.
const liveWorkers = new Set<string>();

/** Settings of a runner (resolved by the queue). */
export interface RunnerOptions {
  workerId: string;
  log: Logger;
  pollIntervalMs: number;
  leaseMs: number;
  batchSize: number;
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

/** Runs the jobs defined in `defs` once started; see JobQueue for the public side. */
export class Runner {
  status: "idle" | "running" | "stopping" = "idle";
  readonly counters = { claimed: 0, completed: 0, failed: 0, dead: 0 };
  private readonly running = new Map<string, Running>();
  /** Per queue: handlers running, plus slots reserved for jobs being inserted to start here. */
  private readonly active = new Map<string, number>();
  /** Queues that may have due jobs waiting in the table (no direct starts for them until a claim drains them). */
  private readonly backlog = new Set<string>();
  /** Slots asked for by the claim in flight. */
  private readonly claimingSlots = new Map<string, number>();
  private readonly directInserts = new Set<Promise<unknown>>();
  private readonly completions: GroupCommit<{ id: string; result: unknown }, boolean>;
  private readonly reapIntervalMs: number;
  private wakeScheduled = false;
  private pumping: Promise<void> | undefined;
  private pumpAgain = false;
  private lastReap = 0;
  private runsSinceVacuum = 0;
  private lastVacuum = Date.now();
  private pollTimer: ReturnType<typeof setInterval> | undefined;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private readonly delayTimers = new Set<ReturnType<typeof setTimeout>>();
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly database: Database,
    private readonly bus: EventBus,
    private readonly defs: Map<string, Definition>,
    private readonly opts: RunnerOptions,
  ) {
    this.reapIntervalMs = Math.max(100, Math.min(opts.leaseMs / 2, 10_000));
    this.completions = new GroupCommit(async (done) => {
      const ok = await store.completeJobs(database, opts.workerId, done);
      return done.map((d) => ok.has(d.id));
    }, COMPLETIONS_PER_STATEMENT);
  }

  /** A queue was defined: it may have jobs waiting. */
  added(name: string) {
    this.backlog.add(name);
    this.wake();
  }

  start() {
    if (this.status !== "idle") return;
    this.status = "running";
    liveWorkers.add(this.opts.workerId);
    this.lastReap = 0; // reap on the first pump
    this.pollTimer = setInterval(() => this.wake(), this.opts.pollIntervalMs);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), Math.max(50, this.opts.leaseMs / 3));
    this.wake();
  }

  stop(deadlineMs: number): Promise<void> {
    if (this.status === "idle") return this.stopping ?? Promise.resolve();
    if (this.stopping) return this.stopping;
    this.status = "stopping";
    this.stopping = (async () => {
      clearInterval(this.pollTimer);
      for (const t of this.delayTimers) clearTimeout(t);
      this.delayTimers.clear();
      await this.pumping;
      await Promise.allSettled([...this.directInserts]); // jobs being inserted to start here join the wait
      const all = Promise.all([...this.running.values()].map((r) => r.done));
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timedOut = await Promise.race([
        all.then(() => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(true), deadlineMs);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) await this.releaseUnfinished();
      await this.completions.drain();
      clearInterval(this.heartbeatTimer);
      liveWorkers.delete(this.opts.workerId);
      this.status = "idle";
      this.stopping = undefined;
    })();
    return this.stopping;
  }

  stats() {
    return {
      workerId: this.opts.workerId,
      status: this.status,
      running: this.running.size,
      byQueue: Object.fromEntries(this.active),
      ...this.counters,
    };
  }

  /** Schedules a claim round on the next turn of the event loop (coalescing many wake-ups into one statement). */
  wake() {
    if (this.status !== "running" || this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      if (this.pumping) this.pumpAgain = true;
      else this.pumping = this.pump().finally(() => (this.pumping = undefined));
    });
  }

  /** Wakes when a delayed job of this process becomes due (the poll would find it too, later). */
  wakeAt(delayMs: number) {
    if (this.status !== "running" || delayMs >= 60_000) return;
    const t = setTimeout(() => {
      this.delayTimers.delete(t);
      this.wake();
    }, delayMs + 5);
    this.delayTimers.add(t);
  }

  /**
   * Takes a free slot of the row's queue for a direct start: only for due jobs of a queue this process runs, with
   * nothing older waiting (as far as the last claim knows), so a direct start does not overtake queued jobs.
   */
  reserveSlot(r: store.NewJobRow) {
    const def = this.defs.get(r.name);
    if (!def || this.status !== "running" || r.runAt || (r.delayMs ?? 0) > 0) return false;
    const active = this.active.get(r.name) ?? 0;
    if (this.backlog.has(r.name) || active + (this.claimingSlots.get(r.name) ?? 0) >= def.concurrency) {
      this.backlog.add(r.name); // it will wait in the table: later enqueues must not pass it
      return false;
    }
    this.active.set(r.name, active + 1);
    return true;
  }

  releaseSlot(name: string) {
    this.active.set(name, (this.active.get(name) ?? 1) - 1);
    this.wake();
  }

  /** Registers the insert of directly started jobs, so that stop() waits for them too. */
  trackDirect(inserting: Promise<unknown>) {
    this.directInserts.add(inserting);
    inserting.then(
      () => this.directInserts.delete(inserting),
      () => this.directInserts.delete(inserting),
    );
  }

  /** Runs a claimed job; `reserved`: its slot was taken before the insert (direct start). */
  execute(row: store.ClaimedRow, reserved = false) {
    const def = this.defs.get(row.name);
    if (!def) return; // not possible: only names defined here are claimed
    this.counters.claimed++;
    this.runsSinceVacuum++;
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
    if (!reserved) this.active.set(row.name, (this.active.get(row.name) ?? 0) + 1);
    this.bus.emitState(row.id, "running", row.attempts);
    run.done = this.perform(def, row, run)
      .catch((err) => this.opts.log.error("job bookkeeping failed", { jobId: row.id, job: row.name, err }))
      .finally(() => {
        this.running.delete(row.id);
        this.releaseSlot(row.name);
      });
  }

  private async pump() {
    try {
      do {
        this.pumpAgain = false;
        if (this.status !== "running") return;
        if (Date.now() - this.lastReap >= this.reapIntervalMs) await this.reap();
        if (this.database.kind === "pglite" && this.vacuumDue()) await this.vacuum();
        const wants: { name: string; n: number }[] = [];
        for (const def of this.defs.values()) {
          const n = Math.min(this.opts.batchSize, def.concurrency - (this.active.get(def.name) ?? 0));
          if (n > 0) wants.push({ name: def.name, n });
        }
        if (wants.length === 0) return;
        for (const w of wants) this.claimingSlots.set(w.name, w.n);
        let rows: store.ClaimedRow[];
        try {
          rows = await store.claimJobs(this.database, this.opts.workerId, wants, this.opts.leaseMs);
        } finally {
          this.claimingSlots.clear();
        }
        const got = new Map<string, number>();
        for (const row of rows) {
          got.set(row.name, (got.get(row.name) ?? 0) + 1);
          this.execute(row);
        }
        // A queue that filled its whole request probably has more waiting; one that did not is drained.
        for (const w of wants) {
          if (got.get(w.name) === w.n) {
            this.backlog.add(w.name);
            this.pumpAgain = true;
          } else {
            this.backlog.delete(w.name);
          }
        }
      } while (this.pumpAgain);
    } catch (err) {
      this.opts.log.error("claiming jobs failed", { err });
    }
  }

  private async reap() {
    this.lastReap = Date.now();
    const alive = this.database.kind === "pglite" ? [...liveWorkers] : null;
    for (const r of await store.reapLostJobs(this.database, alive)) {
      this.opts.log.warn("job taken back from a lost worker", {
        jobId: r.id,
        job: r.name,
        attempts: r.attempts,
        state: r.state,
      });
      this.bus.emitState(r.id, r.state, r.attempts, "the worker running this job stopped");
      if (r.state === "dead") this.counters.dead++;
    }
  }

  private vacuumDue() {
    if (this.runsSinceVacuum >= VACUUM_EVERY_RUNS) return true;
    return this.runsSinceVacuum > 0 && Date.now() - this.lastVacuum >= VACUUM_EVERY_MS;
  }

  private async vacuum() {
    const started = performance.now();
    this.runsSinceVacuum = 0;
    this.lastVacuum = Date.now();
    await this.database.exec("vacuum (analyze) jobs, job_events");
    this.opts.log.debug("job tables vacuumed", { ms: Math.round(performance.now() - started) });
  }

  private async heartbeat() {
    if (this.running.size === 0) return;
    const started = Date.now();
    try {
      const held = await store.renewLeases(this.database, this.opts.workerId, this.opts.leaseMs);
      for (const r of this.running.values()) {
        if (held.has(r.id) || r.finishing || r.released || r.claimedAt >= started) continue;
        r.released = true;
        r.ac.abort(new Error("the job's lease was lost"));
        this.opts.log.warn("job lease lost; another worker may run it", { jobId: r.id, job: r.name });
      }
    } catch (err) {
      this.opts.log.warn("renewing job leases failed", { err });
    }
  }

  /** Past stop()'s deadline: abort what still runs and put it back in the queue without counting the attempt. */
  private async releaseUnfinished() {
    const left = [...this.running.values()].filter((r) => !r.finishing);
    for (const r of left) {
      r.released = true;
      r.ac.abort(new Error("the worker is shutting down"));
    }
    if (left.length === 0) return;
    const ids = left.map((r) => r.id);
    try {
      await store.releaseJobs(this.database, this.opts.workerId, ids);
      for (const id of ids) this.bus.emitState(id, "queued", 0);
      this.opts.log.warn("jobs released at shutdown", { ids });
    } catch (err) {
      this.opts.log.error("could not release jobs at shutdown; their leases will expire", { err });
    }
  }

  private async perform(def: Definition, row: store.ClaimedRow, run: Running) {
    const log = this.opts.log.child({ jobId: row.id, job: row.name, attempt: row.attempts });
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

    let completed = false;
    try {
      completed = await this.completions.submit({ id: row.id, result });
    } catch (err) {
      // Still leased to us: if the write keeps failing the lease expires and the job runs again (at least once).
      log.error("recording the job's completion failed", { err });
      return;
    }
    if (completed) {
      this.counters.completed++;
      log.debug("job completed");
      this.bus.emitState(row.id, "completed", row.attempts, null, result);
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
    const state = dead ? "dead" : "failed";
    const event = await store.failJob(this.database, this.opts.workerId, row.id, state, message, delay, line);
    if (!event) {
      log.warn("job failed after its lease was lost", { err });
      return;
    }
    this.bus.emit({ type: "log", jobId: row.id, id: event.id, line, level: "error", at: event.at });
    if (dead) {
      this.counters.dead++;
      log.error("job is dead", { err, attempts: row.attempts });
    } else {
      this.counters.failed++;
      log.warn("job attempt failed; will retry", { err, retryInMs: Math.round(delay) });
      this.wakeAt(delay);
    }
    this.bus.emitState(row.id, state, row.attempts, message);
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
  let text = String(err);
  if (err instanceof Error) text = err.name && err.name !== "Error" ? `${err.name}: ${err.message}` : err.message;
  return text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
}
