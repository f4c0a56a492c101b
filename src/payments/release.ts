// Building and submitting `releasePayment`: estimate its gas first (a revert becomes a typed AppError without
// spending gas), then send with that gas limit (no second estimate) and wait for the receipt.
import { type Address, encodeFunctionData, type Hex, parseEventLogs } from "viem";
import type { ChainConnection } from "../chain/client";
import { ProjectEscrow } from "../chain/contracts.gen";
import { decodeRevert } from "../chain/revert";
import { AppError } from "../core/errors";
import type { Attestation } from "../zk/attestation";
import type { ReportProof } from "../zk/prover";

/** The arguments of ProjectEscrow.releasePayment. */
export function releaseArgs(a: Attestation, signature: Hex, proof: ReportProof["calldata"]) {
  return [
    {
      projectId: a.projectId,
      taskId: a.taskId,
      payee: a.payee,
      amount: a.amount,
      root: a.root,
      ruleHash: a.ruleHash,
      digest: a.digest,
    },
    signature,
    proof.a,
    proof.b,
    proof.c,
  ] as const;
}

/** The outcome of a mined release. */
export interface ReleaseResult {
  txHash: Hex;
  blockNumber: bigint;
  gasUsed: bigint;
  netAmount: bigint;
  fee: bigint;
}

/**
 * Maps an escrow revert, in whatever shape the node reported it (see chain/revert.ts), to the API's error codes
 * with the contract's error name in `details.contractError`. Non-revert errors (RPC, network, timeouts) are
 * returned unchanged.
 */
export function escrowError(err: unknown): unknown {
  const revert = decodeRevert(err);
  if (!revert) return err;
  const name = revert.name;
  const details = { contractError: name };
  // the message names the contract's error, so a failed payout job says why (e.g. "… (InvalidProof)")
  const refused = (code: string, text: string, status: number) =>
    new AppError(code, `${text} (${name})`, status, details, { cause: err });
  switch (name) {
    case "InsufficientFunds":
      return refused("INSUFFICIENT_FUNDS", "The project's escrow balance does not cover this payment.", 409);
    case "InvalidProof":
      return refused("PROOF_INVALID", "The proof does not verify for this task, payee and amount.", 422);
    case "InvalidAttestation":
      return refused("PROOF_INVALID", "The report is not signed by the harness key.", 422);
    case "AlreadyPaid":
      return refused("CONFLICT", "This task has already been paid.", 409);
    case "ProjectNotActive":
      return refused("CONFLICT", "The project is not active on chain.", 409);
    default:
      return refused("INTERNAL", "The escrow refused the payment.", 500);
  }
}

/** Whether an error is worth retrying (RPC or network trouble rather than a contract decision). */
export function isTransient(err: unknown): boolean {
  return !(err instanceof AppError);
}

/** Estimates, sends and confirms a release signed by the worker key. Throws mapped AppErrors on revert. */
export async function submitRelease(
  conn: ChainConnection,
  escrow: Address,
  workerKey: Hex,
  a: Attestation,
  signature: Hex,
  proof: ReportProof["calldata"],
  opts: { confirmations?: number } = {},
): Promise<ReleaseResult> {
  const wallet = conn.wallet(workerKey);
  const args = releaseArgs(a, signature, proof);
  const data = encodeFunctionData({ abi: ProjectEscrow.abi, functionName: "releasePayment", args });
  // One estimate: it runs the whole call (a refusal reverts here with its reason) and gives the gas limit, so
  // sending does not estimate again (on a slow node each estimate took 17–19 s).
  let gas: bigint;
  try {
    gas = await conn.publicClient.estimateGas({ account: wallet.account, to: escrow, data });
  } catch (err) {
    throw escrowError(err);
  }
  // a margin for state that changes between the estimate and inclusion (e.g. a first fee write in a block)
  const txHash = await wallet.sendTransaction({ to: escrow, data, gas: (gas * 6n) / 5n });
  const receipt = await conn.publicClient.waitForTransactionReceipt({
    hash: txHash,
    confirmations: opts.confirmations ?? 1,
  });
  if (receipt.status !== "success") throw new AppError("INTERNAL", `release transaction reverted: ${txHash}`, 500);
  const [event] = parseEventLogs({ abi: ProjectEscrow.abi, logs: receipt.logs, eventName: "PaymentReleased" });
  if (!event) throw new AppError("INTERNAL", "release mined without a PaymentReleased event", 500);
  return {
    txHash,
    blockNumber: receipt.blockNumber,
    gasUsed: receipt.gasUsed,
    netAmount: event.args.amount,
    fee: event.args.fee,
  };
}
