// Start-up of the compiled binary to the first /health 200, on a new and on an existing data dir; idle RSS.
// Targets: existing dir ≤ 2 s, new dir ≤ 15 s, idle RSS ≤ 300 MB.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, requireBinary, rssMiB, startBinary } from "./support";

requireBinary();
const runs = Number(process.env.RUNS ?? 3);
const fresh: number[] = [];
const existing: number[] = [];
const rss: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), "ds-bench-start-"));
  const a = await startBinary(dir, await freePort());
  fresh.push(a.ms);
  a.child.kill("SIGTERM");
  await a.child.exited;
  const b = await startBinary(dir, await freePort());
  existing.push(b.ms);
  await Bun.sleep(3000); // idle
  rss.push(rssMiB(b.child.pid));
  b.child.kill("SIGTERM");
  await b.child.exited;
  rmSync(dir, { recursive: true, force: true });
}
const fmt = (xs: number[]) =>
  `median ${(xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)] / 1000).toFixed(2)} s (runs: ${xs.map((x) => (x / 1000).toFixed(2)).join(", ")})`;
console.log(`startup, new data dir → /health 200:      ${fmt(fresh)}   target ≤ 15 s`);
console.log(`startup, existing data dir → /health 200: ${fmt(existing)}   target ≤ 2 s`);
console.log(
  `idle RSS after start (existing dir):      ${rss.map((r) => r.toFixed(0)).join(", ")} MiB   target ≤ 300 MB`,
);
