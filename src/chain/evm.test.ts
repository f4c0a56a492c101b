// The EVM check against a node that stops at Shanghai (a Hardhat node started with hardfork "shanghai"): deploy
// refuses before spending gas, and the doctor and `chain status` say the node lacks the Cancun fork where they
// used to say OK. The same checks pass on the embedded dev chain (Prague).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zeroAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { deployForTest, TEST_CHAINS, type TestChain } from "../../test/support/chain";
import { createTestDb } from "../../test/support/db";
import { type HardhatNode, startHardhatNode } from "../../test/support/hardhat-node";
import type { Database } from "../core/db";
import { envName } from "../core/settings/registry";
import { SettingsService } from "../core/settings/service";
import { loadZkKeys, vkDelta } from "../zk/prover";
import { type ChainConnection, connectRpc } from "./client";
import { Groth16Verifier, ProjectEscrow } from "./contracts.gen";
import { deployContracts, writeDeployment } from "./deploy";
import { checkChain } from "./doctor";
import { probeCancun, probeEscrowGuard } from "./evm";
import { registerSponsor } from "./registration";
import { openChain } from "./service";
import { chainStatus } from "./status";

const LACKS = "this node lacks the Cancun fork (EIP-1153/5656)";

describe("a node at Shanghai", () => {
  let node: HardhatNode;
  let conn: ChainConnection;
  let db: Database;
  let dataDir: string;
  beforeAll(async () => {
    node = await startHardhatNode({ hardfork: "shanghai" });
    conn = connectRpc(node.url, node.chainId);
    db = await createTestDb();
    dataDir = mkdtempSync(join(tmpdir(), "devsponsor-evm-"));
  }, 60_000);
  afterAll(async () => {
    await node?.stop();
    await db?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const options = async () => ({
    deployerKey: node.keys.deployer,
    worker: privateKeyToAddress(node.keys.worker),
    harnessSigner: privateKeyToAddress(node.keys.harness),
    treasury: privateKeyToAddress(node.keys.treasury),
    vkDelta: vkDelta((await loadZkKeys()).vk),
    paymentFeeBps: 250,
    yieldFeeBps: 1000,
    withdrawalDelaySeconds: 3600,
  });

  test("deploy refuses it before spending gas, naming the missing fork", async () => {
    const probe = await probeCancun(conn);
    expect(probe.ok).toBe(false);
    expect(probe.detail).toStartWith(`${LACKS}: `);
    expect(probe.detail).toContain("invalid opcode");
    const deployer = privateKeyToAddress(node.keys.deployer);
    await expect(deployContracts(conn, await options())).rejects.toMatchObject({
      code: "UNAVAILABLE",
      message: expect.stringContaining(LACKS),
    });
    expect(await conn.publicClient.getTransactionCount({ address: deployer })).toBe(0);
  });

  test("an escrow deployed there anyway: the guard check, chain status and the doctor report it", async () => {
    // what happened before the check: the contracts deploy (their constructors need no Cancun opcode) ...
    const o = await options();
    const deployer = conn.wallet(o.deployerKey);
    const deploy = async (artifact: { abi: any; bytecode: `0x${string}` }, args: unknown[]) => {
      const hash = await deployer.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args } as any);
      return (await conn.publicClient.waitForTransactionReceipt({ hash })).contractAddress!;
    };
    const verifier = await deploy(Groth16Verifier, [o.vkDelta]);
    const escrow = await deploy(ProjectEscrow, [
      privateKeyToAddress(o.deployerKey),
      o.worker,
      o.harnessSigner,
      o.treasury,
      verifier,
      250,
      1000,
      3600,
    ]);
    expect(escrow).toMatch(/^0x[0-9a-fA-F]{40}$/);
    // ... and every guarded call fails with invalid opcode
    const deposit = conn.publicClient.simulateContract({
      address: escrow,
      abi: ProjectEscrow.abi,
      functionName: "deposit",
      args: [`0x${"11".repeat(32)}`, zeroAddress, 1n],
      value: 1n,
      account: privateKeyToAddress(node.keys.sponsor),
    });
    await expect(deposit).rejects.toThrow(/invalid opcode/);
    const guard = await probeEscrowGuard(conn, escrow);
    expect(guard.ok).toBe(false);
    expect(guard.detail).toStartWith(`${LACKS}: the escrow's reentrancy guard failed`);

    // chain status and the doctor, configured for this node as an operator would (rpc mode, the addresses)
    writeDeployment(dataDir, {
      chainId: node.chainId,
      escrow,
      verifier,
      deployBlock: 1,
      owner: privateKeyToAddress(o.deployerKey),
      worker: o.worker,
      harnessSigner: o.harnessSigner,
      treasury: o.treasury,
    });
    const settings = new SettingsService(db.db, Buffer.alloc(32, 3), {
      [envName("chain.mode")]: "rpc",
      [envName("chain.rpcUrl")]: node.url,
      [envName("chain.chainId")]: String(node.chainId),
      [envName("chain.escrowAddress")]: escrow,
      [envName("chain.workerKey")]: node.keys.worker,
      [envName("chain.harnessKey")]: node.keys.harness,
    });
    await settings.reload();
    const rt = await openChain({ dataDir }, settings);
    try {
      const lines = await chainStatus(rt);
      const evm = lines.find((l) => l.name === "evm")!;
      expect(evm.ok).toBe(false);
      expect(evm.detail).toStartWith(LACKS);
      expect(evm.fix).toContain("Cancun");
      // the other lines are fine: before the check, status said OK on every line
      expect(lines.filter((l) => !l.ok).map((l) => l.name)).toEqual(["evm"]);
    } finally {
      await rt.close();
    }
    const doctor = await checkChain({ config: { dataDir } as any, settings });
    expect(doctor.ok).toBe(false);
    expect(doctor.detail).toStartWith(`evm: ${LACKS}`);
  }, 60_000);
});

describe("a node at Cancun or later", () => {
  let chain: TestChain;
  beforeAll(async () => {
    chain = await TEST_CHAINS[0]!.start();
  });
  afterAll(async () => {
    await chain?.stop();
  });

  test("the opcodes run, deploy goes ahead and the guarded call passes; registration needs the worker", async () => {
    expect(await probeCancun(chain.conn)).toMatchObject({ ok: true });
    const d = await deployForTest(chain);
    expect(await probeEscrowGuard(chain.conn, d.escrow)).toMatchObject({ ok: true });
    const rt = {
      mode: "dev" as const,
      conn: chain.conn,
      deployment: d,
      workerKey: chain.keys.worker,
      harnessKey: chain.keys.harness,
      confirmations: 0,
      close: async () => {},
    };
    const lines = await chainStatus(rt);
    expect(lines.find((l) => l.name === "evm")).toMatchObject({ ok: true });
    expect(lines.every((l) => l.ok)).toBe(true);
    // registering the sponsor sends one transaction; asking again for the same wallet sends none
    const key = `0x${"22".repeat(32)}` as const;
    const sponsor = privateKeyToAddress(chain.keys.sponsor);
    const first = await registerSponsor(rt, key, sponsor, null);
    expect(first.txHash).toMatch(/^0x/);
    const again = await registerSponsor(rt, key, sponsor, null);
    expect(again.txHash).toBeUndefined();
    expect(again.sponsor).toBe(sponsor);
    // without a worker key the appliance cannot register
    await expect(
      registerSponsor({ ...rt, workerKey: undefined }, `0x${"33".repeat(32)}`, sponsor, null),
    ).rejects.toMatchObject({ code: "UNAVAILABLE" });
  }, 60_000);
});
