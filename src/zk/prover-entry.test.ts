// The sandbox prover (./prover-entry.ts) as the sandbox runs it: bundled as scripts/build-circuit.ts bundles it,
// the bundle is the committed circuits/build/prover.js; run in a working directory holding its three inputs it
// writes a proof that verifies; a missing input or a claim the circuit refuses ends it with an error and no proof.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { bundleProverScript } from "../../scripts/prover-bundle";
import { reportCommitment, ruleHash, type TestResult } from "./merkle";
import { circuitInput, loadZkKeys, verifyReportProof, type ZkKeys } from "./prover";

const ROOT = resolve(import.meta.dir, "..", "..");
const PAYEE = "0x00000000000000000000000000000000000b0b00" as const;

describe("zk/prover-entry", () => {
  const tests: TestResult[] = Array.from({ length: 64 }, (_, i) => ({ id: `suite > case ${i}`, passed: i % 8 !== 0 }));
  const named = tests
    .filter((t) => t.passed)
    .slice(0, 12)
    .map((t) => t.id);
  const report = reportCommitment({ tests, named, minPassing: named.length, newFailures: 0 });
  const claim = { report, taskId: 7n, payee: PAYEE, amount: 5_000n };
  let bundle = "";
  let keys: ZkKeys;
  const dirs: string[] = [];

  beforeAll(async () => {
    bundle = await bundleProverScript();
    keys = await loadZkKeys();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  /** A working directory as the sandbox gets it, holding the inputs named in `files`; runs the prover there. */
  async function runProver(files: { input?: unknown; wasm?: boolean; zkey?: boolean }) {
    const dir = mkdtempSync(join(tmpdir(), "ds-prover-entry-"));
    dirs.push(dir);
    writeFileSync(join(dir, "prover.js"), bundle);
    if (files.input) writeFileSync(join(dir, "input.json"), JSON.stringify(files.input));
    if (files.wasm) writeFileSync(join(dir, "report.wasm"), keys.wasm);
    if (files.zkey) writeFileSync(join(dir, "report_final.zkey"), keys.zkey);
    const proc = Bun.spawn([process.execPath, "prover.js"], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => proc.kill(), 60_000);
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    clearTimeout(timer);
    const proofFile = join(dir, "proof.json");
    return { code, stderr, proof: existsSync(proofFile) ? await Bun.file(proofFile).json() : null };
  }

  test("the committed circuits/build/prover.js is this file's bundle (rebuild it with --bundle-only after a change)", async () => {
    expect(bundle.length).toBeGreaterThan(10_000);
    expect(bundle === (await Bun.file(join(ROOT, "circuits", "build", "prover.js")).text())).toBe(true);
  });

  test("with input.json, report.wasm and report_final.zkey it writes proof.json, which verifies for the claim", async () => {
    const run = await runProver({ input: circuitInput(claim), wasm: true, zkey: true });
    expect(run.code).toBe(0);
    expect(run.proof.publicSignals).toEqual([
      report.root.toString(),
      "7",
      BigInt(PAYEE).toString(),
      "5000",
      ruleHash(named, named.length).toString(),
    ]);
    expect(run.proof.ms).toBeGreaterThan(0);
    expect(await verifyReportProof(run.proof.proof, run.proof.publicSignals, keys.vk)).toBe(true);
    // the proof binds the claim: another payee's signals do not verify with it
    const other = [...run.proof.publicSignals];
    other[2] = BigInt("0x00000000000000000000000000000000000c0c00").toString();
    expect(await verifyReportProof(run.proof.proof, other, keys.vk)).toBe(false);
  }, 90_000);

  test("a missing input file ends the run with an error naming it, and no proof.json", async () => {
    const noZkey = await runProver({ input: circuitInput(claim), wasm: true });
    expect(noZkey.code).not.toBe(0);
    expect(noZkey.stderr).toContain("report_final.zkey");
    expect(noZkey.proof).toBeNull();
    const noInput = await runProver({ wasm: true, zkey: true });
    expect(noInput.code).not.toBe(0);
    expect(noInput.stderr).toContain("input.json");
    expect(noInput.proof).toBeNull();
  }, 60_000);

  test("an input the circuit refuses (a named test said to have failed) ends with an error, and no proof.json", async () => {
    const input = circuitInput(claim);
    const namedPassed = (input.namedPassed as string[]).map((v, i) => (i === 0 ? "0" : v));
    const run = await runProver({ input: { ...input, namedPassed }, wasm: true, zkey: true });
    expect(run.code).not.toBe(0);
    expect(run.proof).toBeNull();
  }, 90_000);
});
