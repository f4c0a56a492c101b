// The harness as a durable job (id `harness.run`): progress and log lines go to the run's events, streamed at
// GET /api/runs/:id/stream. The payload holds no secrets: a repository token is looked up when the job runs.
import type { JobHandler } from "../core/jobs";
import type { SettingsService } from "../core/settings/service";
import { AppError } from "../core/errors";
import { DEFAULT_EGRESS_ALLOW, egressAllowed } from "../sandbox/egress";
import type { BackendChoice } from "../sandbox/index";
import { DEFAULT_LIMITS, type Limits, type SandboxBackend } from "../sandbox/types";
import type { HarnessDigest, Verdict } from "./digest";
import { type HarnessRunOptions, runHarness } from "./run";

/** The job's stable id. */
export const HARNESS_JOB = "harness.run";

/** Output lines of the checks copied into the run's events; the whole output stays in the run log. */
const MAX_OUTPUT_EVENTS = 2000;

/** What is stored with the job: the run's options without callbacks or credentials. */
export type HarnessJobPayload = Pick<
  HarnessRunOptions,
  "repo" | "ref" | "project" | "testCommand" | "installCommand" | "steps" | "repeat" | "egressAllow" | "limits"
>;

/** The job's result (stored as JSON). */
export interface HarnessJobResult {
  result: Verdict;
  reportHash: string;
  digest: HarnessDigest;
  logFile: string;
  durationMs: number;
}

/** What the job needs besides the queue. */
export interface HarnessJobDeps {
  /** Token for the repository, if private (e.g. the GitHub installation token); never stored in the job. */
  token?: (payload: HarnessJobPayload) => Promise<string | undefined>;
  backend?: SandboxBackend;
  /**
   * The admin's sandbox settings at the time a job runs (backend, limits, install allow-list): a ceiling that a
   * job's own payload may narrow, never widen.
   */
  defaults?: () => Pick<HarnessRunOptions, "egressAllow" | "limits"> & { backend?: BackendChoice };
  baseDir?: string;
  /** Thrown for errors a retry cannot fix (the core queue's FatalJobError). */
  fatal?: new (
    message: string,
    options?: ErrorOptions,
  ) => Error;
}

/** The narrow part of the core job queue used here. */
export interface HarnessQueue {
  define<P, R>(
    name: string,
    handler: JobHandler<P, R>,
    opts?: { concurrency?: number; maxAttempts?: number; timeoutMs?: number },
  ): {
    enqueue(payload: P, opts?: { key?: string }): Promise<{ id: string; created: boolean }>;
  };
}

/** The fields a job sets, each capped at the admin's value (or the default); non-positive values are dropped. */
function capLimits(job: Partial<Limits> | undefined, admin: Partial<Limits> | undefined): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof Limits)[]) {
    const asked = job?.[key];
    if (typeof asked !== "number" || !Number.isFinite(asked) || asked <= 0) continue;
    out[key] = Math.min(asked, admin?.[key] ?? DEFAULT_LIMITS[key]);
  }
  return out;
}

/** Limits of a job under the admin's: the admin's, narrowed where the job asks for less. */
function narrowLimits(job: Partial<Limits> | undefined, admin: Partial<Limits> | undefined): Partial<Limits> {
  return { ...admin, ...capLimits(job, admin) };
}

/**
 * A job's egress allow-list within the admin's: an entry is kept when the admin's list has it, or, for a plain
 * host (no wildcard), when the admin's list admits that host and port.
 */
function narrowEgress(job: readonly string[] | undefined, admin: readonly string[] | undefined): string[] {
  const ceiling = admin ?? DEFAULT_EGRESS_ALLOW;
  if (!job) return [...ceiling];
  const listed = new Set(ceiling.map((e) => e.toLowerCase()));
  return job.filter((entry) => {
    if (typeof entry !== "string") return false;
    const e = entry.toLowerCase();
    if (listed.has(e)) return true;
    const [host, port] = e.split(":") as [string, string | undefined];
    return !host.includes("*") && egressAllowed(ceiling, host, port ? Number(port) : 443);
  });
}

/** The admin's sandbox settings as harness options: backend, install allow-list and per-step limits. */
export function sandboxSettings(settings: SettingsService) {
  return {
    backend: settings.get("sandbox.backend"),
    egressAllow: settings.get("sandbox.allowedRegistries"),
    limits: {
      cpus: settings.get("sandbox.cpus"),
      memoryMb: settings.get("sandbox.memoryMb"),
      diskMb: settings.get("sandbox.diskMb"),
      timeoutMs: settings.get("sandbox.timeoutSeconds") * 1000,
    },
  };
}

/** Defines `harness.run` on a queue; enqueue with the commit in the key so one commit is verified once. */
export function defineHarnessJob(queue: HarnessQueue, deps: HarnessJobDeps = {}) {
  const handler: JobHandler<HarnessJobPayload, HarnessJobResult> = async (payload, run) => {
    let outputLines = 0;
    try {
      const d = deps.defaults?.() ?? {};
      const r = await runHarness({
        ...payload,
        egressAllow: narrowEgress(payload.egressAllow, d.egressAllow),
        limits: narrowLimits(payload.limits, d.limits),
        // A step's own limits replace the run's for that step: they are held under the same ceiling.
        steps: payload.steps?.map((s) => ({ ...s, limits: s.limits && capLimits(s.limits, d.limits) })),
        token: await deps.token?.(payload),
        backend: deps.backend ?? d.backend,
        baseDir: deps.baseDir,
        signal: run.signal,
        onProgress: (pct, message) => void run.progress(pct, message),
        onLog: (line) => {
          // Harness lines start with a timestamp; the checks' own output is capped.
          if (line.startsWith("[")) void run.log(line);
          else if (++outputLines <= MAX_OUTPUT_EVENTS) void run.log(line);
          else if (outputLines === MAX_OUTPUT_EVENTS + 1) void run.log("… more output in the run log");
        },
      });
      return {
        result: r.result,
        reportHash: r.reportHash,
        digest: r.digest,
        logFile: r.logFile,
        durationMs: Math.round(r.durationMs),
      };
    } catch (err) {
      // A bad URL, an unknown commit or a repository without tests stays so on retry.
      if (deps.fatal && err instanceof AppError && err.status < 500)
        throw new deps.fatal(`${err.code}: ${err.message}`, { cause: err });
      throw err;
    }
  };
  return queue.define<HarnessJobPayload, HarnessJobResult>(HARNESS_JOB, handler, {
    concurrency: 2,
    maxAttempts: 2,
    timeoutMs: 60 * 60_000,
  });
}
