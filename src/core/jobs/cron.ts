import { Cron } from "croner";
import type { Database } from "../db";
import { notFound } from "../errors";
import { type Logger, log as rootLog } from "../logger";
import type { EnqueueResult, JobQueue } from "./queue";

/** One registered schedule, as shown to admins. */
export interface CronEntryInfo {
  id: string;
  pattern: string;
  job: string;
  nextRun: Date | null;
  /** The latest tick before now, and the job it made (from the database: whichever process fired it). */
  previousTick: Date | null;
  previousJob: { id: string; state: string } | null;
  /** Ticks this process fired, and how many of them created the job (the others found it made already). */
  firedHere: number;
  createdHere: number;
}

/** The idempotency key of one tick of one entry. */
export const cronKey = (id: string, tick: Date) => `cron:${id}:${tick.toISOString()}`;

interface Entry {
  id: string;
  pattern: string;
  job: string;
  payload: unknown;
  schedule: Cron;
  timer?: ReturnType<typeof setTimeout>;
  target?: Date;
  lastTick: Date | null;
  firedHere: number;
  createdHere: number;
}

const MAX_SLEEP_MS = 30_000; // re-check the clock at least this often (suspend, clock changes)

/** Creates the cron registry: each entry enqueues a job at every tick of its pattern. */
export function createCron(database: Database, jobs: JobQueue, log: Logger = rootLog) {
  return new CronRegistry(database, jobs, log);
}

/**
 * Cron entries that enqueue jobs. Each tick enqueues with the key `cron:<id>:<tick ISO time>`, so when several
 * processes share the database, every tick makes exactly one job whichever processes fire it. Croner computes
 * the ticks; a tick is named by its scheduled time, never by when the timer happened to fire.
 */
export class CronRegistry {
  private readonly entries = new Map<string, Entry>();
  private running = false;
  private readonly log: Logger;

  constructor(
    private readonly database: Database,
    private readonly jobs: JobQueue,
    log: Logger,
  ) {
    this.log = log.child({ component: "cron" });
  }

  /**
   * Registers entry `id` to enqueue `job` (with `payload`) on `pattern` (croner syntax: 5 fields, or 6 with
   * seconds first; `timezone` defaults to the server's).
   */
  register(id: string, pattern: string, job: string, payload: unknown = {}, opts: { timezone?: string } = {}) {
    if (this.entries.has(id)) throw new Error(`cron entry ${id} is already registered`);
    const schedule = new Cron(pattern, { paused: true, timezone: opts.timezone }); // throws on a bad pattern
    const entry: Entry = { id, pattern, job, payload, schedule, lastTick: null, firedHere: 0, createdHere: 0 };
    this.entries.set(id, entry);
    if (this.running) this.arm(entry);
  }

  /** Starts firing every registered entry. */
  start() {
    if (this.running) return;
    this.running = true;
    for (const entry of this.entries.values()) this.arm(entry);
  }

  /** Stops firing (jobs already enqueued are the queue's business). */
  stop() {
    this.running = false;
    for (const entry of this.entries.values()) {
      clearTimeout(entry.timer);
      entry.timer = undefined;
      entry.target = undefined;
    }
  }

  /** The registered entries with their next tick and what their previous tick made. */
  async list(): Promise<CronEntryInfo[]> {
    const now = new Date();
    return Promise.all(
      [...this.entries.values()].map(async (e) => {
        const [previousTick] = e.schedule.previousRuns(1, now);
        let previousJob: CronEntryInfo["previousJob"] = null;
        if (previousTick) {
          const [row] = await this.database.exec<{ id: string; state: string }>(
            "select id, state from jobs where key = $1",
            [cronKey(e.id, previousTick)],
          );
          previousJob = row ?? null;
        }
        return {
          id: e.id,
          pattern: e.pattern,
          job: e.job,
          nextRun: e.schedule.nextRun(now),
          previousTick: previousTick ?? null,
          previousJob,
          firedHere: e.firedHere,
          createdHere: e.createdHere,
        };
      }),
    );
  }

  /** Enqueues the entry's job now, outside its schedule (an admin's "run now"). */
  async runNow(id: string): Promise<EnqueueResult> {
    const entry = this.entries.get(id);
    if (!entry) throw notFound("Cron entry");
    const result = await this.jobs.enqueue(entry.job, entry.payload);
    this.log.info("cron entry run by hand", { cron: id, jobId: result.id });
    return result;
  }

  private arm(entry: Entry) {
    clearTimeout(entry.timer);
    const after = new Date(Math.max(Date.now(), entry.lastTick?.getTime() ?? 0));
    const next = entry.schedule.nextRun(after);
    entry.target = next ?? undefined;
    if (!next) return; // the pattern has no future tick
    const wait = Math.min(MAX_SLEEP_MS, Math.max(0, next.getTime() - Date.now()));
    entry.timer = setTimeout(() => this.check(entry), wait);
  }

  private check(entry: Entry) {
    if (!this.running || !entry.target) return;
    const tick = entry.target;
    if (Date.now() < tick.getTime()) return this.arm(entry); // woke early (long wait split in pieces)
    entry.lastTick = tick;
    this.arm(entry);
    void this.fire(entry, tick);
  }

  private async fire(entry: Entry, tick: Date) {
    const key = cronKey(entry.id, tick);
    try {
      entry.firedHere++;
      const result = await this.jobs.enqueue(entry.job, entry.payload, { key });
      if (result.created) entry.createdHere++;
      this.log.debug("cron tick", {
        cron: entry.id,
        tick: tick.toISOString(),
        jobId: result.id,
        created: result.created,
      });
    } catch (err) {
      this.log.error("cron tick could not enqueue its job", { cron: entry.id, tick: tick.toISOString(), err });
    }
  }
}
