// The report circuit: a report of 100,000 tests with 32 named acceptance tests. Measures the commitment
// (reportCommitment: SHA-256 tree over every test plus the Poseidon parts), proof generation and verification in
// process under Bun (single-threaded snarkjs), and in the prover sandbox when Docker has the prover image.
// Target: proof ≤ 5 s.
import { MAX_NAMED_TESTS, reportCommitment, type TestResult } from "../src/zk/merkle";
import { ensureCurve, loadZkKeys, proveReport, verifyReportProof } from "../src/zk/prover";

const TESTS = 100_000;
const ms = (t0: number) => Math.round(performance.now() - t0);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuMs = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return Math.round((c.user + c.system) / 1000);
};

// a large suite where 1 test in 50 fails (failures that were already failing at the base commit)
const tests: TestResult[] = Array.from({ length: TESTS }, (_, i) => ({
  id: `packages/p${i % 20}/src/f${i % 900}.test.ts > suite ${i % 37} > case ${i}`,
  passed: i % 50 !== 7,
}));
const named = tests
  .filter((t) => t.passed)
  .slice(0, MAX_NAMED_TESTS)
  .map((t) => t.id);

let t0 = performance.now();
const keys = await loadZkKeys();
const loadMs = ms(t0);
t0 = performance.now();
await ensureCurve();
const curveMs = ms(t0);

const commits: { wallMs: number; cpuMs: number }[] = [];
let report = reportCommitment({ tests: tests.slice(0, 10), named: [], minPassing: 1, newFailures: 0 }); // Poseidon constants
for (let i = 0; i < 3; i++) {
  t0 = performance.now();
  const c0 = process.cpuUsage();
  report = reportCommitment({ tests, named, minPassing: 90_000, newFailures: 0 });
  commits.push({ wallMs: ms(t0), cpuMs: cpuMs(c0) });
}

const claim = (task: bigint) => ({
  report,
  taskId: task,
  payee: "0x00000000000000000000000000000000000a11ce" as const,
  amount: 1_500_000n,
});
t0 = performance.now();
const first = await proveReport(claim(1n), keys);
const firstMs = ms(t0);
t0 = performance.now();
const ok = await verifyReportProof(first.proof, first.publicSignals, keys.vk);
const verifyMs = ms(t0);

const proves: number[] = [];
const verifies: number[] = [];
for (let i = 0; i < 5; i++) {
  t0 = performance.now();
  const p = await proveReport(claim(BigInt(i + 2)), keys); // includes the off-chain verification it always does
  proves.push(ms(t0));
  t0 = performance.now();
  await verifyReportProof(p.proof, p.publicSignals, keys.vk);
  verifies.push(ms(t0));
}
// the sandbox path (Docker, prover image, multi-threaded bun) when an engine with the image is here
let sandbox: Record<string, unknown> = { available: false };
const { openSandbox } = await import("../src/sandbox");
const docker = await openSandbox("docker").catch(() => undefined);
if (docker && (await (docker as any).image?.("prover").catch(() => undefined))) {
  const { proveReportInSandbox } = await import("../src/zk/sandbox-prover");
  const runs: { sandboxMs: number; proveMs: number }[] = [];
  for (let i = 0; i < 3; i++) {
    const p = await proveReportInSandbox(docker, claim(BigInt(100 + i)), keys);
    runs.push({ sandboxMs: p.sandboxMs, proveMs: p.proveMs });
  }
  sandbox = { available: true, runs };
}
console.log(
  JSON.stringify(
    {
      bench: "zk",
      tests: TESTS,
      namedTests: named.length,
      commitment: commits,
      sandbox,
      keysLoadMs: loadMs,
      zkeyBytes: keys.zkey.byteLength,
      curveBuildMs: curveMs,
      firstProveAndVerifyMs: firstMs,
      verifyMs,
      verified: ok,
      warmProveAndVerifyMedianMs: median(proves),
      warmProveAndVerifyMaxMs: Math.max(...proves),
      warmVerifyMedianMs: median(verifies),
      targetMs: 5000,
      withinTarget: median(proves) <= 5000,
    },
    null,
    2,
  ),
);
process.exit(0);
