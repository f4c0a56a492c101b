// From a verified report to money (spec §6.1.7–6.1.8): the harness signed its report when it ran (stored with the
// verification); the payout checks that signature and the report, proves the report meets the task's rule (verified
// off chain before anything is sent), and releases the payment exactly once per task. The payout never signs.
// "Exactly once" holds three ways: the payments row is unique per task, the escrow refuses a second release of a
// task, and before sending the payout checks the chain for an earlier release it may have missed (crash between
// send and record).
import { and, eq, getTableColumns, ne, sql } from "drizzle-orm";
import { type Address, getAddress, type Hex } from "viem";
import { audit } from "../audit/service";
import { type ChainRuntime, requireChain } from "../chain/service";
import { ProjectEscrow } from "../chain/contracts.gen";
import type { AppContext } from "../core/context";
import type { Db } from "../core/db";
import { AppError, conflict, notFound } from "../core/errors";
import { emitEvent } from "../events/service";
import { reportHash, type HarnessDigest } from "../harness/digest";
import { milestones, tasks } from "../milestones/schema";
import { projects } from "../projects/schema";
import { taskVerifications } from "../tasks/schema";
import { latestVerification, markPaymentFailed, markTaskPaid } from "../tasks/service";
import { wallets } from "../users/schema";
import {
  type Attestation,
  attestationFromRecord,
  onChainProjectId,
  onChainTaskId,
  verifyAttestation,
} from "../zk/attestation";
import { type ReportCommitment, reportCommitment } from "../zk/merkle";
import { proveReportAuto } from "../zk/sandbox-prover";
import { type ZkProofData, zkProofs } from "../zk/schema";
import { isTransient, submitRelease } from "./release";
import { type Payment, payments } from "./schema";

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain" | "log"> & {
  config?: { dataDir: string };
};

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

/** A verification's stored report, checked against its signature, the task and the chain, ready to prove. */
export interface SignedVerifiedReport {
  verificationId: string;
  taskId: string;
  scope: { orgId: string; projectId: string };
  report: ReportCommitment;
  attestation: Attestation;
  signature: Hex;
  domain: { chainId: number; escrow: Address };
}

const stale = (why: string) =>
  new AppError("VERIFICATION_STALE", `${why} since the verification ran: verify again.`, 409);
const refused = (why: string) => new AppError("VERIFICATION_FAILED", why, 422);

/**
 * The signed report the harness stored for a verification, as the payout may prove it. Refused unless the
 * verification PASSED (or was FLAKY and approved by a reviewer), is the task's latest (the linked commit that decides) and the task is being paid; the
 * signature recovers to the escrow's harness signer (read from the contract); the attestation is for this
 * project, task, chain and escrow, the claimer's payout wallet and the task's payout amount (VERIFICATION_STALE
 * when the wallet, amount or deployment changed since the run); and the root and rule recomputed from the stored
 * tests, the task's named acceptance tests and the counts equal the signed ones.
 */
export async function reportOfVerification(ctx: Ctx, verificationId: string): Promise<SignedVerifiedReport> {
  const [v] = await ctx.db.select().from(taskVerifications).where(eq(taskVerifications.id, verificationId));
  if (!v) throw notFound("Verification");
  const latest = await latestVerification(ctx.db, v.taskId);
  // FLAKY reaches the payout only through a reviewer's approval, and only with a signed report (tasks/service).
  if ((v.status !== "PASSED" && v.status !== "FLAKY") || latest?.id !== v.id || !v.tests) {
    throw refused("Only the latest passed verification of a task can be paid.");
  }
  const { sub, project } = await taskContext(ctx, v.taskId);
  if (sub.status !== "PAYING" && sub.status !== "PAID") {
    throw conflict("The task is not being paid.", "TASK_STATE_CONFLICT");
  }
  const signed = v.signedReport;
  if (!signed) throw refused("The verification has no report signed by the harness.");
  const rt = await requireChain(ctx);
  if (!rt.deployment) throw new AppError("UNAVAILABLE", "the chain is not set up for payments", 503);
  const domain = { chainId: rt.conn.chain.id, escrow: rt.deployment.escrow };
  if (signed.chainId !== domain.chainId || !sameAddress(signed.escrow, domain.escrow)) {
    throw stale("The escrow contract changed");
  }
  let attestation: Attestation;
  try {
    attestation = attestationFromRecord(signed.attestation);
  } catch (cause) {
    throw new AppError("VERIFICATION_FAILED", "The stored signed report is malformed.", 422, {}, { cause });
  }
  const signature = signed.signature as Hex;
  const harnessSigner = await rt.conn.publicClient.readContract({
    address: domain.escrow,
    abi: ProjectEscrow.abi,
    functionName: "harnessSigner",
  });
  const recovered = await verifyAttestation(attestation, domain, signature).catch(() => undefined);
  if (!recovered || !sameAddress(recovered, harnessSigner)) {
    throw new AppError("PROOF_INVALID", "The stored report is not signed by the escrow's harness signer.", 422);
  }
  if (attestation.projectId !== onChainProjectId(project.id) || attestation.taskId !== onChainTaskId(sub.id)) {
    throw refused("The signed report is for another task.");
  }
  const payee = sub.claimedById ? await payoutAddressOf(ctx, sub.claimedById) : undefined;
  if (!payee) throw new AppError("INVALID_INPUT", "The contributor has no payout wallet.", 422);
  if (!sameAddress(attestation.payee, payee)) throw stale("The contributor's payout wallet changed");
  if (!sub.payoutAmount || attestation.amount !== BigInt(sub.payoutAmount)) throw stale("The task's payout changed");
  if (v.reportHash && attestation.digest !== v.reportHash) throw refused("The signed report is not the stored one.");
  if (v.digest && v.reportHash && reportHash(v.digest as HarnessDigest) !== v.reportHash) {
    throw refused("The stored report does not match its hash.");
  }
  // The root is recomputed from what is stored: a row edited after the run does not match the signature.
  let report: ReportCommitment;
  try {
    // As the harness commits: a flaky test counts as not passed; without base results every failure is new.
    const flaky = new Set(v.flaky ?? []);
    const tests = v.tests.map((t) => ({ id: t.id, passed: t.passed && !flaky.has(t.id) }));
    report = reportCommitment({
      tests,
      named: sub.verification.acceptanceTests ?? [],
      minPassing: Math.max(1, sub.verification.minPassingTests),
      newFailures: v.newFailures ?? tests.filter((t) => !t.passed).length,
    });
  } catch (cause) {
    throw new AppError("VERIFICATION_FAILED", `The stored report is not valid: ${(cause as Error).message}`, 422);
  }
  if (report.ruleHash !== attestation.ruleHash) throw refused("The signed report was checked against another rule.");
  if (report.root !== attestation.root) throw refused("The stored tests do not match the signed report.");
  return {
    verificationId: v.id,
    taskId: v.taskId,
    scope: { orgId: project.orgId, projectId: project.id },
    report,
    attestation,
    signature,
    domain,
  };
}

const sameAddress = (a: string, b: string) => {
  try {
    return getAddress(a) === getAddress(b);
  } catch {
    return false;
  }
};

/**
 * Proves a verification's stored signed report (workflow zk.proof.generate) and stores the proof with everything
 * needed to submit it. Throws VERIFICATION_FAILED if the report does not meet the task's rule, VERIFICATION_STALE
 * when the payee, amount or escrow changed since the run, PROOF_INVALID when the signature is not the harness's.
 */
export async function createPaymentProof(
  ctx: Ctx,
  verificationId: string,
): Promise<{ proofId: string; taskId: string; scope: { orgId: string; projectId: string } }> {
  const signed = await reportOfVerification(ctx, verificationId);
  const { sub, project } = await taskContext(ctx, signed.taskId);
  if (project.state !== "ACTIVE") throw conflict("The project is not funded.", "INSUFFICIENT_FUNDS");
  const a = signed.attestation;
  const proof = await proveReportAuto(
    { report: signed.report, taskId: a.taskId, payee: a.payee, amount: a.amount },
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
    attestation: Object.fromEntries(Object.entries(a).map(([k, v]) => [k, String(v)])),
    signature: signed.signature,
    chainId: signed.domain.chainId,
    escrow: signed.domain.escrow,
  };
  const row = await ctx.db.transaction(async (tx) => {
    const [proof] = await tx
      .insert(zkProofs)
      .values({
        taskId: sub.id,
        chainTaskId: a.taskId.toString(),
        proofData: data,
        root: a.root.toString(),
        digest: a.digest,
      })
      .returning({ id: zkProofs.id });
    await audit(tx as Db, {
      actorId: null,
      action: "payment.proof",
      targetType: "task",
      targetId: sub.id,
      orgId: signed.scope.orgId,
      payload: { proofId: proof!.id, verificationId, chainTaskId: a.taskId.toString(), amount: a.amount.toString() },
    });
    await emitEvent(tx as Db, "zk.proof.created", {
      ...(await taskScope(tx as Db, sub.id)),
      taskId: sub.id,
      proofId: proof!.id,
    });
    return proof;
  });
  return { proofId: row!.id, taskId: sub.id, scope: signed.scope };
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
  return attestationFromRecord(data.attestation);
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
  orgId: string,
): Promise<Payment> {
  if (existing) return existing;
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(payments)
      .values({ ...values, payee: values.payee.toLowerCase(), taskId: proof.taskId, proofId: proof.id })
      .onConflictDoUpdate({ target: payments.taskId, set: { updatedAt: new Date() } })
      .returning({ ...getTableColumns(payments), inserted: sql<boolean>`(xmax = 0)` });
    const { inserted, ...payment } = row!;
    if (inserted) {
      // the payee's address stays in the payments row: the trail names the payment, not the person
      await audit(tx as Db, {
        actorId: null,
        action: "payment.queue",
        targetType: "payment",
        targetId: payment.id,
        orgId,
        payload: { taskId: proof.taskId, proofId: proof.id, amount: values.amount, token: values.tokenAddress },
      });
    }
    return payment;
  });
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
  const payment = await paymentRow(
    ctx,
    existing,
    proof,
    { amount: a.amount.toString(), tokenAddress: project.tokenAddress ?? "native", payee: a.payee },
    project.orgId,
  );

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
    await ctx.db.transaction(async (tx) => {
      await tx
        .update(payments)
        .set({ status: "FAILED", lastError: `${e.code}: ${e.message}`, updatedAt: new Date() })
        .where(eq(payments.id, payment.id));
      await audit(tx as Db, {
        actorId: null,
        action: "payment.fail",
        targetType: "payment",
        targetId: payment.id,
        orgId: project.orgId,
        payload: { taskId: proof.taskId, reason: `${e.code}: ${e.message}`.slice(0, 500) },
      });
    });
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
  await ctx.db.transaction(async (tx) => {
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
      .returning({
        id: payments.id,
        amount: payments.amount,
        payee: payments.payee,
        tokenAddress: payments.tokenAddress,
      });
    await tx.update(zkProofs).set({ status: "VERIFIED", txHash: release.txHash }).where(eq(zkProofs.id, proofId));
    await markTaskPaid(tx, taskId, { txHash: release.txHash, paymentId });
    const done = rows[0];
    // emitted once: only by the call that completed the payment, with that change
    if (done) {
      const scope = await taskScope(tx as Db, taskId);
      await audit(tx as Db, {
        actorId: null,
        action: "payment.release",
        targetType: "payment",
        targetId: paymentId,
        orgId: scope.orgId ?? null,
        payload: {
          taskId,
          proofId,
          txHash: release.txHash,
          amount: done.amount,
          token: done.tokenAddress,
          fee: release.fee.toString(),
          blockNumber:
            release.blockNumber === undefined || release.blockNumber === null ? null : Number(release.blockNumber),
          recoveredFromChain,
        },
      });
      await emitEvent(tx as Db, "payment.completed", {
        ...scope,
        paymentId,
        taskId,
        txHash: release.txHash,
        amount: done.amount,
        payee: done.payee,
        recoveredFromChain,
      });
    }
  });
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
  const payment = await paymentRow(
    ctx,
    existing,
    proof,
    { amount: gross, tokenAddress: project.tokenAddress ?? "native", payee: ev.payee },
    project.orgId,
  );
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

/** The org and project of a task, which scope its events. */
async function taskScope(db: Db, taskId: string) {
  const [row] = await db
    .select({ orgId: projects.orgId, projectId: projects.id })
    .from(tasks)
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(eq(tasks.id, taskId));
  return row ?? {};
}
