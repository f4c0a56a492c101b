// The report circuit through the prover: a good report proves and verifies; every way of cheating fails.
import { describe, expect, test } from "bun:test";
import { ensureSandboxImages } from "../../test/support/docker";
import { AppError } from "../core/errors";
import { openSandbox } from "../sandbox";
import { leaf, merkleRoot, reportLeaves, TREE_LEAVES, testIdHash } from "./merkle";
import { circuitInput, loadZkKeys, proveReport, verifyReportProof } from "./prover";
import { proveReportInSandbox } from "./sandbox-prover";

const PAYEE = "0x00000000000000000000000000000000000a11ce" as const;
const passing = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `case ${i}`, passed: true }));

describe("zk/prover", () => {
  test("a full 64-test report proves; the proof binds task, payee, amount and rule", async () => {
    const tests = passing(TREE_LEAVES);
    const root = merkleRoot(reportLeaves(tests));
    const claim = { tests, taskId: 42n, payee: PAYEE, amount: 1_000_000n, minPassing: 60 };
    const p = await proveReport(claim, root);
    expect(p.publicSignals).toEqual([root.toString(), "42", BigInt(PAYEE).toString(), "1000000", "60"]);
    expect(await verifyReportProof(p.proof, p.publicSignals)).toBe(true);
    for (let i = 0; i < 5; i++) {
      const tampered = [...p.publicSignals];
      tampered[i] = (BigInt(tampered[i]!) + 1n).toString();
      expect(await verifyReportProof(p.proof, tampered)).toBe(false);
    }
  });

  test("the circuit's root is the TypeScript root (same Poseidon tree)", async () => {
    const tests = passing(5);
    const root = merkleRoot(reportLeaves(tests));
    // a wrong root cannot be proven: the witness breaks the root constraint
    const claim = { tests, taskId: 1n, payee: PAYEE, amount: 5n, minPassing: 5 };
    await expect(proveReport(claim, root + 1n)).rejects.toMatchObject({ code: "PROOF_INVALID" });
    await expect(proveReport(claim, root)).resolves.toBeDefined();
  });

  test("a failing test, too few tests, or leaves not in the report cannot be proven", async () => {
    const mixed = [...passing(3), { id: "broken", passed: false }];
    expect(() => circuitInput({ tests: mixed, taskId: 1n, payee: PAYEE, amount: 1n, minPassing: 1 })).toThrow(AppError);
    expect(() => circuitInput({ tests: passing(2), taskId: 1n, payee: PAYEE, amount: 1n, minPassing: 3 })).toThrow(
      /only 2 of 3/,
    );
    // a prover that hides the failing test proves a different root than the report's, so the attested root fails
    const reportRoot = merkleRoot(reportLeaves(mixed));
    await expect(
      proveReport({ tests: passing(3), taskId: 1n, payee: PAYEE, amount: 1n, minPassing: 3 }, reportRoot),
    ).rejects.toMatchObject({ code: "PROOF_INVALID" });
    // and a failed leaf is not a passed leaf
    expect(merkleRoot([leaf(testIdHash("broken"), 0n)])).not.toBe(merkleRoot([leaf(testIdHash("broken"), 1n)]));
  });

  test("proves inside the prover sandbox (Docker) and verifies in process", async () => {
    await ensureSandboxImages();
    const docker = await openSandbox("docker");
    const tests = passing(8);
    const root = merkleRoot(reportLeaves(tests));
    const claim = { tests, taskId: 7n, payee: PAYEE, amount: 99n, minPassing: 8 };
    const p = await proveReportInSandbox(docker, claim, root, await loadZkKeys());
    expect(p.publicSignals[0]).toBe(root.toString());
    expect(await verifyReportProof(p.proof, p.publicSignals)).toBe(true);
  });
});
