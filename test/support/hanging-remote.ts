// A git remote that accepts the smart-HTTP request and never answers, and a check for processes left behind.
import { readdirSync, readFileSync } from "node:fs";

/** A TCP server on 127.0.0.1 that reads requests and never replies; `stop` closes it and its connections. */
export function hangingRemote(): { url: string; port: number; connections: () => number; stop(): void } {
  const open: { end(): void }[] = [];
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: { open: (s) => void open.push(s), data: () => {} },
  });
  return {
    url: `http://127.0.0.1:${server.port}/owner/hangs.git`,
    port: server.port,
    connections: () => open.length,
    stop() {
      for (const s of open) s.end();
      server.stop(true);
    },
  };
}

/** Pids of live (non-zombie) processes whose command line mentions `needle`. */
export function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${name}/status`, "utf8"))?.[1];
      if (cmdline.includes(needle) && state !== "Z") found.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}
