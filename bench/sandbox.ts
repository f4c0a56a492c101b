// Sandbox and harness timings: start to first instruction (Docker, bubblewrap), harness overhead over running
// the same tests directly on the host, and whether one commit gives one digest.
// Run: bun bench/sandbox.ts [--runs N]   (needs the Docker engine and the sandbox images: scripts/build-sandbox-images)
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeRepo } from "../test/fixtures/hostile/repos";
import { ensureSandboxImages } from "../test/support/docker";
import { runHarness } from "../src/harness/run";
import { BwrapBackend } from "../src/sandbox/bwrap";
import { DockerBackend } from "../src/sandbox/docker";
import type { SandboxBackend } from "../src/sandbox/types";

const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: "string", default: "10" } } });
const RUNS = Number(values.runs);

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(0)} ms  min ${s[0]!.toFixed(0)}  p90 ${q(0.9).toFixed(0)}  max ${s.at(-1)!.toFixed(0)}  (n=${s.length})`;
};

await ensureSandboxImages();
const base = mkdtempSync(join(tmpdir(), "devsponsor-bench-"));
chmodSync(base, 0o711);
const backends: SandboxBackend[] = [new DockerBackend(), new BwrapBackend()];

console.log("# sandbox start to first instruction (run() called → first output byte of `echo`)");
for (const backend of backends) {
  const first: number[] = [];
  const total: number[] = [];
  for (let i = 0; i < RUNS + 1; i++) {
    const work = mkdtempSync(join(base, "w-"));
    await backend.ownWorkDir(work);
    let firstAt = 0;
    const t0 = performance.now();
    const r = await backend.run({
      cmd: ["sh", "-c", "echo ready"],
      workDir: work,
      onOutput: () => {
        firstAt ||= performance.now();
      },
    });
    const t1 = performance.now();
    if (r.status !== "OK") throw new Error(`${backend.kind}: ${r.status} ${r.message}`);
    if (i === 0) continue; // warm-up
    first.push(firstAt - t0);
    total.push(t1 - t0);
  }
  console.log(`${backend.kind.padEnd(6)} first instruction: ${stats(first)}`);
  console.log(`${backend.kind.padEnd(6)} whole run (incl. removal): ${stats(total)}`);
}

console.log("\n# harness overhead over `bun test` on the host (small repo: 3 files, 30 tests)");
const files: Record<string, string> = { "package.json": '{ "name": "bench", "private": true }\n' };
for (let f = 0; f < 3; f++) {
  files[`src/m${f}.test.ts`] =
    `import { expect, test } from "bun:test";\n${Array.from({ length: 10 }, (_, i) => `test("case ${i}", () => expect(${i} + ${f}).toBe(${i + f}));`).join("\n")}\n`;
}
const repo = makeRepo(files);
const hostRuns: number[] = [];
for (let i = 0; i < Math.max(3, RUNS / 2) + 1; i++) {
  const t0 = performance.now();
  const p = Bun.spawn(["bun", "test"], { cwd: repo.path, stdout: "ignore", stderr: "ignore" });
  if ((await p.exited) !== 0) throw new Error("host bun test failed");
  if (i > 0) hostRuns.push(performance.now() - t0);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`host   bun test: ${stats(hostRuns)}`);
for (const backend of backends) {
  const times: number[] = [];
  const hashes = new Set<string>();
  for (let i = 0; i < Math.max(3, RUNS / 2) + 1; i++) {
    const t0 = performance.now();
    const r = await runHarness({ repo: repo.path, ref: repo.sha, backend, baseDir: base, egressAllow: [] });
    if (r.result !== "PASSED") throw new Error(`${backend.kind}: ${r.result}`);
    hashes.add(r.reportHash);
    if (i > 0) times.push(performance.now() - t0);
  }
  console.log(
    `${backend.kind.padEnd(6)} harness run: ${stats(times)}  overhead ≈ ${(median(times) - median(hostRuns)).toFixed(0)} ms`,
  );
  console.log(
    `${backend.kind.padEnd(6)} same commit, same digest: ${hashes.size === 1 ? "yes" : "NO"} (${hashes.size} distinct report hash over ${times.length + 1} runs: ${[...hashes][0]})`,
  );
}

rmSync(base, { recursive: true, force: true });
rmSync(repo.path, { recursive: true, force: true });
