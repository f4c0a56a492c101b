// The payout job on a node that reports reverts as JSON-RPC -32000 errors with the revert bytes in `data` (a
// Hardhat node behind a relay speaking that shape): a payment the contract refuses fails the job at once with the
// contract's reason (InvalidProof), instead of being retried; a node that does not answer in time is retried.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import { parseEther, zeroAddress } from "viem";
import {
  attestationOf,
  deployForTest,
  PAYEE,
  type ProvenClaim,
  proveClaim,
  registerForTest,
  relayedChain,
  sign,
  type TestChain,
} from "../../test/support/chain";
import { createTestDb } from "../../test/support/db";
import { startHardhatNode } from "../../test/support/hardhat-node";
import { startRpcRelay } from "../../test/support/rpc-relay";
import { connectRpc } from "../chain/client";
import { ProjectEscrow } from "../chain/contracts.gen";
import type { Deployment } from "../chain/deploy";
import type { ChainRuntime } from "../chain/service";
import type { Database } from "../core/db";
import { createJobQueue, FatalJobError, type JobQueue } from "../core/jobs/queue";
import { log } from "../core/logger";
import { SettingsService } from "../core/settings/service";
import { milestones, tasks } from "../milestones/schema";
import { orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { attestationToRecord } from "../zk/attestation";
import { zkProofs } from "../zk/schema";
import { definePaymentJobs } from "./jobs";
import { escrowError, isTransient, submitRelease } from "./release";
import { payments } from "./schema";

describe("payout job on a node reporting reverts as -32000 with data", () => {
  let chain: TestChain;
  let d: Deployment;
  let database: Database;
  let queue: JobQueue;
  let claim: ProvenClaim;
  let taskId: string;
  let projectId: string;

  beforeAll(async () => {
    chain = await relayedChain("-32000").start();
    d = await deployForTest(chain);
    database = await createTestDb();
    const db = database.db;
    const [org] = await db.insert(orgs).values({ name: "Org" }).returning();
    const [project] = await db
      .insert(projects)
      .values({ orgId: org!.id, title: "P", tokenDecimals: 18, state: "ACTIVE", structureApprovedAt: new Date() })
      .returning();
    projectId = project!.id;
    const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 10, position: 0 }).returning();
    const [task] = await db
      .insert(tasks)
      .values({ milestoneId: m!.id, projectId, title: "t", points: 10, position: 0, status: "PAYING" })
      .returning();
    taskId = task!.id;
    claim = await proveClaim(taskId, PAYEE, parseEther("1"));
    await registerForTest(chain, d, projectId);
    const hash = await chain.conn.wallet(chain.keys.sponsor).writeContract({
      address: d.escrow,
      abi: ProjectEscrow.abi,
      functionName: "deposit",
      args: [attestationOf(projectId, claim).projectId, zeroAddress, parseEther("5")],
      value: parseEther("5"),
    });
    await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  }, 120_000);
  afterAll(async () => {
    await queue?.stop();
    await database?.close();
    await chain?.stop();
  });

  test("a release the contract refuses (InvalidProof) fails the job with that reason, without a retry", async () => {
    const a = attestationOf(projectId, claim);
    const p = claim.proof.calldata;
    // a proof element changed after proving: the harness's signature holds, the Groth16 check does not
    const tampered = { a: [p.a[0], p.a[1] + 1n], b: p.b, c: p.c };
    const [proof] = await database.db
      .insert(zkProofs)
      .values({
        taskId,
        chainTaskId: claim.taskId.toString(),
        root: claim.root.toString(),
        digest: claim.digest,
        proofData: {
          proof: {},
          publicSignals: [],
          calldata: {
            a: tampered.a.map(String),
            b: tampered.b.map((r) => r.map(String)),
            c: tampered.c.map(String),
          },
          attestation: attestationToRecord(a),
          signature: await sign(chain, d, a),
          chainId: d.chainId,
          escrow: d.escrow,
        },
      })
      .returning();
    const settings = new SettingsService(database.db, randomBytes(32), {});
    await settings.reload();
    const runtime: ChainRuntime = {
      mode: "rpc",
      conn: chain.conn,
      deployment: d,
      workerKey: chain.keys.worker,
      harnessKey: chain.keys.harness,
      confirmations: 0,
      close: async () => {},
    };
    queue = createJobQueue(database, { pollIntervalMs: 50 });
    const jobs = definePaymentJobs({ db: database.db, settings, chain: runtime, log } as any, queue, FatalJobError);
    queue.start();
    const { id } = await jobs.release.enqueue({ proofId: proof!.id });
    let job = await queue.get(id);
    for (let i = 0; i < 400 && job?.state !== "dead" && job?.state !== "completed"; i++) {
      await Bun.sleep(50);
      job = await queue.get(id);
    }
    expect(job?.state).toBe("dead");
    expect(job?.attempts).toBe(1); // maxAttempts is 8: a retry would have run it again
    expect(job?.lastError).toContain("PROOF_INVALID");
    expect(job?.lastError).toContain("(InvalidProof)");
    const [payment] = await database.db.select().from(payments).where(eq(payments.taskId, taskId));
    expect(payment).toMatchObject({ status: "FAILED", lastError: expect.stringContaining("InvalidProof") });
    // nothing was paid: the refusal came from the gas estimate, no transaction was sent
    expect(
      await chain.conn.publicClient.readContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "paid",
        args: [claim.taskId],
      }),
    ).toBe(false);
  }, 60_000);
});

test("a node slower than the request timeout is a transport error (retried); a longer timeout lets it answer", async () => {
  const node = await startHardhatNode();
  // this node takes 1.5 s to estimate gas, as slow nodes do (17–19 s were seen on one)
  const relay = startRpcRelay(node.url, { shape: "-32000", delayMs: { eth_estimateGas: 1_500 } });
  try {
    const keys = node.keys;
    const fast = connectRpc(relay.url, node.chainId, { timeoutMs: 500 });
    const slow = connectRpc(relay.url, node.chainId, { timeoutMs: 10_000 });
    const chain = { name: "relayed", conn: slow, keys, stop: async () => {} };
    const d = await deployForTest(chain);
    const claim = await proveClaim("timeout-task", PAYEE, parseEther("1"));
    const a = attestationOf("timeout-project", claim);
    const sig = await sign(chain, d, a);
    // unfunded: the estimate reverts with InsufficientFunds once the node answers
    const timedOut = await submitRelease(fast, d.escrow, keys.worker, a, sig, claim.proof.calldata).catch((e) => e);
    expect(escrowError(timedOut)).toBe(timedOut);
    expect(isTransient(timedOut)).toBe(true);
    expect(String(timedOut.message)).toMatch(/took too long|timed out/i);
    const answered = await submitRelease(slow, d.escrow, keys.worker, a, sig, claim.proof.calldata).catch((e) => e);
    expect(answered).toMatchObject({ code: "INSUFFICIENT_FUNDS", details: { contractError: "InsufficientFunds" } });
    expect(isTransient(answered)).toBe(false);
    // the one estimate of each release attempt, plus the deployment's; no second estimate before sending
    expect(relay.rewritten).toBeGreaterThanOrEqual(1);
  } finally {
    await relay.stop();
    await node.stop();
  }
}, 120_000);
