import type { Logger } from "../logger";
import type { jobs } from "./schema";

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

/** The org (and project) a run belongs to: only their members with the right role, and admins, may read it. */
export interface RunScope {
  orgId: string;
  projectId?: string | null;
}

/** Options of one enqueue. */
export interface EnqueueOptions {
  /** Who the run belongs to; without it the run is a system run (admins only). */
  scope?: RunScope;
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
export type Job<P = unknown, R = unknown> = Omit<typeof jobs.$inferSelect, "payload" | "result"> & {
  payload: P;
  result: R | null;
};

/** A defined job, typed by its payload: `await releasePayment.enqueue({ taskId })`. */
export interface JobDefinition<P> {
  readonly name: string;
  enqueue(payload: P, opts?: EnqueueOptions): Promise<EnqueueResult>;
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

/** Thrown by a handler when retrying cannot help (bad payload, revoked access): the job goes dead at once. */
export class FatalJobError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "FatalJobError";
  }
}

/** A registered handler with its settings resolved (internal). */
export interface Definition {
  name: string;
  handler: JobHandler<any, any>;
  concurrency: number;
  maxAttempts: number;
  backoffMs: number;
  maxBackoffMs: number;
  timeoutMs?: number;
}
