// The event follower on both EVMs: confirmation depth, idempotent recording, reorg recovery.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Hex, parseEther, zeroAddress } from "viem";
import { deployForTest, memorySyncStore, registerForTest, TEST_CHAINS, type TestChain } from "../../test/support/chain";
import { onChainProjectId } from "../zk/attestation";
import { ProjectEscrow } from "./contracts.gen";
import type { Deployment } from "./deploy";
import { syncEscrowEvents } from "./events";

for (const chainDef of TEST_CHAINS) {
  describe(`event sync on ${chainDef.name}`, () => {
    let chain: TestChain;
    let d: Deployment;
    beforeAll(async () => {
      chain = await chainDef.start();
      d = await deployForTest(chain);
    });
    afterAll(async () => {
      await chain?.stop();
    });

    const deposit = async (project: string, amount: bigint) => {
      await registerForTest(chain, d, project);
      const sponsor = chain.conn.wallet(chain.keys.sponsor);
      const hash = await sponsor.writeContract({
        address: d.escrow,
        abi: ProjectEscrow.abi,
        functionName: "deposit",
        args: [onChainProjectId(project), zeroAddress, amount],
        value: amount,
      });
      return chain.conn.publicClient.waitForTransactionReceipt({ hash });
    };
    const opts = () => ({ escrow: d.escrow, deployBlock: BigInt(d.deployBlock), confirmations: 2 });

    test("records only confirmed events, each once, and resumes from its cursor", async () => {
      const store = memorySyncStore();
      const first = await syncEscrowEvents(chain.conn, store, opts());
      const setup = store.events.length;
      expect(setup).toBeGreaterThan(0); // WorkerChanged, HarnessSignerChanged, … from the constructor
      expect(first.reorg).toBe(false);

      const r = await deposit("sync-a", parseEther("1"));
      let pass = await syncEscrowEvents(chain.conn, store, opts());
      expect(pass.recorded.filter((e) => e.name === "Deposited")).toHaveLength(0); // 1 confirmation < 2
      await chain.conn.request("evm_mine", []);
      await chain.conn.request("evm_mine", []);
      pass = await syncEscrowEvents(chain.conn, store, opts());
      const deposited = pass.recorded.filter((e) => e.name === "Deposited");
      expect(deposited).toHaveLength(1);
      expect(deposited[0]!.txHash).toBe(r.transactionHash);
      expect(deposited[0]!.args.amount).toBe(parseEther("1").toString());
      expect(deposited[0]!.args.projectId).toBe(onChainProjectId("sync-a"));

      // nothing new: nothing recorded twice
      pass = await syncEscrowEvents(chain.conn, store, opts());
      expect(pass.recorded).toHaveLength(0);
      expect(store.events.filter((e) => e.name === "Deposited")).toHaveLength(1);
      // recording the same logs again (e.g. a retried job) adds nothing
      expect(await store.recordEvents(store.events.slice())).toHaveLength(0);
    });

    test("a reorg below the cursor is detected and the new chain's events replace the old", async () => {
      const store = memorySyncStore();
      await syncEscrowEvents(chain.conn, store, opts());
      const snapshot = (await chain.conn.request("evm_snapshot", [])) as Hex;
      await deposit("sync-reorg", parseEther("2"));
      await chain.conn.request("evm_mine", []);
      await chain.conn.request("evm_mine", []);
      const before = await syncEscrowEvents(chain.conn, store, { ...opts(), confirmations: 0 });
      expect(before.recorded.map((e) => e.args.amount)).toContain(parseEther("2").toString());

      // the chain drops those blocks and grows a different history of the same height or more
      expect(await chain.conn.request("evm_revert", [snapshot])).toBe(true);
      await deposit("sync-reorg", parseEther("3"));
      for (let i = 0; i < 3; i++) await chain.conn.request("evm_mine", []);

      const after = await syncEscrowEvents(chain.conn, store, { ...opts(), confirmations: 0, reorgRewind: 16 });
      expect(after.reorg).toBe(true);
      const amounts = store.events.filter((e) => e.name === "Deposited").map((e) => e.args.amount);
      expect(amounts).toContain(parseEther("3").toString());
      expect(amounts).not.toContain(parseEther("2").toString());
    });
  });
}
