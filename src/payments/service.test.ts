// Funding and payouts end to end on a real database (PGlite, and PostgreSQL in CI) and the embedded chain:
// quote → deposit below the quote (not active) → top-up (active) → proof → payout once → a release the
// database missed is found by the event sync after a restart.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { type Address, type Hex, zeroAddress } from "viem";
import { deployForTest, PAYEE, TEST_CHAINS, type TestChain } from "../../test/support/chain";
import { describeEachDb } from "../../test/support/db";
import { ProjectEscrow } from "../chain/contracts.gen";
import type { ChainRuntime } from "../chain/service";
import type { Principal } from "../core/context";
import { log } from "../core/logger";
import { SettingsService } from "../core/settings/service";
import { confirmDeposit, createQuote } from "../funding/service";
import { fundingRecords } from "../funding/schema";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { users } from "../users/schema";
import { onChainProjectId, signAttestation } from "../zk/attestation";
import { merkleRoot, reportLeaves } from "../zk/merkle";
import { zkProofs } from "../zk/schema";
import { submitRelease } from "./release";
import { payments } from "./schema";
import { createPaymentProof, releaseTaskPayment } from "./service";
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

describeEachDb("funding and payouts", (getDb) => {
  const events: { name: string; payload: Record<string, unknown> }[] = [];
  let ctx: Parameters<typeof createQuote>[0] & Parameters<typeof releaseTaskPayment>[0];
  let principal: Principal;
  let projectId: string;
  let subs: { id: string; points: number }[];

  beforeAll(async () => {
    const db = getDb().db;
    const settings = new SettingsService(db, randomBytes(32), {});
    await settings.reload();
    ctx = {
      db,
      settings,
      log,
      chain: runtime,
      events: { emit: async (name: string, payload: Record<string, unknown>) => void events.push({ name, payload }) },
    };
    const [user] = await db
      .insert(users)
      .values({ name: "Sponsor", email: `s-${Date.now()}@example.test` })
      .returning();
    const [org] = await db.insert(orgs).values({ name: "Org" }).returning();
    await db.insert(orgMembers).values({ orgId: org!.id, userId: user!.id, role: "OWNER" });
    principal = { userId: user!.id, name: "Sponsor", isAdmin: false, via: "session" };
    const [project] = await db
      .insert(projects)
      .values({ orgId: org!.id, title: "P", tokenDecimals: 18, structureApprovedAt: new Date() })
      .returning();
    projectId = project!.id;
    const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 50, position: 0 }).returning();
    subs = await db
      .insert(tasks)
      .values([
        { milestoneId: m!.id, projectId, title: "a", points: 30, position: 0 },
        { milestoneId: m!.id, projectId, title: "b", points: 20, position: 1 },
      ])
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

  test("quote: 50 points × $50 at $3,000/ETH, exact wei, payouts add up", async () => {
    const q = await createQuote(ctx, principal, projectId);
    expect(q.totalPoints).toBe(50);
    expect(q.usdCents).toBe("250000");
    expect(q.price.answer).toBe("300000000000");
    // $2,500 / $3,000 = 0.8333… ETH, rounded up to the wei
    expect(q.amount).toBe("833333333333333334");
    expect(q.deposit.value).toBe(q.amount);
    expect(q.deposit.projectKey).toBe(onChainProjectId(projectId));
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
    expect(events.filter((e) => e.name === "project.funded")).toHaveLength(1);
    const rows = await db.select().from(tasks).where(eq(tasks.projectId, projectId));
    const payouts = rows.map((r) => BigInt(r.payoutAmount!));
    expect(payouts.reduce((a, b) => a + b, 0n)).toBe(833_333_333_333_333_334n);
  });

  test("a verified task is paid exactly once", async () => {
    const tests = [1, 2, 3].map((i) => ({ id: `t${i}`, passed: true }));
    const proofId = await createPaymentProof(ctx, {
      taskId: subs[0]!.id,
      tests,
      root: merkleRoot(reportLeaves(tests)),
      digest: `0x${"01".repeat(32)}`,
      payee: PAYEE,
      minPassing: 2,
    });
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
    expect(events.filter((e) => e.name === "payment.completed")).toHaveLength(1);
    const failing = [{ id: "x", passed: false }];
    await expect(
      createPaymentProof(ctx, {
        taskId: subs[1]!.id,
        tests: failing,
        root: merkleRoot(reportLeaves(failing)),
        digest: `0x${"02".repeat(32)}`,
        payee: PAYEE,
        minPassing: 1,
      }),
    ).rejects.toMatchObject({ code: "VERIFICATION_FAILED" });
  });

  test("a release the database never recorded is found by the event sync after a restart", async () => {
    const tests = [{ id: "only", passed: true }];
    const proofId = await createPaymentProof(ctx, {
      taskId: subs[1]!.id,
      tests,
      root: merkleRoot(reportLeaves(tests)),
      digest: `0x${"03".repeat(32)}`,
      payee: "0x000000000000000000000000000000000000dEaD" as Address,
      minPassing: 1,
    });
    // the worker sent the release, then the process died before writing anything
    const db = getDb().db;
    const [proof] = await db.select().from(zkProofs).where(eq(zkProofs.id, proofId));
    const data = proof!.proofData;
    const a = Object.fromEntries(
      Object.entries(data.attestation).map(([k, v]) => [
        k,
        k === "projectId" || k === "payee" || k === "digest" ? v : BigInt(v),
      ]),
    );
    const sig = await signAttestation(
      a as any,
      { chainId: data.chainId, escrow: data.escrow as Address },
      chain.keys.harness,
    );
    const cd = {
      a: data.calldata.a.map(BigInt),
      b: data.calldata.b.map((r) => r.map(BigInt)),
      c: data.calldata.c.map(BigInt),
    } as any;
    const sent = await submitRelease(chain.conn, runtime.deployment!.escrow, chain.keys.worker, a as any, sig, cd);
    expect(await db.select().from(payments).where(eq(payments.taskId, subs[1]!.id))).toHaveLength(0);

    // "restart": a fresh context over the same database and chain, then the sync job's pass
    const restarted = { ...ctx };
    const pass = await syncChainEvents(restarted);
    expect(pass.paymentsRecovered).toBe(1);
    const [p] = await db.select().from(payments).where(eq(payments.taskId, subs[1]!.id));
    expect(p).toMatchObject({ status: "COMPLETED", txHash: sent.txHash });
    expect(events.filter((e) => e.name === "payment.completed" && e.payload.recoveredFromChain)).toHaveLength(1);
    // a second pass changes nothing, and the payout job sees the task as paid without sending again
    expect((await syncChainEvents(restarted)).paymentsRecovered).toBe(0);
    expect((await releaseTaskPayment(restarted, proofId)).txHash).toBe(sent.txHash);
  });
});
