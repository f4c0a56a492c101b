// Revert data from every shape nodes send, over real HTTP: a Hardhat node (code 3 with data) and relays in front
// of it that answer the same revert as -32000 with data, nested in data.data, in data.originalError, or only in
// the message. The escrow's custom error is decoded by name from each; viem alone misses most of them.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { BaseError, ContractFunctionRevertedError, encodeFunctionData, zeroAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { deployForTest } from "../../test/support/chain";
import { type HardhatNode, startHardhatNode } from "../../test/support/hardhat-node";
import { type RevertShape, type RpcRelay, startRpcRelay } from "../../test/support/rpc-relay";
import { connectRpc } from "./client";
import { ProjectEscrow } from "./contracts.gen";
import type { Deployment } from "./deploy";
import { decodeRevert, isNodeAnswer } from "./revert";

let node: HardhatNode;
let d: Deployment;
const relays: RpcRelay[] = [];
beforeAll(async () => {
  node = await startHardhatNode();
  d = await deployForTest({
    name: "hardhat",
    conn: connectRpc(node.url, node.chainId),
    keys: node.keys,
    stop: node.stop,
  });
}, 60_000);
afterAll(async () => {
  for (const r of relays) await r.stop();
  await node?.stop();
});

// a deposit to a project nobody registered: the escrow reverts with NotRegistered()
const depositCall = () => ({
  account: privateKeyToAddress(node.keys.sponsor),
  to: d.escrow,
  value: 1n,
  data: encodeFunctionData({
    abi: ProjectEscrow.abi,
    functionName: "deposit",
    args: [`0x${"44".repeat(32)}`, zeroAddress, 1n],
  }),
});

const viemDecodes = (err: unknown) =>
  err instanceof BaseError &&
  err.walk((e) => e instanceof ContractFunctionRevertedError && !!e.data?.errorName) !== null;

const SHAPES: RevertShape[] = ["-32000", "nested", "originalError", "message"];

test("the node's own shape (code 3 with data): decoded by name", async () => {
  const conn = connectRpc(node.url, node.chainId);
  const err = await conn.publicClient.estimateGas(depositCall()).catch((e) => e);
  expect(decodeRevert(err)).toMatchObject({ name: "NotRegistered", args: [] });
  expect(isNodeAnswer(err)).toBe(true);
});

for (const shape of SHAPES) {
  test(`a revert reported as ${shape}: decoded by name from eth_estimateGas and eth_call`, async () => {
    const relay = startRpcRelay(node.url, { shape });
    relays.push(relay);
    const conn = connectRpc(relay.url, node.chainId);
    const estimate = await conn.publicClient.estimateGas(depositCall()).catch((e) => e);
    const call = await conn.publicClient
      .simulateContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "deposit",
        args: [`0x${"44".repeat(32)}`, zeroAddress, 1n],
        value: 1n,
        account: privateKeyToAddress(node.keys.sponsor),
      })
      .catch((e) => e);
    // viem retries -32603 (an internal error) a few times before giving up: at least one rewrite per call
    expect(relay.rewritten).toBeGreaterThanOrEqual(2);
    expect(decodeRevert(estimate)?.name).toBe("NotRegistered");
    expect(decodeRevert(call)?.name).toBe("NotRegistered");
    expect(isNodeAnswer(estimate)).toBe(true);
    // the gas estimate is where a payment's refusal shows up: viem does not name the error there by itself
    expect(viemDecodes(estimate)).toBe(false);
  });
}

test("a custom error with arguments keeps them; a transport error has no revert", async () => {
  const relay = startRpcRelay(node.url, { shape: "-32000" });
  relays.push(relay);
  const conn = connectRpc(relay.url, node.chainId);
  // InsufficientFunds(balance, amount): a release for an unfunded project, simulated by the worker
  const err = await conn.publicClient
    .estimateGas({
      account: privateKeyToAddress(node.keys.worker),
      to: d.escrow,
      data: encodeFunctionData({
        abi: ProjectEscrow.abi,
        functionName: "releasePayment",
        args: [
          {
            projectId: `0x${"55".repeat(32)}`,
            taskId: 1n,
            payee: "0x00000000000000000000000000000000000a11ce",
            amount: 7n,
            root: 0n,
            ruleHash: 0n,
            digest: `0x${"00".repeat(32)}`,
          },
          "0x",
          [0n, 0n],
          [
            [0n, 0n],
            [0n, 0n],
          ],
          [0n, 0n],
        ],
      }),
    })
    .catch((e) => e);
  expect(decodeRevert(err)).toMatchObject({ name: "InsufficientFunds", args: [0n, 7n] });
  const down = connectRpc("http://127.0.0.1:9", node.chainId, { timeoutMs: 2_000 });
  const transport = await down.publicClient.estimateGas(depositCall()).catch((e) => e);
  expect(decodeRevert(transport)).toBeUndefined();
  expect(isNodeAnswer(transport)).toBe(false);
});
