// The report circuit through the prover: a report whose named acceptance tests passed proves and verifies; every
// way of cheating fails, in the TypeScript checks and, with those bypassed, in the circuit itself.
import { describe, expect, test } from "bun:test";
import { ensureSandboxImages } from "../../test/support/docker";
import { openSandbox } from "../sandbox";
import { reportCommitment, reportWitness, ruleHash, type TestResult } from "./merkle";
import { circuitInput, loadZkKeys, proveInput, proveReport, verifyReportProof } from "./prover";
import { proveReportInSandbox } from "./sandbox-prover";

const PAYEE = "0x00000000000000000000000000000000000a11ce" as const;
const bind = { taskId: 42n, payee: PAYEE, amount: 1_000_000n };
// a suite where every 10th test fails (they failed at the base commit too: newFailures 0)
const suite = (n: number): TestResult[] =>
  Array.from({ length: n }, (_, i) => ({ id: `pkg/f${i % 40}.test.ts > case ${i}`, passed: i % 10 !== 0 }));

describe("zk/prover", () => {
  const tests = suite(10_000);
  const named = tests
    .filter((t) => t.passed)
    .slice(0, 20)
    .map((t) => t.id);
  const report = reportCommitment({ tests, named, minPassing: 20, newFailures: 0 });

  test("a report of 10,000 tests proves that its 20 named tests passed; the proof binds task, payee, amount and rule", async () => {
    const p = await proveReport({ report, ...bind });
    expect(p.publicSignals).toEqual([
      report.root.toString(),
      "42",
      BigInt(PAYEE).toString(),
      "1000000",
      ruleHash(named, 20).toString(),
    ]);
    expect(await verifyReportProof(p.proof, p.publicSignals)).toBe(true);
    for (let i = 0; i < 5; i++) {
      const tampered = [...p.publicSignals];
      tampered[i] = (BigInt(tampered[i]!) + 1n).toString();
      expect(await verifyReportProof(p.proof, tampered)).toBe(false);
    }
  }, 60_000);

  test("a failed or missing named test, a new failure, or too few passes is refused before proving", () => {
    const failedOne = tests.find((t) => !t.passed)!.id;
    const cases = [
      reportCommitment({ tests, named: [...named.slice(0, 19), failedOne], minPassing: 1, newFailures: 0 }),
      reportCommitment({
        tests,
        named: [...named.slice(0, 19), "pkg/gone.test.ts > deleted"],
        minPassing: 1,
        newFailures: 0,
      }),
      reportCommitment({ tests, named, minPassing: 1, newFailures: 1 }),
      reportCommitment({ tests, named, minPassing: 9_001, newFailures: 0 }),
    ];
    for (const c of cases) expect(() => circuitInput({ report: c, ...bind })).toThrow(/does not meet the task's rule/);
  });

  test("the circuit itself has no witness for a failed named test, a new failure, too few passes or a wrong rule", async () => {
    const failedOne = tests.find((t) => !t.passed)!.id;
    const withFailed = reportCommitment({
      tests,
      named: [failedOne, ...named.slice(1)],
      minPassing: 1,
      newFailures: 0,
    });
    const regressed = reportCommitment({ tests, named, minPassing: 1, newFailures: 3 });
    const tooFew = reportCommitment({
      tests: tests.slice(0, 30),
      named: named.slice(0, 5),
      minPassing: 40,
      newFailures: 0,
    });
    for (const c of [withFailed, regressed, tooFew]) {
      await expect(proveInput(reportWitness(c, bind))).rejects.toMatchObject({ code: "PROOF_INVALID" });
    }
    // claiming the failed named test passed: the slots no longer hash to the signed root
    const lie = reportWitness(withFailed, bind);
    lie.namedPassed = (lie.namedPassed as string[]).map(() => "1").map((v, i) => (i < 20 ? v : "0"));
    await expect(proveInput(lie)).rejects.toMatchObject({ code: "PROOF_INVALID" });
    // a weaker rule than the one signed (fewer named tests): ruleHash does not match
    const weaker = { ...reportWitness(report, bind), ruleHash: ruleHash(named.slice(1), 20).toString() };
    await expect(proveInput(weaker)).rejects.toMatchObject({ code: "PROOF_INVALID" });
    // another root than the signed one
    const otherRoot = { ...reportWitness(report, bind), root: (report.root + 1n).toString() };
    await expect(proveInput(otherRoot)).rejects.toMatchObject({ code: "PROOF_INVALID" });
  }, 60_000);

  test("proves inside the prover sandbox (Docker) and verifies in process", async () => {
    await ensureSandboxImages();
    const docker = await openSandbox("docker");
    const small = reportCommitment({
      tests: suite(50),
      named: ["pkg/f1.test.ts > case 1"],
      minPassing: 8,
      newFailures: 0,
    });
    const p = await proveReportInSandbox(
      docker,
      { report: small, taskId: 7n, payee: PAYEE, amount: 99n },
      await loadZkKeys(),
    );
    expect(p.publicSignals[0]).toBe(small.root.toString());
    expect(await verifyReportProof(p.proof, p.publicSignals)).toBe(true);
  }, 120_000);
});
