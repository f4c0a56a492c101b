// Requests/s and latency percentiles of /health and the rendered status page at 50 concurrent connections,
// against the compiled binary. The load runs in a separate process so it does not share the server's CPU time
// slices unfairly. Target: status page p95 ≤ 50 ms.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, pct, requireBinary, startBinary } from "./support";

if (process.argv[2] === "--load") {
  // Child mode: hammer one URL with N connections for S seconds and print JSON latencies summary.
  const [, , , url, conns, seconds] = process.argv;
  const until = performance.now() + Number(seconds) * 1000;
  const lat: number[] = [];
  let errors = 0;
  await Promise.all(
    Array.from({ length: Number(conns) }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          const r = await fetch(url);
          await r.arrayBuffer();
          if (r.status !== 200) errors++;
        } catch {
          errors++;
        }
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ n: lat.length, errors, p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99) }));
  process.exit(0);
}

requireBinary();
const dir = mkdtempSync(join(tmpdir(), "ds-bench-http-"));
const port = await freePort();
const server = await startBinary(dir, port);
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
for (const path of ["/health", "/status"]) {
  // warm-up
  for (let i = 0; i < 50; i++) await (await fetch(`http://127.0.0.1:${port}${path}`)).arrayBuffer();
  const out = Bun.spawnSync([
    "bun",
    import.meta.path,
    "--load",
    `http://127.0.0.1:${port}${path}`,
    "50",
    String(seconds),
  ]);
  const r = JSON.parse(out.stdout.toString());
  console.log(
    `${path.padEnd(8)} 50 conns ${seconds}s: ${(r.n / seconds).toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}`,
  );
}
server.child.kill("SIGTERM");
await server.child.exited;
rmSync(dir, { recursive: true, force: true });
