// Groth16 prover for circuits/report.circom, in process. snarkjs runs single-threaded here: its worker threads
// never finish under Bun, so the bn128 curve is built single-threaded once and cached where ffjavascript looks
// for it (groth16.verify has no option to ask for a single-threaded curve).
import { existsSync } from "node:fs";
import { join } from "node:path";
import type * as snarkjs from "snarkjs";
import zkeyPath from "../../circuits/build/report_final.zkey" with { type: "file" };
import wasmPath from "../../circuits/build/report.wasm" with { type: "file" };
import committedVk from "../../circuits/build/verification_key.json";
import { AppError } from "../core/errors";
import { type ReportCommitment, reportWitness, SNARK_FIELD, unprovableReason } from "./merkle";

/** What one payment proof is about: the committed report (merkle.reportCommitment) and the payment it unlocks. */
export interface ReportClaim {
  report: ReportCommitment;
  taskId: bigint;
  payee: `0x${string}`;
  amount: bigint;
}

/** A proof, its public signals (root, taskId, payee, amount, ruleHash) and the contract call arguments. */
export interface ReportProof {
  proof: snarkjs.Groth16Proof;
  publicSignals: string[];
  root: bigint;
  calldata: {
    a: [bigint, bigint];
    b: [[bigint, bigint], [bigint, bigint]];
    c: [bigint, bigint];
  };
}

/** Proving material: the witness generator, the proving key and its verification key. */
export interface ZkKeys {
  wasm: Uint8Array;
  zkey: Uint8Array;
  vk: Record<string, unknown>;
  source: "embedded" | "data-dir";
}

/** Where `devsponsor zk contribute` writes a contributed key. */
export const zkDir = (dataDir: string) => join(dataDir, "zk");

let curve: Promise<unknown> | undefined;

/** snarkjs and ffjavascript are loaded at the first proof or verification, not at boot (~5 MiB resident). */
const loadSnarkjs = () => import("snarkjs");
/**
 * Builds the single-threaded bn128 curve once and puts it where ffjavascript (and so snarkjs) looks, on every
 * call: loading another copy of ffjavascript (circomlibjs ships its own, and so does snarkjs's r1csfile) resets
 * that global to null, and snarkjs would then build a multi-threaded curve, which never finishes under Bun.
 * snarkjs is therefore loaded before the curve is installed.
 */
export async function ensureCurve(): Promise<unknown> {
  await loadSnarkjs();
  curve ??= import("ffjavascript").then(({ buildBn128 }) => buildBn128(true));
  const c = await curve;
  (globalThis as any).curve_bn128 = c;
  return c;
}

/** Loads the keys: a contributed key from the data dir when there is one, else the committed ceremony output. */
export async function loadZkKeys(dataDir?: string): Promise<ZkKeys> {
  const wasm = new Uint8Array(await Bun.file(wasmPath).arrayBuffer());
  if (dataDir && existsSync(join(zkDir(dataDir), "report_final.zkey"))) {
    const dir = zkDir(dataDir);
    return {
      wasm,
      zkey: new Uint8Array(await Bun.file(join(dir, "report_final.zkey")).arrayBuffer()),
      vk: await Bun.file(join(dir, "verification_key.json")).json(),
      source: "data-dir",
    };
  }
  // bytes, not paths: snarkjs closing a FileHandle during GC is an error under Bun
  return { wasm, zkey: new Uint8Array(await Bun.file(zkeyPath).arrayBuffer()), vk: committedVk, source: "embedded" };
}

/**
 * The circuit's input for a claim. Throws VERIFICATION_FAILED when the report cannot meet its rule (a named test
 * failed or is missing, a new failure, too few passes): the circuit has no witness for such a report.
 */
export function circuitInput(claim: ReportClaim): Record<string, string | string[]> {
  const why = unprovableReason(claim.report);
  if (why) throw new AppError("VERIFICATION_FAILED", `The report does not meet the task's rule: ${why}.`, 422);
  if (claim.amount <= 0n || claim.amount >= SNARK_FIELD)
    throw new AppError("INVALID_INPUT", "amount out of range", 400);
  if (claim.taskId < 0n || claim.taskId >= SNARK_FIELD) throw new AppError("INVALID_INPUT", "taskId out of range", 400);
  return reportWitness(claim.report, { taskId: claim.taskId, payee: claim.payee, amount: claim.amount });
}

/**
 * Proves a claim (its report's root is the one the harness signed), and verifies the proof before returning it.
 * Throws VERIFICATION_FAILED for a report that cannot meet its rule, PROOF_INVALID if the proof does not verify
 * (it never leaves this function unchecked).
 */
export async function proveReport(claim: ReportClaim, keys?: ZkKeys): Promise<ReportProof> {
  const input = circuitInput(claim);
  return { ...(await proveInput(input, keys)), root: claim.report.root };
}

/**
 * Proves a raw circuit input with no checks of its own: the circuit's constraints are the only judge (tests use
 * it to show the circuit itself refuses what circuitInput refuses earlier). The proof is verified before it is
 * returned; PROOF_INVALID when there is no witness or the proof does not verify.
 */
export async function proveInput(
  input: Record<string, string | string[]>,
  keys?: ZkKeys,
): Promise<Omit<ReportProof, "root">> {
  await ensureCurve();
  const k = keys ?? (await loadZkKeys());
  const single = { singleThread: true };
  let out: { proof: snarkjs.Groth16Proof; publicSignals: string[] };
  try {
    out = await (await loadSnarkjs()).groth16.fullProve(input, k.wasm, k.zkey, undefined, single, single);
  } catch (cause) {
    // the witness calculator rejects inputs that break a constraint, e.g. slots that do not hash to `root`
    throw new AppError("PROOF_INVALID", "the report does not satisfy the circuit for this root", 422, {}, { cause });
  }
  if (!(await verifyReportProof(out.proof, out.publicSignals, k.vk))) {
    throw new AppError("PROOF_INVALID", "the generated proof does not verify", 500);
  }
  return { ...out, calldata: toCalldata(out.proof) };
}

/** Verifies a proof off chain against a verification key. */
export async function verifyReportProof(
  proof: snarkjs.Groth16Proof,
  publicSignals: string[],
  vk: Record<string, unknown> = committedVk,
): Promise<boolean> {
  await ensureCurve();
  return (await loadSnarkjs()).groth16.verify(vk, publicSignals, proof);
}

/** The verifier contract's arguments; the G2 point's coordinates are swapped (the precompile's order). */
export function toCalldata(proof: snarkjs.Groth16Proof): ReportProof["calldata"] {
  const n = (s: string) => BigInt(s);
  return {
    a: [n(proof.pi_a[0]!), n(proof.pi_a[1]!)],
    b: [
      [n(proof.pi_b[0]![1]!), n(proof.pi_b[0]![0]!)],
      [n(proof.pi_b[1]![1]!), n(proof.pi_b[1]![0]!)],
    ],
    c: [n(proof.pi_c[0]!), n(proof.pi_c[1]!)],
  };
}

/** The verification key's delta point in the order the verifier contract's constructor takes it. */
export function vkDelta(vk: Record<string, unknown>): [bigint, bigint, bigint, bigint] {
  const d = vk.vk_delta_2 as string[][];
  return [BigInt(d[0]![1]!), BigInt(d[0]![0]!), BigInt(d[1]![1]!), BigInt(d[1]![0]!)];
}
