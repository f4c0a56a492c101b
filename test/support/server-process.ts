// The appliance as its own process, for browser tests: `bun src/main.ts serve` on a loopback port with a data dir,
// its stderr kept for failure messages. It can be stopped gently, or killed with SIGKILL and started again on the
// same port, data dir and database to test what survives a crash.
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

/** A free TCP port on loopback (asked of the kernel, then released). */
export async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** A running appliance process. */
export interface ServerProcess {
  base: string;
  /** What the process wrote to stderr so far (all starts). */
  log(): string;
  /** SIGKILL: no shutdown hooks, no draining, as a power cut or the OOM killer. */
  kill9(): Promise<void>;
  /** Starts the process again with the same port, data dir and environment; resolves once /health answers. */
  restart(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
}

/**
 * Starts `serve` with `dataDir` and the given environment on top of the caller's; resolves once /health answers.
 * `args` go after the others (e.g. `["--role", "worker"]`).
 */
export async function startServerProcess(opts: {
  dataDir: string;
  env: Record<string, string>;
  args?: string[];
  startTimeoutMs?: number;
}): Promise<ServerProcess> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let log = "";
  let proc: ReturnType<typeof Bun.spawn>;

  const spawn = async () => {
    proc = Bun.spawn(
      [
        "bun",
        "src/main.ts",
        "serve",
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--data-dir",
        opts.dataDir,
        ...(opts.args ?? []),
      ],
      { cwd: ROOT, env: { ...process.env, ...opts.env }, stdout: "ignore", stderr: "pipe" },
    );
    const started = proc;
    new Response(started.stderr as ReadableStream).text().then((t) => {
      log += t;
    });
    const deadline = Date.now() + (opts.startTimeoutMs ?? 90_000);
    for (;;) {
      try {
        if ((await fetch(`${base}/health`)).status < 500) return;
      } catch {}
      if (Date.now() > deadline || started.exitCode !== null) {
        await Bun.sleep(200); // let the stderr reader catch the last lines
        throw new Error(`server did not start (exit ${started.exitCode}):\n${log}`);
      }
      await Bun.sleep(200);
    }
  };
  await spawn();

  return {
    base,
    log: () => log,
    async kill9() {
      proc.kill("SIGKILL");
      await proc.exited;
    },
    restart: spawn,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
