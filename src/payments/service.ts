// From a verified report to money (spec §6.1.7–6.1.8): the harness key attests the report for the task's payee
// and amount, the prover proves it (verified off chain before anything is sent), and the payout releases the
// payment exactly once per task. "Exactly once" holds three ways: the payments row is unique per task,
// the escrow refuses a second release of a task, and before sending the payout checks the chain for an earlier
// release it may have missed (crash between send and record).
import { and, eq, ne } from "drizzle-orm";
import type { Address, Hex } from "viem";
import { type ChainRuntime, requireChain } from "../chain/service";
import { ProjectEscrow } from "../chain/contracts.gen";
import type { AppContext } from "../core/context";
import { AppError, conflict, notFound } from "../core/errors";
import { milestones, tasks } from "../milestones/schema";
import { projects } from "../projects/schema";
import { wallets } from "../users/schema";
import { type Attestation, onChainProjectId, onChainTaskId, signAttestation } from "../zk/attestation";
import { merkleRoot, reportLeaves, type TestResult } from "../zk/merkle";
import { proveReportAuto } from "../zk/sandbox-prover";
import { type ZkProofData, zkProofs } from "../zk/schema";
import { isTransient, submitRelease } from "./release";
import { type Payment, payments } from "./schema";
import { digestForSigning, type HarnessDigest } from "../harness/digest";
import { taskVerifications } from "../tasks/schema";
import { latestVerification, markPaymentFailed, markTaskPaid } from "../tasks/service";

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain" | "events" | "log"> & {
  config?: { dataDir: string };
};

/** A verified report of one task, as the harness produced it. */
export interface VerifiedReport {
  taskId: string;
  tests: TestResult[];
  /** The report's Merkle root as the harness computed it (checked against `tests`). */
  root: bigint;
  /** sha256 of the canonical digest JSON, 0x-prefixed. */
  digest: Hex;
  /** The payout address; by default the claimer's payout wallet. */
  payee?: Address;
  minPassing: number;
}

async function taskContext(ctx: Ctx, taskId: string) {
  const [row] = await ctx.db
    .select({ sub: tasks, project: projects })
    .from(tasks)
    .innerJoin(milestones, eq(tasks.milestoneId, milestones.id))
    .innerJoin(projects, eq(milestones.projectId, projects.id))
    .where(eq(tasks.id, taskId))
    .limit(1);
  if (!row) throw notFound("Task");
  return row;
}

/**
 * The report the harness stored for a task's verification, as the payout proves it. Refused unless it PASSED, is
 * the task's latest verification (the linked commit that decides) and the task is being paid.
 */
export async function reportOfVerification(
  ctx: Ctx,
  verificationId: string,
): Promise<VerifiedReport & { scope: { orgId: string; projectId: string } }> {
  const [v] = await ctx.db.select().from(taskVerifications).where(eq(taskVerifications.id, verificationId));
  if (!v) throw notFound("Verification");
  const latest = await latestVerification(ctx.db, v.taskId);
  if (v.status !== "PASSED" || latest?.id !== v.id || !v.tests || !v.digest || !v.reportHash) {
    throw new AppError("VERIFICATION_FAILED", "Only the latest passed verification of a task can be paid.", 422);
  }
  const { sub, project } = await taskContext(ctx, v.taskId);
  if (sub.status !== "PAYING" && sub.status !== "PAID") {
    throw conflict("The task is not being paid.", "TASK_STATE_CONFLICT");
  }
  // The root and report hash are recomputed from the stored digest: a row edited after the run does not match.
  const signed = digestForSigning(v.digest as HarnessDigest);
  if (signed.digest !== v.reportHash) {
    throw new AppError("VERIFICATION_FAILED", "The stored report does not match its hash.", 422);
  }
  return {
    taskId: v.taskId,
    tests: v.tests,
    root: signed.root,
    digest: signed.digest,
    minPassing: sub.verification.minPassingTests,
    scope: { orgId: project.orgId, projectId: project.id },
  };
}

/**
 * Attests and proves a verified report (workflow zk.proof.generate): stores the proof with everything needed
 * to submit it and returns its id. Throws VERIFICATION_FAILED if the report does not meet the task's rule.
 */
export async function createPaymentProof(ctx: Ctx, report: VerifiedReport): Promise<string> {
  const rt = await requireChain(ctx);
  if (!rt.harnessKey || !rt.deployment) throw new AppError("UNAVAILABLE", "the chain is not set up for payments", 503);
  const { sub, project } = await taskContext(ctx, report.taskId);
  if (project.state !== "ACTIVE") throw conflict("The project is not funded.", "INSUFFICIENT_FUNDS");
  if (!sub.payoutAmount || BigInt(sub.payoutAmount) <= 0n)
    throw conflict("The task has no payout amount.", "INSUFFICIENT_FUNDS");
  const payee = report.payee ?? (sub.claimedById ? await payoutAddressOf(ctx, sub.claimedById) : undefined);
  if (!payee) throw new AppError("INVALID_INPUT", "The contributor has no payout wallet.", 422);
  if (merkleRoot(reportLeaves(report.tests)) !== report.root) {
    throw new AppError("VERIFICATION_FAILED", "the report's tests do not hash to its root", 422);
  }
  const attestation: Attestation = {
    projectId: onChainProjectId(project.id),
    taskId: onChainTaskId(sub.id),
    payee,
    amount: BigInt(sub.payoutAmount),
    root: report.root,
    minPassing: BigInt(report.minPassing),
    digest: report.digest,
  };
  const domain = { chainId: rt.conn.chain.id, escrow: rt.deployment.escrow };
  const signature = await signAttestation(attestation, domain, rt.harnessKey);
  const proof = await proveReportAuto(
    {
      tests: report.tests,
      taskId: attestation.taskId,
      payee,
      amount: attestation.amount,
      minPassing: report.minPassing,
    },
    report.root,
    {
      dataDir: ctx.config?.dataDir,
      onFallback: (reason) => ctx.log.warn("prover sandbox failed; proving in process", { reason }),
    },
  );
  const data: ZkProofData = {
    proof: proof.proof,
    publicSignals: proof.publicSignals,
    calldata: {
      a: proof.calldata.a.map(String),
      b: proof.calldata.b.map((r) => r.map(String)),
      c: proof.calldata.c.map(String),
    },
    attestation: Object.fromEntries(Object.entries(attestation).map(([k, v]) => [k, String(v)])),
    signature,
    chainId: domain.chainId,
    escrow: domain.escrow,
  };
  const [row] = await ctx.db
    .insert(zkProofs)
    .values({
      taskId: sub.id,
      chainTaskId: attestation.taskId.toString(),
      proofData: data,
      root: report.root.toString(),
      digest: report.digest,
    })
    .returning({ id: zkProofs.id });
  await emit(ctx, "zk.proof.created", { taskId: sub.id, proofId: row!.id });
  return row!.id;
}

/** The user's payout address (the wallet marked for payouts), if any. */
export async function payoutAddressOf(ctx: Ctx, userId: string): Promise<Address | undefined> {
  const [w] = await ctx.db
    .select({ address: wallets.address })
    .from(wallets)
    .where(and(eq(wallets.userId, userId), eq(wallets.isPayout, true)))
    .limit(1);
  return w?.address as Address | undefined;
}

function attestationFrom(data: ZkProofData): Attestation {
  const a = data.attestation;
  return {
    projectId: a.projectId as Hex,
    taskId: BigInt(a.taskId!),
    payee: a.payee as Address,
    amount: BigInt(a.amount!),
    root: BigInt(a.root!),
    minPassing: BigInt(a.minPassing!),
    digest: a.digest as Hex,
  };
}

/** Outcome of a payout run. */
export interface PayoutResult {
  paymentId: string;
  status: "COMPLETED";
  txHash: string;
  recoveredFromChain: boolean;
}

/** The task's payment row: the one already there, or a new one (unique per task, so a concurrent insert is reused). */
async function paymentRow(
  ctx: Ctx,
  existing: Payment | undefined,
  proof: { id: string; taskId: string },
  values: { amount: string; tokenAddress: string; payee: string },
): Promise<Payment> {
  if (existing) return existing;
  const [row] = await ctx.db
    .insert(payments)
    .values({ ...values, payee: values.payee.toLowerCase(), taskId: proof.taskId, proofId: proof.id })
    .onConflictDoUpdate({ target: payments.taskId, set: { updatedAt: new Date() } })
    .returning();
  return row!;
}

/**
 * Releases the payment of a proven task (workflow payment.release). Safe to run any number of times: a task is
 * paid once. Transient chain errors are rethrown for the job queue to retry; a refusal by the contract marks the
 * payment FAILED and throws its AppError (INSUFFICIENT_FUNDS, PROOF_INVALID, …).
 */
export async function releaseTaskPayment(ctx: Ctx, proofId: string): Promise<PayoutResult> {
  const rt = await requireChain(ctx);
  const [proof] = await ctx.db.select().from(zkProofs).where(eq(zkProofs.id, proofId));
  if (!proof) throw notFound("Proof");
  const a = attestationFrom(proof.proofData);
  const [existing] = await ctx.db.select().from(payments).where(eq(payments.taskId, proof.taskId));
  if (existing?.status === "COMPLETED") {
    return { paymentId: existing.id, status: "COMPLETED", txHash: existing.txHash!, recoveredFromChain: false };
  }
  const { project } = await taskContext(ctx, proof.taskId);
  const payment = await paymentRow(ctx, existing, proof, {
    amount: a.amount.toString(),
    tokenAddress: project.tokenAddress ?? "native",
    payee: a.payee,
  });

  // Paid on chain already (an earlier run sent it and died before recording)? Record that release instead.
  const onChain = await findRelease(rt, a.taskId);
  if (onChain) return complete(ctx, payment.id, proof.id, proof.taskId, onChain, true);

  const escrow = rt.deployment?.escrow;
  if (!escrow || !rt.workerKey) throw new AppError("UNAVAILABLE", "the chain is not set up for payments", 503);
  const data = proof.proofData;
  const calldata = {
    a: data.calldata.a.map(BigInt) as [bigint, bigint],
    b: data.calldata.b.map((r) => r.map(BigInt)) as [[bigint, bigint], [bigint, bigint]],
    c: data.calldata.c.map(BigInt) as [bigint, bigint],
  };
  await ctx.db.update(payments).set({ status: "SUBMITTED", updatedAt: new Date() }).where(eq(payments.id, payment.id));
  try {
    const r = await submitRelease(rt.conn, escrow, rt.workerKey, a, data.signature as Hex, calldata, {
      confirmations: Math.max(1, rt.confirmations),
    });
    return complete(
      ctx,
      payment.id,
      proof.id,
      proof.taskId,
      { txHash: r.txHash, fee: r.fee, blockNumber: r.blockNumber },
      false,
    );
  } catch (err) {
    if (isTransient(err)) throw err;
    const e = err as AppError;
    await ctx.db
      .update(payments)
      .set({ status: "FAILED", lastError: `${e.code}: ${e.message}`, updatedAt: new Date() })
      .where(eq(payments.id, payment.id));
    if (e.code !== "INSUFFICIENT_FUNDS")
      await ctx.db.update(zkProofs).set({ status: "FAILED" }).where(eq(zkProofs.id, proof.id));
    await markPaymentFailed(ctx.db, proof.taskId, `${e.code}: ${e.message}`);
    throw e;
  }
}

/** The PaymentReleased event of a task on chain, if it was released. */
export async function findRelease(
  rt: ChainRuntime,
  taskId: bigint,
): Promise<{ txHash: Hex; fee: bigint; blockNumber: bigint | null } | undefined> {
  const escrow = rt.deployment?.escrow;
  if (!escrow) return undefined;
  const paid = await rt.conn.publicClient.readContract({
    address: escrow,
    abi: ProjectEscrow.abi,
    functionName: "paid",
    args: [taskId],
  });
  if (!paid) return undefined;
  const logs = await rt.conn.publicClient.getContractEvents({
    address: escrow,
    abi: ProjectEscrow.abi,
    eventName: "PaymentReleased",
    args: { taskId },
    fromBlock: BigInt(rt.deployment?.deployBlock ?? 0),
  });
  const log = logs[0];
  return log ? { txHash: log.transactionHash, fee: log.args.fee!, blockNumber: log.blockNumber } : undefined;
}

async function complete(
  ctx: Ctx,
  paymentId: string,
  proofId: string,
  taskId: string,
  release: { txHash: Hex; fee: bigint; blockNumber?: bigint | null },
  recoveredFromChain: boolean,
): Promise<PayoutResult> {
  const now = new Date();
  const updated = await ctx.db.transaction(async (tx) => {
    const rows = await tx
      .update(payments)
      .set({
        status: "COMPLETED",
        txHash: release.txHash,
        fee: release.fee.toString(),
        blockNumber:
          release.blockNumber === undefined || release.blockNumber === null ? null : Number(release.blockNumber),
        releasedAt: now,
        lastError: null,
        updatedAt: now,
      })
      .where(and(eq(payments.id, paymentId), ne(payments.status, "COMPLETED")))
      .returning({ id: payments.id, amount: payments.amount, payee: payments.payee });
    await tx.update(zkProofs).set({ status: "VERIFIED", txHash: release.txHash }).where(eq(zkProofs.id, proofId));
    await markTaskPaid(tx, taskId, { txHash: release.txHash, paymentId });
    return rows[0];
  });
  if (updated) {
    await emit(ctx, "payment.completed", {
      paymentId,
      taskId,
      txHash: release.txHash,
      amount: updated.amount,
      payee: updated.payee,
      recoveredFromChain,
    });
  }
  return { paymentId, status: "COMPLETED", txHash: release.txHash, recoveredFromChain };
}

/**
 * Records a PaymentReleased event found by the chain sync (spec §10.5.4: a payment whose event was missed is
 * found and recorded later). Returns true when it completed a payment the database did not know was paid.
 */
export async function recordReleaseEvent(
  ctx: Ctx,
  ev: { taskId: string; txHash: Hex; fee: string; payee: string; amount: string; blockNumber?: bigint },
) {
  const [proof] = await ctx.db.select().from(zkProofs).where(eq(zkProofs.chainTaskId, ev.taskId)).limit(1);
  if (!proof) {
    ctx.log.warn("payment released on chain for an unknown task", { taskId: ev.taskId, txHash: ev.txHash });
    return false;
  }
  const [existing] = await ctx.db.select().from(payments).where(eq(payments.taskId, proof.taskId));
  if (existing?.status === "COMPLETED") return false;
  const { project } = await taskContext(ctx, proof.taskId);
  const gross = (BigInt(ev.amount) + BigInt(ev.fee)).toString();
  const payment = await paymentRow(ctx, existing, proof, {
    amount: gross,
    tokenAddress: project.tokenAddress ?? "native",
    payee: ev.payee,
  });
  await complete(
    ctx,
    payment.id,
    proof.id,
    proof.taskId,
    { txHash: ev.txHash, fee: BigInt(ev.fee), blockNumber: ev.blockNumber },
    true,
  );
  return true;
}

async function emit(ctx: Ctx, name: string, payload: Record<string, unknown>) {
  await ctx.events?.emit(name, payload);
}
