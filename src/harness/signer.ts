// The harness signs its own report: after a run whose rule holds, the attestation (project, task, payee, amount,
// the report commitment's root and rule hash, the report hash) is signed here with the harness key and stored
// with the run. This is the only module that uses the harness key; the payout verifies what is stored and never
// signs anything itself.
import type { Address, Hex } from "viem";
import type { AppContext } from "../core/context";
import { requireChain } from "../chain/service";
import type { SignedReport } from "../tasks/schema";
import { type Attestation, onChainProjectId, onChainTaskId, signVerificationReport } from "../zk/attestation";
import type { HarnessDigest } from "./digest";

/** What one signature covers besides the report itself. */
export interface SignRequest {
  projectId: string;
  taskId: string;
  payee: Address;
  amount: bigint;
  digest: HarnessDigest;
  reportHash: Hex;
}

/** A signed report, or why none was made (the chain is not set up, no harness key). */
export type SignOutcome = { signed: SignedReport } | { signed: null; reason: string };

/** The attestation of a verified report, field for field the escrow's `Release`. */
export function attestationOf(req: SignRequest): Attestation {
  return {
    projectId: onChainProjectId(req.projectId),
    taskId: onChainTaskId(req.taskId),
    payee: req.payee,
    amount: req.amount,
    root: BigInt(req.digest.merkle.root),
    ruleHash: BigInt(req.digest.merkle.ruleHash),
    digest: req.reportHash,
  };
}

/** Signs a verified report with the harness key for the appliance's escrow. */
export async function signReport(ctx: Pick<AppContext, "chain" | "openChain">, req: SignRequest): Promise<SignOutcome> {
  let rt: Awaited<ReturnType<typeof requireChain>>;
  try {
    rt = await requireChain(ctx);
  } catch (err) {
    return { signed: null, reason: `the chain is not set up: ${(err as Error).message}` };
  }
  if (!rt.harnessKey) return { signed: null, reason: "no harness key is set (Settings → Chain)" };
  if (!rt.deployment) return { signed: null, reason: "the escrow contract is not deployed" };
  const domain = { chainId: rt.conn.chain.id, escrow: rt.deployment.escrow };
  const signed = await signVerificationReport(attestationOf(req), domain, rt.harnessKey);
  return { signed };
}
