// Shared fixtures for chain tests and benchmarks: both EVMs (embedded EDR, Hardhat node), a deployment with test
// settings, proofs for fixed claims, and an in-memory event store.
import type { Address, Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { ProjectEscrow } from "../../src/chain/contracts.gen";
import { type Attestation, onChainProjectId, onChainTaskId, signAttestation } from "../../src/zk/attestation";
import { type ReportCommitment, reportCommitment, type TestResult } from "../../src/zk/merkle";
import { loadZkKeys, proveReport, type ReportProof, vkDelta } from "../../src/zk/prover";
import { type ChainConnection, connectDevChain, connectRpc } from "../../src/chain/client";
import { type Deployment, deployContracts } from "../../src/chain/deploy";
import { type DevKeys, startDevChain } from "../../src/chain/dev-chain";
import type { EscrowEvent, SyncStore } from "../../src/chain/events";
import { startHardhatNode } from "./hardhat-node";
import { type RevertShape, startRpcRelay } from "./rpc-relay";

/** A started test chain. */
export interface TestChain {
  name: string;
  conn: ChainConnection;
  keys: DevKeys;
  stop(): Promise<void>;
}

/** The two EVMs every contract test runs on. */
export const TEST_CHAINS: { name: string; start(): Promise<TestChain> }[] = [
  {
    name: "embedded dev chain (EDR in process)",
    async start() {
      const dev = await startDevChain();
      return { name: this.name, conn: connectDevChain(dev), keys: dev.genesis.keys, stop: () => dev.close() };
    },
  },
  {
    name: "hardhat node (JSON-RPC on loopback)",
    async start() {
      const node = await startHardhatNode();
      return { name: this.name, conn: connectRpc(node.url, node.chainId), keys: node.keys, stop: () => node.stop() };
    },
  },
];

/**
 * A Hardhat node behind a relay that reports reverts in another node family's shape (by default `-32000` with the
 * revert bytes in `data`, as Geth-family, Besu and Nethermind nodes do).
 */
export function relayedChain(shape: RevertShape = "-32000"): { name: string; start(): Promise<TestChain> } {
  return {
    name: `hardhat node behind a relay reporting reverts as ${shape === "-32000" ? "-32000 with data" : shape}`,
    async start() {
      const node = await startHardhatNode();
      const relay = startRpcRelay(node.url, { shape });
      return {
        name: this.name,
        conn: connectRpc(relay.url, node.chainId),
        keys: node.keys,
        async stop() {
          await relay.stop();
          await node.stop();
        },
      };
    },
  };
}

export const TEST_FEES = { paymentFeeBps: 250, yieldFeeBps: 1000, withdrawalDelaySeconds: 3600 };

/** Deploys the contracts with dev extras and the test fee terms. */
export async function deployForTest(chain: TestChain): Promise<Deployment> {
  const keys = await loadZkKeys();
  return deployContracts(chain.conn, {
    deployerKey: chain.keys.deployer,
    worker: privateKeyToAddress(chain.keys.worker),
    harnessSigner: privateKeyToAddress(chain.keys.harness),
    treasury: privateKeyToAddress(chain.keys.treasury),
    vkDelta: vkDelta(keys.vk),
    ...TEST_FEES,
    devExtras: true,
  });
}

/**
 * Registers a project's sponsor (by default the chain's sponsor key) and token with the worker key, as the
 * appliance does when quoting: the escrow takes deposits only from that wallet.
 */
export async function registerForTest(
  chain: TestChain,
  d: Deployment,
  projectKey: string,
  opts: { sponsor?: Address; token?: Address } = {},
): Promise<void> {
  const hash = await chain.conn.wallet(chain.keys.worker).writeContract({
    address: d.escrow,
    abi: ProjectEscrow.abi,
    functionName: "registerProject",
    args: [
      onChainProjectId(projectKey),
      opts.sponsor ?? privateKeyToAddress(chain.keys.sponsor),
      opts.token ?? "0x0000000000000000000000000000000000000000",
    ],
  });
  const receipt = await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`registerProject reverted: ${hash}`);
}

// Payees are fixed addresses (proofs bind the payee, and proofs are made once for both chains).
export const PAYEE: Address = "0x00000000000000000000000000000000000a11ce";
export const OTHER_PAYEE: Address = "0x0000000000000000000000000000000000000b0b";

/** A claim with its proof, ready to be attested for one project on one deployment. */
export interface ProvenClaim {
  taskKey: string;
  taskId: bigint;
  payee: Address;
  amount: bigint;
  report: ReportCommitment;
  root: bigint;
  ruleHash: bigint;
  digest: Hex;
  proof: ReportProof;
}

/** Proves a fixed claim: `tests` passing tests of a task, the first `named` of them named by its rule. */
export async function proveClaim(taskKey: string, payee: Address, amount: bigint, tests = 4, named = 2) {
  const results: TestResult[] = Array.from({ length: tests }, (_, i) => ({
    id: `${taskKey} > test ${i}`,
    passed: true,
  }));
  const report = reportCommitment({
    tests: results,
    named: results.slice(0, named).map((t) => t.id),
    minPassing: 3,
    newFailures: 0,
  });
  const taskId = onChainTaskId(taskKey);
  const proof = await proveReport({ report, taskId, payee, amount });
  const digest = `0x${Buffer.from(new Bun.CryptoHasher("sha256").update(taskKey).digest()).toString("hex")}` as Hex;
  const { root, ruleHash } = report;
  return { taskKey, taskId, payee, amount, report, root, ruleHash, digest, proof } satisfies ProvenClaim;
}

/** The attestation of a claim for a project. */
export function attestationOf(projectKey: string, c: ProvenClaim): Attestation {
  return {
    projectId: onChainProjectId(projectKey),
    taskId: c.taskId,
    payee: c.payee,
    amount: c.amount,
    root: c.root,
    ruleHash: c.ruleHash,
    digest: c.digest,
  };
}

/** Signs an attestation for a deployment with a key (the harness key, or another to test refusal). */
export function sign(chain: TestChain, d: Deployment, a: Attestation, key: Hex = chain.keys.harness) {
  return signAttestation(a, { chainId: d.chainId, escrow: d.escrow }, key);
}

/** An in-memory SyncStore: what the event follower recorded, without a database. */
export function memorySyncStore(): SyncStore & { events: EscrowEvent[] } {
  const cursors = new Map<string, { block: bigint; hash: Hex }>();
  const events: EscrowEvent[] = [];
  return {
    events,
    async getCursor(key) {
      return cursors.get(key);
    },
    async saveCursor(key, block, hash) {
      cursors.set(key, { block, hash });
    },
    async recordEvents(batch) {
      const fresh = batch.filter((e) => !events.some((x) => x.txHash === e.txHash && x.logIndex === e.logIndex));
      events.push(...fresh);
      return fresh;
    },
    async dropEventsAfter(chainId, contract, block) {
      for (let i = events.length - 1; i >= 0; i--) {
        const e = events[i]!;
        if (e.chainId === chainId && e.contract.toLowerCase() === contract.toLowerCase() && e.blockNumber > block) {
          events.splice(i, 1);
        }
      }
    },
  };
}
