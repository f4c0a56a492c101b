// The appliance's chain: the embedded dev chain (default; contracts deployed at first start) or a node given by
// the settings (RPC URL, chain id, contract addresses, worker and harness keys stored encrypted).
import type { Address, Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import type { Config } from "../core/config";
import type { AppContext } from "../core/context";
import { unavailable } from "../core/errors";
import type { SettingsService } from "../core/settings/service";
import { loadZkKeys, vkDelta } from "../zk/prover";
import { type ChainConnection, connectDevChain, connectRpc } from "./client";
import { type Deployment, deployContracts, readDeployment, writeDeployment } from "./deploy";
import { type DevChain, startDevChain } from "./dev-chain";

/** A connected chain with what the appliance needs to act on it. */
export interface ChainRuntime {
  mode: "dev" | "rpc";
  conn: ChainConnection;
  /** Undefined on a real chain until `devsponsor chain deploy` ran or the addresses are set. */
  deployment?: Deployment;
  workerKey?: Hex;
  harnessKey?: Hex;
  confirmations: number;
  dev?: DevChain;
  close(): Promise<void>;
}

type SettingsReader = Pick<SettingsService, "get">;

/** Fee terms and delay for a new deployment, from the settings. */
function deployTerms(settings: SettingsReader) {
  return {
    paymentFeeBps: settings.get("funding.platformFeeBps"),
    yieldFeeBps: Math.min(settings.get("funding.yieldFeeBps"), 2000),
    withdrawalDelaySeconds: 3 * 24 * 3600,
  };
}

/** Opens the configured chain; on the dev chain, deploys the contracts the first time. */
export async function openChain(config: Pick<Config, "dataDir">, settings: SettingsReader): Promise<ChainRuntime> {
  if (settings.get("chain.mode") === "dev") return openDevChain(config.dataDir, settings);
  const url = settings.get("chain.rpcUrl");
  if (!url) throw unavailable("chain mode is rpc but no RPC URL is set", { fix: "Settings → Chain → RPC URL" });
  const chainId = settings.get("chain.chainId");
  const conn = connectRpc(url, chainId, { timeoutMs: settings.get("chain.rpcTimeoutMs") });
  const escrow = settings.get("chain.escrowAddress") as Address | "";
  const stored = readDeployment(config.dataDir, chainId);
  let deployment = stored;
  if (escrow) {
    deployment = {
      ...(stored ?? { deployBlock: 0, owner: "0x", worker: "0x", harnessSigner: "0x", treasury: "0x" }),
      chainId,
      escrow,
      verifier: (settings.get("chain.verifierAddress") || stored?.verifier || "0x") as Address,
      treasury: (settings.get("chain.treasuryAddress") || stored?.treasury || "0x") as Address,
    } as Deployment;
  }
  return {
    mode: "rpc",
    conn,
    deployment,
    workerKey: (settings.get("chain.workerKey") || undefined) as Hex | undefined,
    harnessKey: (settings.get("chain.harnessKey") || undefined) as Hex | undefined,
    confirmations: settings.get("chain.confirmations"),
    async close() {},
  };
}

async function openDevChain(dataDir: string, settings: SettingsReader): Promise<ChainRuntime> {
  const dev = await startDevChain({ dataDir, chainId: 31337 });
  const conn = connectDevChain(dev);
  const keys = dev.genesis.keys;
  let deployment = readDeployment(dataDir, dev.chainId);
  if (!deployment) {
    deployment = await deployContracts(conn, {
      deployerKey: keys.deployer,
      worker: privateKeyToAddress(keys.worker),
      harnessSigner: privateKeyToAddress(keys.harness),
      treasury: privateKeyToAddress(keys.treasury),
      vkDelta: vkDelta((await loadZkKeys(dataDir)).vk),
      ...deployTerms(settings),
      devExtras: true,
    });
    writeDeployment(dataDir, deployment);
  }
  return {
    mode: "dev",
    conn,
    deployment,
    workerKey: keys.worker,
    harnessKey: keys.harness,
    // the dev chain mines one block per transaction; one confirmation is its finality
    confirmations: 0,
    dev,
    close: () => dev.close(),
  };
}

/** Deploys to the configured chain with the given deployer key (`devsponsor chain deploy`). */
export async function deployToChain(
  runtime: ChainRuntime,
  settings: SettingsReader,
  dataDir: string,
  deployerKey: Hex,
): Promise<Deployment> {
  if (!runtime.workerKey || !runtime.harnessKey) {
    throw unavailable("set the worker and harness keys first (Settings → Chain)");
  }
  const treasury = (settings.get("chain.treasuryAddress") || privateKeyToAddress(deployerKey)) as Address;
  const deployment = await deployContracts(runtime.conn, {
    deployerKey,
    worker: privateKeyToAddress(runtime.workerKey),
    harnessSigner: privateKeyToAddress(runtime.harnessKey),
    treasury,
    vkDelta: vkDelta((await loadZkKeys(dataDir)).vk),
    ...deployTerms(settings),
    devExtras: runtime.mode === "dev",
  });
  writeDeployment(dataDir, deployment);
  return deployment;
}

/** The chain registered at boot (`ctx.chain`), opening it on first use; UNAVAILABLE if it cannot be. */
export async function requireChain(ctx: Pick<AppContext, "chain" | "openChain">): Promise<ChainRuntime> {
  const rt = ctx.chain;
  if (rt) return rt;
  const open = ctx.openChain;
  if (open) {
    try {
      return await open();
    } catch (err) {
      throw unavailable(`the chain could not be opened: ${(err as Error).message}`, { fix: "devsponsor doctor" });
    }
  }
  throw unavailable("the chain is not connected", { fix: "devsponsor doctor" });
}
