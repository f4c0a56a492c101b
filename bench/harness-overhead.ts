// Harness overhead with pinned acceptance tests: a verification (fetch, compare with the base, protected-path
// check, pinned files over the checkout, the suite in the Docker sandbox with its report in a secret directory,
// the rule, the digest and its report commitment) against running the same suite directly on the host; and what
// the base commit's results cost when they are not cached yet (one more harness run) against when they are.
// Run: bun bench/harness-overhead.ts [--runs N]   (needs the Docker engine and the sandbox images)
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeRepo } from "../test/fixtures/hostile/repos";
import { ensureSandboxImages } from "../test/support/docker";
import type { AcceptanceOptions } from "../src/harness/acceptance";
import { runHarness } from "../src/harness/run";
import { DockerBackend } from "../src/sandbox/docker";

const { values } = parseArgs({ args: process.argv.slice(2), options: { runs: { type: "string", default: "5" } } });
const RUNS = Math.max(1, Number(values.runs));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `median ${median(s).toFixed(0)} ms  min ${s[0]!.toFixed(0)}  max ${s.at(-1)!.toFixed(0)}  (n=${s.length})`;
};

await ensureSandboxImages();
const baseDir = mkdtempSync(join(tmpdir(), "devsponsor-bench-acc-"));
chmodSync(baseDir, 0o711);
const backend = new DockerBackend();

// A small project: 3 files of 10 tests and the acceptance test, failing at the base and fixed by the work.
const files: Record<string, string> = {
  "package.json": '{ "name": "bench", "private": true }\n',
  "calc.ts": "export const mul = (_a: number, _b: number): number => 0;\n",
  "calc.test.ts": `import { expect, test } from "bun:test";\nimport { mul } from "./calc";\ntest("multiplies", () => expect(mul(2, 3)).toBe(6));\n`,
};
for (let f = 0; f < 3; f++) {
  files[`src/m${f}.test.ts`] =
    `import { expect, test } from "bun:test";\n${Array.from({ length: 10 }, (_, i) => `test("case ${i}", () => expect(${i} + ${f}).toBe(${i + f}));`).join("\n")}\n`;
}
const base = makeRepo(files);
const work = makeRepo({ "calc.ts": "export const mul = (a: number, b: number): number => a * b;\n" }, base.path);
const acceptance: AcceptanceOptions = {
  named: ["test > calc.test.ts > multiplies"],
  testFiles: ["calc.test.ts"],
  pin: { kind: "commit", commit: base.sha },
};

const host: number[] = [];
for (let i = 0; i <= RUNS; i++) {
  const t0 = performance.now();
  const p = Bun.spawn(["bun", "test"], { cwd: base.path, stdout: "ignore", stderr: "ignore" });
  if ((await p.exited) !== 0) throw new Error("host bun test failed");
  if (i > 0) host.push(performance.now() - t0);
}

const plain: number[] = [];
const pinned: number[] = [];
const baseRuns: number[] = [];
let baseTests: Awaited<ReturnType<typeof runHarness>>["tests"] = [];
for (let i = 0; i <= RUNS; i++) {
  const opts = { repo: base.path, backend, baseDir, egressAllow: [], testCommand: "bun test" };
  let t0 = performance.now();
  const b = await runHarness({ ...opts, ref: base.sha, acceptance: { ...acceptance, named: [] } });
  const tBase = performance.now() - t0;
  baseTests = b.tests;
  t0 = performance.now();
  const r = await runHarness({ ...opts, ref: work.sha, acceptance, baseTests, minPassing: 1 });
  const tPinned = performance.now() - t0;
  if (r.result !== "PASSED") throw new Error(`the work was ${r.result}: ${r.reason}`);
  t0 = performance.now();
  const p = await runHarness({ ...opts, ref: work.sha });
  const tPlain = performance.now() - t0;
  if (p.result !== "PASSED") throw new Error(`the plain run was ${p.result}: ${p.reason}`);
  if (i === 0) continue; // warm-up (mirror, image inspect)
  baseRuns.push(tBase);
  pinned.push(tPinned);
  plain.push(tPlain);
}

console.log("# harness overhead over `bun test` on the host (31 tests; Docker)");
console.log(`host bun test:                         ${stats(host)}`);
console.log(
  `harness run, no acceptance:            ${stats(plain)}  overhead ${(median(plain) - median(host)).toFixed(0)} ms`,
);
console.log(
  `harness run, pinned acceptance tests:  ${stats(pinned)}  overhead ${(median(pinned) - median(host)).toFixed(0)} ms (target ≤ 3000)`,
);
console.log(`  of which acceptance (compare, protect, pin, rule): ${(median(pinned) - median(plain)).toFixed(0)} ms`);
console.log("# base commit results (harness_base_results)");
console.log(
  `cache miss: base run + work run ${(median(baseRuns) + median(pinned)).toFixed(0)} ms (the base run ${stats(baseRuns)})`,
);
console.log(`cache hit:  work run only ${median(pinned).toFixed(0)} ms (the cached row is one indexed select)`);

rmSync(baseDir, { recursive: true, force: true });
rmSync(base.path, { recursive: true, force: true });
