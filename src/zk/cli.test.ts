// `devsponsor zk contribute`: a phase-2 contribution changes only delta; the same verifier bytecode deployed with
// the new delta accepts proofs made with the new key and refuses proofs made with the old one.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectDevChain } from "../chain/client";
import { Groth16Verifier } from "../chain/contracts.gen";
import { startDevChain } from "../chain/dev-chain";
import { contribute } from "./cli";
import { reportCommitment } from "./merkle";
import { loadZkKeys, proveReport, vkDelta } from "./prover";

test("a contributed key works with a verifier deployed for its delta, and only with it", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "devsponsor-zk-"));
  const dev = await startDevChain();
  try {
    const before = await loadZkKeys(dataDir);
    expect(before.source).toBe("embedded");
    const { vk } = await contribute(dataDir, "test", "some entropy");
    const after = await loadZkKeys(dataDir);
    expect(after.source).toBe("data-dir");
    expect(vkDelta(after.vk)).not.toEqual(vkDelta(before.vk));
    expect(after.vk.IC).toEqual(before.vk.IC);
    expect(vkDelta(vk)).toEqual(vkDelta(after.vk));

    const conn = connectDevChain(dev);
    const wallet = conn.wallet(dev.genesis.keys.deployer);
    const hash = await wallet.deployContract({
      abi: Groth16Verifier.abi,
      bytecode: Groth16Verifier.bytecode,
      args: [vkDelta(after.vk)],
    });
    const verifier = (await conn.publicClient.waitForTransactionReceipt({ hash })).contractAddress!;

    const claim = {
      report: reportCommitment({ tests: [{ id: "a", passed: true }], named: ["a"], minPassing: 1, newFailures: 0 }),
      taskId: 3n,
      payee: "0x0000000000000000000000000000000000000001" as const,
      amount: 9n,
    };
    const onChain = async (p: Awaited<ReturnType<typeof proveReport>>) =>
      conn.publicClient.readContract({
        address: verifier,
        abi: Groth16Verifier.abi,
        functionName: "verifyProof",
        args: [p.calldata.a, p.calldata.b, p.calldata.c, p.publicSignals.map(BigInt) as any],
      });
    expect(await onChain(await proveReport(claim, after))).toBe(true);
    expect(await onChain(await proveReport(claim, before))).toBe(false);
  } finally {
    await dev.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}, 300_000);
