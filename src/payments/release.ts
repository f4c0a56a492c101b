// Building and submitting `releasePayment`: simulate first (a revert becomes a typed AppError without spending
// gas), then send and wait for the receipt.
import { type Address, BaseError, ContractFunctionRevertedError, type Hex, parseEventLogs } from "viem";
import type { ChainConnection } from "../chain/client";
import { ProjectEscrow } from "../chain/contracts.gen";
import { AppError, conflict } from "../core/errors";
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

/** Maps an escrow revert to the API's error codes. Non-revert errors (RPC, network) are returned unchanged. */
export function escrowError(err: unknown): unknown {
  if (!(err instanceof BaseError)) return err;
  const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
  if (!(revert instanceof ContractFunctionRevertedError)) return err;
  const name = revert.data?.errorName ?? "";
  const details = { contractError: name };
  switch (name) {
    case "InsufficientFunds":
      return new AppError(
        "INSUFFICIENT_FUNDS",
        "The project's escrow balance does not cover this payment.",
        409,
        details,
        {
          cause: err,
        },
      );
    case "InvalidProof":
      return new AppError("PROOF_INVALID", "The proof does not verify for this task, payee and amount.", 422, details, {
        cause: err,
      });
    case "InvalidAttestation":
      return new AppError("PROOF_INVALID", "The report is not signed by the harness key.", 422, details, {
        cause: err,
      });
    case "AlreadyPaid":
      return conflict("This task has already been paid.", "CONFLICT", details);
    case "ProjectNotActive":
      return conflict("The project is not active on chain.", "CONFLICT", details);
    default:
      return new AppError("INTERNAL", `The escrow refused the payment (${name || "revert"}).`, 500, details, {
        cause: err,
      });
  }
}

/** Whether an error is worth retrying (RPC or network trouble rather than a contract decision). */
export function isTransient(err: unknown): boolean {
  return !(err instanceof AppError);
}

/** Simulates, sends and confirms a release signed by the worker key. Throws mapped AppErrors on revert. */
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
  let request: unknown;
  try {
    ({ request } = await conn.publicClient.simulateContract({
      address: escrow,
      abi: ProjectEscrow.abi,
      functionName: "releasePayment",
      args,
      account: wallet.account,
    }));
  } catch (err) {
    throw escrowError(err);
  }
  const txHash = await wallet.writeContract(request as any);
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
