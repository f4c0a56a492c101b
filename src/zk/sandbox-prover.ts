// Proving in the prover sandbox (Docker image `prover`, bun at /usr/local/bin/bun, no network, uid 1000): the
// witness generator and proving key never run in the appliance process. The proof is verified in process before
// it is used, like every proof.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import proverScript from "../../circuits/build/prover.js" with { type: "file" };
import { AppError } from "../core/errors";
import type { SandboxBackend } from "../sandbox";
import {
  circuitInput,
  loadZkKeys,
  type ReportClaim,
  type ReportProof,
  toCalldata,
  verifyReportProof,
  type ZkKeys,
} from "./prover";

/** Proves a claim in a sandbox run; throws PROOF_INVALID when the run fails or the proof does not verify. */
export async function proveReportInSandbox(
  sandbox: SandboxBackend,
  claim: ReportClaim,
  root: bigint,
  keys?: ZkKeys,
): Promise<ReportProof & { sandboxMs: number; proveMs: number }> {
  const k = keys ?? (await loadZkKeys());
  const dir = mkdtempSync(join(tmpdir(), "devsponsor-prove-"));
  try {
    writeFileSync(join(dir, "input.json"), JSON.stringify({ ...circuitInput(claim), root: root.toString() }));
    writeFileSync(join(dir, "report.wasm"), k.wasm);
    writeFileSync(join(dir, "report_final.zkey"), k.zkey);
    writeFileSync(join(dir, "prover.js"), new Uint8Array(await Bun.file(proverScript).arrayBuffer()));
    chmodSync(dir, 0o777); // the sandbox user (uid 1000) writes proof.json here
    const run = await sandbox.run({
      cmd: ["/usr/local/bin/bun", "prover.js"],
      workDir: dir,
      image: "prover",
      env: { HOME: "/tmp", PATH: "/usr/local/bin:/usr/bin:/bin" },
      limits: { memoryMb: 1536, timeoutMs: 120_000, cpus: 2 },
    });
    if (run.status !== "OK") {
      throw new AppError("PROOF_INVALID", `the prover sandbox ended with ${run.status}: ${run.message ?? ""}`, 500, {
        stderr: run.stderr.slice(-500),
      });
    }
    const out = (await Bun.file(join(dir, "proof.json")).json()) as {
      proof: ReportProof["proof"];
      publicSignals: string[];
      ms: number;
    };
    if (!(await verifyReportProof(out.proof, out.publicSignals, k.vk))) {
      throw new AppError("PROOF_INVALID", "the sandbox's proof does not verify", 500);
    }
    return {
      proof: out.proof,
      publicSignals: out.publicSignals,
      root,
      calldata: toCalldata(out.proof),
      sandboxMs: Math.round(run.durationMs),
      proveMs: out.ms,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
