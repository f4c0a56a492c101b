// Funding and payouts end to end on a real database (PGlite, and PostgreSQL in CI) and the embedded chain:
// quote → deposit below the quote (not active) → top-up (active) → a verification the harness signed → proof →
// payout once → a release the database missed is found by the event sync after a restart. The payout never
// signs: every signed report here is made with the harness key through signVerificationReport, as the harness
// does, and the payout refuses anything that does not match it.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { asc, eq, inArray } from "drizzle-orm";
import { type Address, type Hex, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import { deployForTest, PAYEE, TEST_CHAINS, type TestChain } from "../../test/support/chain";
import { describeEachDb } from "../../test/support/db";
import { ProjectEscrow } from "../chain/contracts.gen";
import { auditLog } from "../audit/schema";
import { verifyAudit } from "../audit/verify";
import { domainEvents } from "../events/schema";
import type { ChainRuntime } from "../chain/service";
import type { Principal } from "../core/context";
import { log } from "../core/logger";
import { SettingsService } from "../core/settings/service";
import { confirmDeposit, createQuote } from "../funding/service";
import { fundingRecords } from "../funding/schema";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { taskClaims, taskVerifications, taskWorkLinks } from "../tasks/schema";
import { users, wallets } from "../users/schema";
import {
  type Attestation,
  attestationFromRecord,
  onChainProjectId,
  onChainTaskId,
  signVerificationReport,
} from "../zk/attestation";
import { reportCommitment, type TestResult } from "../zk/merkle";
import { zkProofs } from "../zk/schema";
import { submitRelease } from "./release";
import { payments } from "./schema";
import { createPaymentProof, releaseTaskPayment, reportOfVerification } from "./service";
import { syncChainEvents } from "./sync";

let chain: TestChain;
let runtime: ChainRuntime;
beforeAll(async () => {
  chain = await TEST_CHAINS[0]!.start();
  const deployment = await deployForTest(chain);
  runtime = {
    mode: "dev",
    conn: chain.conn,
    deployment,
    workerKey: chain.keys.worker,
    harnessKey: chain.keys.harness,
    confirmations: 0,
    close: async () => {},
  };
});
afterAll(async () => {
  await chain?.stop();
});

// The task's rule names 20 acceptance tests of a 10,000-test suite (every 25th test fails, as at the base commit).
const SUITE: TestResult[] = Array.from({ length: 10_000 }, (_, i) => ({
  id: `pkg/f${i % 60}.test.ts > case ${i}`,
  passed: i % 25 !== 3,
}));
const OTHER_WALLET = "0x0000000000000000000000000000000000000b0b";
const NAMED = SUITE.filter((t) => t.passed)
  .slice(0, 20)
  .map((t) => t.id);

describeEachDb("funding and payouts", (getDb) => {
  // The domain events the services wrote to the outbox (in the transaction of their change).
  const events = async (name: string) =>
    (await getDb().db.select().from(domainEvents).where(eq(domainEvents.name, name))).map((e) => ({
      name: e.name,
      payload: e.payload,
    }));
  // The audit entries of some actions, oldest first.
  const trail = async (...actions: string[]) =>
    getDb().db.select().from(auditLog).where(inArray(auditLog.action, actions)).orderBy(asc(auditLog.seq));
  let ctx: Parameters<typeof createQuote>[0] & Parameters<typeof releaseTaskPayment>[0];
  let principal: Principal;
  let projectId: string;
  let subs: { id: string; points: number }[];
  let claimerId: string;

  beforeAll(async () => {
    const db = getDb().db;
    const settings = new SettingsService(db, randomBytes(32), {});
    await settings.reload();
    ctx = {
      db,
      settings,
      log,
      chain: runtime,
    };
    const [user] = await db
      .insert(users)
      .values({ name: "Sponsor", email: `s-${Date.now()}@example.test` })
      .returning();
    const [org] = await db.insert(orgs).values({ name: "Org" }).returning();
    await db.insert(orgMembers).values({ orgId: org!.id, userId: user!.id, role: "OWNER" });
    principal = { userId: user!.id, name: "Sponsor", isAdmin: false, via: "session" };
    // the wallet the sponsor proved with SIWE: quoting registers it as the only one the escrow takes deposits from
    await db.insert(wallets).values({
      userId: user!.id,
      address: privateKeyToAddress(chain.keys.sponsor),
      chainId: "31337",
      isPayout: false,
      siweMessage: "test",
      signature: "0x",
    });
    const [project] = await db
      .insert(projects)
      .values({ orgId: org!.id, title: "P", tokenDecimals: 18, structureApprovedAt: new Date() })
      .returning();
    projectId = project!.id;
    const [claimer] = await db
      .insert(users)
      .values({ name: "Contributor", email: `c-${Date.now()}@example.test` })
      .returning();
    claimerId = claimer!.id;
    await db.insert(wallets).values({
      userId: claimerId,
      address: PAYEE,
      chainId: "31337",
      isPayout: true,
      siweMessage: "test",
      signature: "0x",
    });
    const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 50, position: 0 }).returning();
    subs = await db
      .insert(tasks)
      .values(
        [
          { milestoneId: m!.id, projectId, title: "a", points: 30, position: 0 },
          { milestoneId: m!.id, projectId, title: "b", points: 20, position: 1 },
        ].map((t) => ({
          ...t,
          claimedById: claimerId,
          verification: { minPassingTests: 20, testCommand: "bun test", rules: [], acceptanceTests: NAMED },
        })),
      )
      .returning({ id: tasks.id, points: tasks.points });
  });

  const deposit = async (amount: bigint): Promise<Hex> => {
    const sponsor = chain.conn.wallet(chain.keys.sponsor);
    const hash = await sponsor.writeContract({
      address: runtime.deployment!.escrow,
      abi: ProjectEscrow.abi,
      functionName: "deposit",
      args: [onChainProjectId(projectId), zeroAddress, amount],
      value: amount,
    });
    await chain.conn.publicClient.waitForTransactionReceipt({ hash });
    return hash;
  };

  /**
   * A PASSED verification of a task as the harness stores it: the tests, the counts and the report the harness key
   * signed (through signVerificationReport, the harness's own function) for the claimer's wallet and the payout.
   */
  const verified = async (
    taskId: string,
    tests: TestResult[],
    opts: { newFailures?: number; key?: Hex; edit?: (a: Attestation) => Attestation; flaky?: string[] } = {},
  ) => {
    const db = getDb().db;
    const [task] = await db.select().from(tasks).where(eq(tasks.id, taskId));
    await db.update(tasks).set({ status: "PAYING" }).where(eq(tasks.id, taskId));
    // the harness signs flaky tests as not passed
    const flaky = new Set(opts.flaky ?? []);
    const signedTests = tests.map((t) => ({ ...t, passed: t.passed && !flaky.has(t.id) }));
    const report = reportCommitment({
      tests: signedTests,
      named: NAMED,
      minPassing: 20,
      newFailures: opts.newFailures ?? 0,
    });
    const digest = `0x${randomBytes(32).toString("hex")}` as Hex;
    const base: Attestation = {
      projectId: onChainProjectId(projectId),
      taskId: onChainTaskId(taskId),
      payee: PAYEE,
      amount: BigInt(task!.payoutAmount!),
      root: report.root,
      ruleHash: report.ruleHash,
      digest,
    };
    const attestation = opts.edit ? opts.edit(base) : base;
    const signedReport = await signVerificationReport(
      attestation,
      { chainId: runtime.conn.chain.id, escrow: runtime.deployment!.escrow },
      opts.key ?? chain.keys.harness,
    );
    const [claim] = await db
      .insert(taskClaims)
      .values({ taskId, userId: claimerId, expiresAt: new Date(Date.now() + 86_400_000) })
      .onConflictDoNothing()
      .returning();
    const claimId = claim?.id ?? (await db.select().from(taskClaims).where(eq(taskClaims.taskId, taskId)))[0]!.id;
    const commit = randomBytes(20).toString("hex");
    const [link] = await db
      .insert(taskWorkLinks)
      .values({ taskId, claimId, kind: "branch", repoUrl: "https://example.test/r.git", branch: "work", commit })
      .returning();
    const [v] = await db
      .insert(taskVerifications)
      .values({
        taskId,
        claimId,
        workLinkId: link!.id,
        commit,
        status: opts.flaky ? "FLAKY" : "PASSED",
        flaky: opts.flaky ?? null,
        reportHash: digest,
        tests,
        passedCount: report.summary.passedCount,
        failedCount: report.summary.failedCount,
        newFailures: report.summary.newFailures,
        signedReport,
        finishedAt: new Date(),
      })
      .returning();
    return v!;
  };

  test("quote: 50 points × $50 at $3,000/ETH, exact wei, payouts add up", async () => {
    const q = await createQuote(ctx, principal, projectId);
    expect(q.totalPoints).toBe(50);
    expect(q.usdCents).toBe("250000");
    expect(q.price.answer).toBe("300000000000");
    // $2,500 / $3,000 = 0.8333… ETH, rounded up to the wei
    expect(q.amount).toBe("833333333333333334");
    expect(q.deposit.value).toBe(q.amount);
    expect(q.deposit.projectKey).toBe(onChainProjectId(projectId));
    expect(q.sponsorWallet).toBe(privateKeyToAddress(chain.keys.sponsor));
    // an outsider depositing first cannot take the project: the escrow refuses everyone but that wallet
    const outsider = chain.conn.wallet(chain.keys.contributor);
    await expect(
      outsider.writeContract({
        address: runtime.deployment!.escrow,
        abi: ProjectEscrow.abi,
        functionName: "deposit",
        args: [onChainProjectId(projectId), zeroAddress, 1n],
        value: 1n,
      }),
    ).rejects.toThrow(/NotSponsor/);
    await expect(createQuote(ctx, null, projectId)).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  test("a deposit below the quote does not activate the project (DEPOSIT_NOT_CONFIRMED); a top-up does", async () => {
    const small = await deposit(500_000_000_000_000_000n);
    await expect(confirmDeposit(ctx, principal, projectId, small)).rejects.toMatchObject({
      code: "DEPOSIT_NOT_CONFIRMED",
      details: { deposited: "500000000000000000", required: "833333333333333334" },
    });
    const db = getDb().db;
    expect((await db.select().from(projects).where(eq(projects.id, projectId)))[0]!.state).toBe("DRAFT");
    await expect(confirmDeposit(ctx, principal, projectId, `0x${"ab".repeat(32)}`)).rejects.toMatchObject({
      code: "DEPOSIT_NOT_CONFIRMED",
    });

    const topUp = await deposit(333_333_333_333_333_334n);
    const funded = await confirmDeposit(ctx, principal, projectId, topUp);
    expect(funded).toMatchObject({
      state: "ACTIVE",
      totalDeposited: "833333333333333334",
      required: "833333333333333334",
    });
    // confirming again is harmless: the record is kept once and project.funded is not emitted twice
    await confirmDeposit(ctx, principal, projectId, topUp);
    expect(await db.select().from(fundingRecords).where(eq(fundingRecords.projectId, projectId))).toHaveLength(2);
    expect(await events("project.funded")).toHaveLength(1);
    // the audit chain holds the quote, each deposit once (tx, amount, token), and the activation
    const deposits = await trail("funding.deposit");
    expect(deposits.map((e) => e.payload)).toEqual([
      expect.objectContaining({ projectId, txHash: small, amount: "500000000000000000", token: "native" }),
      expect.objectContaining({ projectId, txHash: topUp, amount: "333333333333333334", token: "native" }),
    ]);
    expect(deposits.map((e) => e.actorId)).toEqual([principal.userId, principal.userId]);
    expect((await trail("funding.quote")).length).toBeGreaterThanOrEqual(1);
    expect((await trail("funding.activate")).map((e) => e.payload)).toEqual([
      expect.objectContaining({ txHash: topUp, deposited: "833333333333333334" }),
    ]);
    expect((await verifyAudit(db)).ok).toBe(true);
    const rows = await db.select().from(tasks).where(eq(tasks.projectId, projectId));
    const payouts = rows.map((r) => BigInt(r.payoutAmount!));
    expect(payouts.reduce((a, b) => a + b, 0n)).toBe(833_333_333_333_333_334n);
  });

  test("a report of 10,000 tests whose 20 named tests passed is proven and paid exactly once", async () => {
    const v = await verified(subs[0]!.id, SUITE);
    const { proofId } = await createPaymentProof(ctx, v.id);
    const before = await chain.conn.publicClient.getBalance({ address: PAYEE });
    const first = await releaseTaskPayment(ctx, proofId);
    expect(first.status).toBe("COMPLETED");
    const again = await releaseTaskPayment(ctx, proofId);
    expect(again.txHash).toBe(first.txHash);
    const gross = 500_000_000_000_000_000n; // 30/50 of the quote
    const fee = (gross * 250n) / 10_000n;
    expect((await chain.conn.publicClient.getBalance({ address: PAYEE })) - before).toBe(gross - fee);
    const db = getDb().db;
    const [p] = await db.select().from(payments).where(eq(payments.taskId, subs[0]!.id));
    expect(p).toMatchObject({
      status: "COMPLETED",
      amount: gross.toString(),
      fee: fee.toString(),
      txHash: first.txHash,
    });
    expect(await events("payment.completed")).toHaveLength(1);
    // proof made, payment queued, released with its tx hash: one chain entry each, none naming the payee's wallet
    const money = await trail("payment.proof", "payment.queue", "payment.release");
    expect(money.map((e) => e.action)).toEqual(["payment.proof", "payment.queue", "payment.release"]);
    expect(money[0]!.payload).toMatchObject({ proofId, verificationId: v.id, amount: gross.toString() });
    expect(money[2]).toMatchObject({ targetId: p!.id, actorId: null });
    expect(money[2]!.payload).toMatchObject({
      taskId: subs[0]!.id,
      txHash: first.txHash,
      amount: gross.toString(),
      fee: fee.toString(),
      token: "native",
      recoveredFromChain: false,
    });
    expect(JSON.stringify(money).toLowerCase()).not.toContain(PAYEE.toLowerCase().slice(2));
    expect((await verifyAudit(db)).ok).toBe(true);
  }, 120_000);

  test("a failed named test, a new failure, a foreign signature, a changed report or payee is not proven", async () => {
    const b = subs[1]!.id;
    const failedNamed = SUITE.map((t) => (t.id === NAMED[7] ? { ...t, passed: false } : t));
    await expect(createPaymentProof(ctx, (await verified(b, failedNamed)).id)).rejects.toMatchObject({
      code: "VERIFICATION_FAILED",
      message: expect.stringContaining(NAMED[7]!),
    });
    await expect(createPaymentProof(ctx, (await verified(b, SUITE, { newFailures: 2 })).id)).rejects.toMatchObject({
      code: "VERIFICATION_FAILED",
      message: expect.stringContaining("did not fail at the base commit"),
    });
    // a named test deleted from the suite counts as not passed
    const deleted = SUITE.filter((t) => t.id !== NAMED[3]);
    await expect(createPaymentProof(ctx, (await verified(b, deleted)).id)).rejects.toMatchObject({
      code: "VERIFICATION_FAILED",
    });
    // signed by another key than the escrow's harness signer
    await expect(
      createPaymentProof(ctx, (await verified(b, SUITE, { key: generatePrivateKey() })).id),
    ).rejects.toMatchObject({ code: "PROOF_INVALID" });
    // signed for another payee: the contributor's payout wallet is not what was signed
    const other = "0x000000000000000000000000000000000000dEaD" as Address;
    await expect(
      createPaymentProof(ctx, (await verified(b, SUITE, { edit: (a) => ({ ...a, payee: other }) })).id),
    ).rejects.toMatchObject({ code: "VERIFICATION_STALE", status: 409 });
    // signed against a weaker rule (no named tests)
    const weaker = reportCommitment({ tests: SUITE, named: [], minPassing: 20, newFailures: 0 });
    await expect(
      createPaymentProof(
        ctx,
        (await verified(b, SUITE, { edit: (a) => ({ ...a, root: weaker.root, ruleHash: weaker.ruleHash }) })).id,
      ),
    ).rejects.toMatchObject({ code: "VERIFICATION_FAILED", message: expect.stringContaining("another rule") });
    // a flaky verdict a reviewer approved: its signed report counts flaky tests as not passed, as the payout does
    const flakyOther = SUITE.find((t) => t.passed && !NAMED.includes(t.id))!.id;
    const approvedFlaky = await verified(b, SUITE, { flaky: [flakyOther] });
    expect((await reportOfVerification(ctx, approvedFlaky.id)).report.summary.failedCount).toBe(
      SUITE.filter((t) => !t.passed).length + 1,
    );
    await expect(createPaymentProof(ctx, (await verified(b, SUITE, { flaky: [NAMED[5]!] })).id)).rejects.toMatchObject({
      code: "VERIFICATION_FAILED",
      message: expect.stringContaining(NAMED[5]!),
    });
    // the stored tests edited after the run no longer match the signed root
    const v = await verified(b, SUITE);
    const db = getDb().db;
    const edited = SUITE.map((t) => ({ ...t, passed: true }));
    await db.update(taskVerifications).set({ tests: edited }).where(eq(taskVerifications.id, v.id));
    await expect(createPaymentProof(ctx, v.id)).rejects.toMatchObject({
      code: "VERIFICATION_FAILED",
      message: expect.stringContaining("do not match the signed report"),
    });
    // an older verification is not the one that decides
    const older = await verified(b, SUITE);
    await verified(b, SUITE);
    await expect(createPaymentProof(ctx, older.id)).rejects.toMatchObject({ code: "VERIFICATION_FAILED" });
    // the payee's wallet changed since the run: verify again
    const current = await verified(b, SUITE);
    await db.update(wallets).set({ isPayout: false }).where(eq(wallets.userId, claimerId));
    await db.insert(wallets).values({
      userId: claimerId,
      address: OTHER_WALLET,
      chainId: "31337",
      isPayout: true,
      siweMessage: "test",
      signature: "0x",
    });
    try {
      await expect(createPaymentProof(ctx, current.id)).rejects.toMatchObject({
        code: "VERIFICATION_STALE",
        message: expect.stringContaining("verify again"),
      });
    } finally {
      await db.delete(wallets).where(eq(wallets.address, OTHER_WALLET));
      await db.update(wallets).set({ isPayout: true }).where(eq(wallets.userId, claimerId));
    }
  }, 120_000);

  test("a release the database never recorded is found by the event sync after a restart", async () => {
    const v = await verified(subs[1]!.id, SUITE);
    const { proofId } = await createPaymentProof(ctx, v.id);
    // the worker sent the release, then the process died before writing anything
    const db = getDb().db;
    const [proof] = await db.select().from(zkProofs).where(eq(zkProofs.id, proofId));
    const data = proof!.proofData;
    const a = attestationFromRecord(data.attestation);
    const cd = {
      a: data.calldata.a.map(BigInt),
      b: data.calldata.b.map((r) => r.map(BigInt)),
      c: data.calldata.c.map(BigInt),
    } as any;
    const sent = await submitRelease(
      chain.conn,
      runtime.deployment!.escrow,
      chain.keys.worker,
      a,
      data.signature as Hex,
      cd,
    );
    expect(await db.select().from(payments).where(eq(payments.taskId, subs[1]!.id))).toHaveLength(0);

    // "restart": a fresh context over the same database and chain, then the sync job's pass
    const restarted = { ...ctx };
    const pass = await syncChainEvents(restarted);
    expect(pass.paymentsRecovered).toBe(1);
    const [p] = await db.select().from(payments).where(eq(payments.taskId, subs[1]!.id));
    expect(p).toMatchObject({ status: "COMPLETED", txHash: sent.txHash });
    expect((await events("payment.completed")).filter((e) => e.payload.recoveredFromChain)).toHaveLength(1);
    // a second pass changes nothing, and the payout job sees the task as paid without sending again
    expect((await syncChainEvents(restarted)).paymentsRecovered).toBe(0);
    expect((await releaseTaskPayment(restarted, proofId)).txHash).toBe(sent.txHash);
  }, 120_000);

  test("a release the escrow refuses marks the payment failed, and the chain records the reason", async () => {
    const db = getDb().db;
    // every deposit is paid out: a further task's release finds the escrow empty for this project
    await db.update(projects).set({ state: "ACTIVE" }).where(eq(projects.id, projectId));
    const [m] = await db.select().from(milestones).where(eq(milestones.projectId, projectId));
    const [extra] = await db
      .insert(tasks)
      .values({
        milestoneId: m!.id,
        projectId,
        title: "c",
        points: 1,
        position: 2,
        claimedById: claimerId,
        payoutAmount: "1000",
        verification: { minPassingTests: 20, testCommand: "bun test", rules: [], acceptanceTests: NAMED },
      })
      .returning();
    const { proofId } = await createPaymentProof(ctx, (await verified(extra!.id, SUITE)).id);
    const refused = await releaseTaskPayment(ctx, proofId).then(
      () => null,
      (e: { code?: string }) => e,
    );
    expect(refused?.code).toBe("INSUFFICIENT_FUNDS");
    const [p] = await db.select().from(payments).where(eq(payments.taskId, extra!.id));
    expect(p).toMatchObject({ status: "FAILED" });
    const failed = (await trail("payment.queue", "payment.fail")).filter((e) => e.targetId === p!.id);
    expect(failed.map((e) => e.action)).toEqual(["payment.queue", "payment.fail"]);
    expect(failed[1]!.payload).toEqual({ taskId: extra!.id, reason: p!.lastError });
    expect(p!.lastError).toStartWith("INSUFFICIENT_FUNDS");
    expect((await verifyAudit(db)).ok).toBe(true);
  }, 120_000);
});
