// The embedded dev chain: state and block hashes survive a restart through the journal.
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseEther } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { connectDevChain } from "./client";
import { RpcError, startDevChain } from "./dev-chain";

test("a persistent dev chain replays to the same state and block hashes after a restart", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "devsponsor-devchain-"));
  try {
    const first = await startDevChain({ dataDir });
    const conn = connectDevChain(first);
    const to = privateKeyToAddress(first.genesis.keys.contributor);
    const sponsor = conn.wallet(first.genesis.keys.sponsor);
    const before = await conn.publicClient.getBalance({ address: to });
    for (const eth of ["1", "2"]) {
      const hash = await sponsor.sendTransaction({ to, value: parseEther(eth) });
      await conn.publicClient.waitForTransactionReceipt({ hash });
    }
    await conn.request("evm_increaseTime", [3600]);
    await conn.request("evm_mine", []);
    const head = await conn.publicClient.getBlock({ blockTag: "latest" });
    expect(head.number).toBe(3n);
    // methods that would make the journal lie are refused on a persistent chain
    await expect(conn.request("evm_snapshot", [])).rejects.toBeInstanceOf(Error);
    await first.close();

    const second = await startDevChain({ dataDir });
    expect(second.replayedBlocks).toBe(3);
    expect(second.genesis).toEqual(first.genesis);
    const conn2 = connectDevChain(second);
    expect(await conn2.publicClient.getBalance({ address: to })).toBe(before + parseEther("3"));
    const replayed = await conn2.publicClient.getBlock({ blockTag: "latest" });
    expect(replayed.hash).toBe(head.hash);
    expect(replayed.timestamp).toBe(head.timestamp);
    await second.close();
    await expect(second.request({ method: "eth_blockNumber" })).rejects.toBeInstanceOf(RpcError);
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("an in-memory dev chain has fresh keys each time and allows snapshots", async () => {
  const a = await startDevChain();
  const b = await startDevChain();
  expect(a.genesis.keys.worker).not.toBe(b.genesis.keys.worker);
  expect(typeof (await a.request({ method: "evm_snapshot" }))).toBe("string");
  await a.close();
  await b.close();
});
