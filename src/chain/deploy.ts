// Deploys the verifier and the escrow (and, on a dev chain, a test token, its ERC-4626 vault and price feeds).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Abi, Address, Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { unavailable } from "../core/errors";
import type { ChainConnection } from "./client";
import { DevPriceFeed, DevToken, DevVault, Groth16Verifier, ProjectEscrow } from "./contracts.gen";
import { type EvmCheck, probeCancun, probeEscrowGuard } from "./evm";

/** Addresses of one deployment; `dev` holds the dev-chain extras. */
export interface Deployment {
  chainId: number;
  escrow: Address;
  verifier: Address;
  deployBlock: number;
  owner: Address;
  worker: Address;
  harnessSigner: Address;
  treasury: Address;
  dev?: {
    token: Address; // "Dev USD", 6 decimals
    vault: Address; // ERC-4626 vault of the token
    /** AggregatorV3 feeds in USD with 8 decimals, keyed by token address (0x0…0 = native coin). */
    priceFeeds: Record<string, Address>;
  };
}

/** Everything a deployment needs. */
export interface DeployOptions {
  deployerKey: Hex;
  worker: Address;
  harnessSigner: Address;
  treasury: Address;
  /** vk_delta_2 of the active proving key, in the verifier constructor's order (prover.vkDelta). */
  vkDelta: readonly [bigint, bigint, bigint, bigint];
  paymentFeeBps: number;
  yieldFeeBps: number;
  withdrawalDelaySeconds: number;
  /** Also deploy the dev token, vault and price feeds (dev chain, tests). */
  devExtras?: boolean;
  /** Initial dev price of the native coin in USD with 8 decimals. */
  nativeUsdPrice?: bigint;
}

export const NATIVE_TOKEN: Address = "0x0000000000000000000000000000000000000000";

async function deployOne(
  conn: ChainConnection,
  key: Hex,
  artifact: { abi: Abi; bytecode: Hex },
  args: readonly unknown[],
): Promise<{ address: Address; block: number }> {
  const wallet = conn.wallet(key);
  const hash = await wallet.deployContract({ abi: artifact.abi, bytecode: artifact.bytecode, args } as any);
  const receipt = await conn.publicClient.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress) throw new Error(`deployment reverted: ${hash}`);
  return { address: receipt.contractAddress, block: Number(receipt.blockNumber) };
}

/** Refuses a node whose EVM lacks what the escrow needs, with the check's own words. */
function requireEvm(check: EvmCheck): void {
  if (!check.ok) throw unavailable(check.detail, { fix: check.fix });
}

/**
 * Deploys the contracts and returns their addresses. The deployer becomes the escrow owner. The node's EVM is
 * checked first (no gas is spent on a node that lacks the Cancun opcodes) and again through the deployed
 * escrow's reentrancy guard.
 */
export async function deployContracts(conn: ChainConnection, o: DeployOptions): Promise<Deployment> {
  requireEvm(await probeCancun(conn));
  const owner = privateKeyToAddress(o.deployerKey);
  const verifier = await deployOne(conn, o.deployerKey, Groth16Verifier, [o.vkDelta]);
  const escrow = await deployOne(conn, o.deployerKey, ProjectEscrow, [
    owner,
    o.worker,
    o.harnessSigner,
    o.treasury,
    verifier.address,
    o.paymentFeeBps,
    o.yieldFeeBps,
    o.withdrawalDelaySeconds,
  ]);
  requireEvm(await probeEscrowGuard(conn, escrow.address));
  const deployment: Deployment = {
    chainId: conn.chain.id,
    escrow: escrow.address,
    verifier: verifier.address,
    deployBlock: verifier.block,
    owner,
    worker: o.worker,
    harnessSigner: o.harnessSigner,
    treasury: o.treasury,
  };
  if (o.devExtras) {
    const token = await deployOne(conn, o.deployerKey, DevToken, ["Dev USD", "dUSD", 6]);
    const vault = await deployOne(conn, o.deployerKey, DevVault, [token.address]);
    const nativeFeed = await deployOne(conn, o.deployerKey, DevPriceFeed, [
      8,
      "ETH / USD (dev)",
      o.nativeUsdPrice ?? 3_000_00000000n,
    ]);
    const tokenFeed = await deployOne(conn, o.deployerKey, DevPriceFeed, [8, "dUSD / USD (dev)", 1_00000000n]);
    const wallet = conn.wallet(o.deployerKey);
    const hash = await wallet.writeContract({
      address: escrow.address,
      abi: ProjectEscrow.abi,
      functionName: "setVault",
      args: [token.address, vault.address],
    });
    await conn.publicClient.waitForTransactionReceipt({ hash });
    deployment.dev = {
      token: token.address,
      vault: vault.address,
      priceFeeds: { [NATIVE_TOKEN]: nativeFeed.address, [token.address.toLowerCase()]: tokenFeed.address },
    };
  }
  return deployment;
}

/** Where a deployment record is kept in the data dir. */
export const deploymentPath = (dataDir: string, chainId: number) =>
  join(dataDir, "chain", `deployment-${chainId}.json`);

/** Reads a stored deployment record, if any. */
export function readDeployment(dataDir: string, chainId: number): Deployment | undefined {
  const path = deploymentPath(dataDir, chainId);
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as Deployment) : undefined;
}

/** Stores a deployment record. */
export function writeDeployment(dataDir: string, d: Deployment): void {
  mkdirSync(join(dataDir, "chain"), { recursive: true });
  writeFileSync(deploymentPath(dataDir, d.chainId), `${JSON.stringify(d, null, 2)}\n`);
}
