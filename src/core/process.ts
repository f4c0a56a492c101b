// External processes on the host (git, tar, du, chown, the sandbox launchers): each one starts in its own
// process group, and at its deadline, on cancellation, or when this process exits, the whole group is killed.
// Killing only the top process is not enough: git's remote helper (git-remote-http) is re-parented to init,
// keeps the stdout and stderr pipes open, and the caller would wait on them until the remote hangs up.

/** How to run one external process. */
export interface SpawnOptions {
  cwd?: string;
  /** The whole environment of the process (default: this process's). */
  env?: Record<string, string | undefined>;
  /** Bytes written to stdin, which is then closed; without it stdin is /dev/null. */
  stdin?: string | Uint8Array;
  /** Wall-clock limit: the group is killed with SIGKILL when it passes. */
  timeoutMs?: number;
  /** Aborting it kills the group. */
  signal?: AbortSignal;
  /** Output as it arrives; a stream with a callback is not buffered into the result. */
  onStdout?: (chunk: Uint8Array) => void;
  onStderr?: (chunk: Uint8Array) => void;
  /** Bytes of each buffered stream kept (default 16 MiB); the rest is dropped. */
  maxBuffer?: number;
}

/** How a process ended. */
export interface ProcessResult {
  /** Exit code, null when it was ended by a signal. */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** The deadline passed and the group was killed. */
  timedOut: boolean;
  /** The caller's signal aborted the run and the group was killed. */
  aborted: boolean;
  durationMs: number;
}

/** A running process group. */
export interface GroupProcess {
  pid: number;
  /** Kills the whole group with SIGKILL (idempotent). */
  kill(): void;
  /** Settles once the process has exited and its pipes are drained (or abandoned after a short grace). */
  done: Promise<ProcessResult>;
}

const DEFAULT_MAX_BUFFER = 16 << 20;

/** How long the pipes may stay open after the process exited: a member that left the group may hold them. */
const PIPE_GRACE_MS = 1000;

const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // the group is gone already
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Groups are detached from this process's own: without this they would outlive it.
  process.on("exit", () => {
    for (const pgid of liveGroups) killGroup(pgid);
  });
}

/** Starts `cmd` in a new process group (session); see GroupProcess. */
export function spawnGroup(cmd: string[], opts: SpawnOptions = {}): GroupProcess {
  installExitHook();
  const started = performance.now();
  const input = typeof opts.stdin === "string" ? new TextEncoder().encode(opts.stdin) : opts.stdin;
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd,
    env: opts.env,
    stdin: input ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    detached: true,
  });
  const pid = proc.pid;
  liveGroups.add(pid);
  let timedOut = false;
  let aborted = false;
  let ended = false;
  const kill = () => {
    if (!ended) killGroup(pid);
  };
  const timer =
    opts.timeoutMs !== undefined
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, opts.timeoutMs)
      : undefined;
  const onAbort = () => {
    aborted = true;
    kill();
  };
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });

  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const drain = async (stream: ReadableStream<Uint8Array>, onChunk?: (chunk: Uint8Array) => void) => {
    const chunks: Uint8Array[] = [];
    let kept = 0;
    const max = opts.maxBuffer ?? DEFAULT_MAX_BUFFER;
    const reader = stream.getReader();
    readers.push(reader);
    try {
      for (let r = await reader.read(); !r.done; r = await reader.read()) {
        if (onChunk) onChunk(r.value);
        else if (kept < max) {
          const part = r.value.subarray(0, max - kept);
          chunks.push(part);
          kept += part.length;
        }
      }
    } catch {
      // cancelled after the grace period
    }
    return Buffer.concat(chunks).toString("utf8");
  };
  const stdout = drain(proc.stdout, opts.onStdout);
  const stderr = drain(proc.stderr, opts.onStderr);

  const done = (async (): Promise<ProcessResult> => {
    try {
      await proc.exited;
      // Whatever is left of the group is an orphan of this run.
      killGroup(pid);
      const grace = setTimeout(() => {
        for (const r of readers) void r.cancel().catch(() => {});
      }, PIPE_GRACE_MS);
      const [out, err] = await Promise.all([stdout, stderr]);
      clearTimeout(grace);
      return {
        code: proc.exitCode,
        signal: proc.signalCode === null ? null : String(proc.signalCode),
        stdout: out,
        stderr: err,
        timedOut,
        aborted,
        durationMs: performance.now() - started,
      };
    } finally {
      ended = true;
      liveGroups.delete(pid);
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
  })();
  return { pid, kill, done };
}

/** Runs `cmd` to its end in its own process group and returns its output; see SpawnOptions for the limits. */
export function runProcess(cmd: string[], opts: SpawnOptions = {}): Promise<ProcessResult> {
  return spawnGroup(cmd, opts).done;
}
