// Shared bench helpers: start the compiled binary on a data dir and wait for /health.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const BINARY = join(import.meta.dir, "..", "dist", "devsponsor");

export function requireBinary() {
  if (!existsSync(BINARY)) throw new Error("build the binary first: bun run build");
}

export async function freePort() {
  const s = Bun.serve({ port: 0, fetch: () => new Response() });
  const p = s.port!;
  s.stop(true);
  return p;
}

/** Starts the binary and returns once /health answers 200, with the time it took. */
export async function startBinary(dataDir: string, port: number, env: Record<string, string> = {}) {
  const t0 = performance.now();
  const child = Bun.spawn([BINARY, "serve", "--port", String(port), "--data-dir", dataDir], {
    env: { PATH: "/usr/bin:/bin", HOME: dataDir, TMPDIR: process.env.TMPDIR ?? "/tmp", LOG_LEVEL: "warn", ...env },
    stdout: "ignore",
    stderr: "ignore",
  });
  for (;;) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/health`);
      if (r.status === 200) return { child, ms: performance.now() - t0 };
    } catch {}
    if (child.exitCode !== null) throw new Error(`binary exited with ${child.exitCode}`);
    await Bun.sleep(20);
  }
}

/** Resident set size of a process in MiB (from /proc). */
export function rssMiB(pid: number) {
  const status = require("node:fs").readFileSync(`/proc/${pid}/status`, "utf8") as string;
  const kb = Number(status.match(/VmRSS:\s+(\d+)/)?.[1] ?? 0);
  return kb / 1024;
}

export const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
