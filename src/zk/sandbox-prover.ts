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
  proveReport,
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
  keys?: ZkKeys,
): Promise<ReportProof & { sandboxMs: number; proveMs: number }> {
  const k = keys ?? (await loadZkKeys());
  const dir = mkdtempSync(join(tmpdir(), "devsponsor-prove-"));
  try {
    writeFileSync(join(dir, "input.json"), JSON.stringify(circuitInput(claim)));
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
      root: claim.report.root,
      calldata: toCalldata(out.proof),
      sandboxMs: Math.round(run.durationMs),
      proveMs: out.ms,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let dockerCheck: { at: number; sandbox: SandboxBackend | undefined } | undefined;

/** The Docker sandbox when an engine with the prover image answers (checked at most once a minute). */
async function dockerProver(): Promise<SandboxBackend | undefined> {
  if (dockerCheck && Date.now() - dockerCheck.at < 60_000) return dockerCheck.sandbox;
  const { openSandbox } = await import("../sandbox");
  const docker = await openSandbox("docker").catch(() => undefined);
  const image = docker ? await (docker as any).image?.("prover").catch(() => undefined) : undefined;
  dockerCheck = { at: Date.now(), sandbox: image ? docker : undefined };
  return dockerCheck.sandbox;
}

/**
 * Proves with the active keys (a contributed key in the data dir wins): in the prover sandbox when Docker is
 * available, in process otherwise or when the sandbox run fails. Every proof is verified before it is returned.
 */
export async function proveReportAuto(
  claim: ReportClaim,
  opts: { dataDir?: string; onFallback?: (reason: string) => void } = {},
): Promise<ReportProof & { where: "sandbox" | "process" }> {
  const keys = await loadZkKeys(opts.dataDir);
  const sandbox = await dockerProver();
  if (sandbox) {
    try {
      return { ...(await proveReportInSandbox(sandbox, claim, keys)), where: "sandbox" };
    } catch (err) {
      if (err instanceof AppError && err.code !== "PROOF_INVALID") throw err; // the claim itself is wrong
      opts.onFallback?.((err as Error).message);
    }
  }
  return { ...(await proveReport(claim, keys)), where: "process" };
}
