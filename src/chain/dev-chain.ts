// The embedded dev chain: Hardhat's EVM (EDR, native) inside the appliance process, spoken to through JSON-RPC
// strings, no HTTP. State survives restarts through a journal: every mined block (its timestamp and raw
// transactions) is appended to <dataDir>/chain/journal.jsonl and replayed at start. With a fixed genesis time the
// replayed chain is identical, block hashes included, so stored tx hashes and sync cursors stay valid.
import {
  ContractDecoder,
  EdrContext,
  GENERIC_CHAIN_TYPE,
  genericChainProviderFactory,
  l1GenesisState,
  l1HardforkFromString,
  type Provider,
} from "@nomicfoundation/edr";
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";

/** Keys the dev chain funds at genesis. Generated per installation and kept in the data dir (mode 0600). */
export interface DevKeys {
  deployer: `0x${string}`;
  worker: `0x${string}`;
  harness: `0x${string}`;
  treasury: `0x${string}`;
  sponsor: `0x${string}`;
  contributor: `0x${string}`;
}

/** Genesis of one dev chain; the same genesis replays to the same chain. */
export interface DevGenesis {
  chainId: number;
  genesisTime: number;
  keys: DevKeys;
}

/** A JSON-RPC error as thrown by `request` (viem reads `code` and `data` to decode reverts). */
export class RpcError extends Error {
  constructor(
    message: string,
    readonly code: number,
    readonly data?: unknown,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** The running dev chain. */
export interface DevChain {
  chainId: number;
  genesis: DevGenesis;
  /** EIP-1193 request: resolves to the JSON-RPC result or throws RpcError. */
  request(args: { method: string; params?: unknown }): Promise<unknown>;
  /** Blocks replayed from the journal at start. */
  replayedBlocks: number;
  close(): Promise<void>;
}

const HARDFORK = "prague";
const DEV_BALANCE = 10n ** 24n; // 1,000,000 coins per dev key
const BLOCK_GAS_LIMIT = 60_000_000n;

let context: EdrContext | undefined;
let contextReady: Promise<void> | undefined;

// EdrContext "should only be called once" per process.
async function edrContext(): Promise<EdrContext> {
  if (!context) {
    context = new EdrContext();
    contextReady = context.registerProviderFactory(GENERIC_CHAIN_TYPE, genericChainProviderFactory());
  }
  await contextReady;
  return context;
}

/** Methods that would make the journal disagree with the chain: refused when the chain persists. */
const NON_REPLAYABLE = new Set([
  "evm_revert",
  "evm_snapshot",
  "hardhat_reset",
  "hardhat_setBalance",
  "hardhat_setCode",
  "hardhat_setNonce",
  "hardhat_setStorageAt",
  "hardhat_mine",
  "evm_setAutomine",
  "evm_setIntervalMining",
  "eth_sendTransaction",
]);

type JournalEntry = { t: number; tx?: string; mine?: true };

/**
 * Starts a dev chain. With `dataDir` it is persistent (genesis and journal under `<dataDir>/chain`); without, it
 * is an in-memory chain with fresh keys, for tests.
 */
export async function startDevChain(opts: { dataDir?: string; chainId?: number } = {}): Promise<DevChain> {
  const dir = opts.dataDir ? join(opts.dataDir, "chain") : undefined;
  const genesis = dir ? loadOrCreateGenesis(dir, opts.chainId ?? 31337) : newGenesis(opts.chainId ?? 31337);
  const ctx = await edrContext();
  const hardfork = l1HardforkFromString(HARDFORK);
  const funded = Object.values(genesis.keys).map((k) => ({
    address: hexToBytes(privateKeyToAddress(k)),
    balance: DEV_BALANCE,
  }));
  const provider: Provider = await ctx.createProvider(
    GENERIC_CHAIN_TYPE,
    {
      allowBlocksWithSameTimestamp: false,
      allowUnlimitedContractSize: false,
      bailOnCallFailure: true, // eth_call reverts are errors with their data, as on a real node
      bailOnTransactionFailure: false,
      chainId: BigInt(genesis.chainId),
      coinbase: new Uint8Array(20),
      defaultTransactionGasLimit: 30_000_000n,
      genesisState: [...l1GenesisState(hardfork), ...funded],
      hardfork: HARDFORK,
      initialBaseFeePerGas: 1_000_000_000n,
      minGasPrice: 0n,
      // @ts-expect-error MineOrdering is a const enum in the typings; the binding takes its string value
      mining: { autoMine: true, blockGasLimit: BLOCK_GAS_LIMIT, memPool: { order: "Fifo" } },
      network: { genesisBlockGasLimit: BLOCK_GAS_LIMIT, genesisBlockTime: BigInt(genesis.genesisTime) },
      networkId: BigInt(genesis.chainId),
      observability: {},
      ownedAccounts: [],
      precompileOverrides: [],
    },
    { enable: false, decodeConsoleLogInputsCallback: () => [], printLineCallback: () => {} },
    { subscriptionCallback: () => {} },
    new ContractDecoder(),
  );

  let nextId = 0;
  const raw = async (method: string, params: unknown = []): Promise<unknown> => {
    const response = await provider.handleRequest(JSON.stringify({ jsonrpc: "2.0", id: ++nextId, method, params }));
    const body = typeof response.data === "string" ? JSON.parse(response.data) : response.data;
    if (body.error) {
      // EDR reports a revert as -32000 with { data: "0x…", reason, transactionHash }; nodes (and Hardhat's own
      // HTTP server) answer code 3 with the revert bytes, which is what clients decode custom errors from
      const d = body.error.data;
      if (d && typeof d === "object" && typeof d.data === "string") throw new RpcError(body.error.message, 3, d.data);
      throw new RpcError(body.error.message, body.error.code, d);
    }
    return body.result;
  };

  const journalPath = dir ? join(dir, "journal.jsonl") : undefined;
  let replayedBlocks = 0;
  if (journalPath && existsSync(journalPath)) {
    for (const line of readFileSync(journalPath, "utf8").split("\n")) {
      if (!line.trim()) continue;
      const entry = JSON.parse(line) as JournalEntry;
      await raw("evm_setNextBlockTimestamp", [`0x${entry.t.toString(16)}`]);
      if (entry.tx) await raw("eth_sendRawTransaction", [entry.tx]);
      else await raw("evm_mine", []);
      replayedBlocks++;
    }
  }

  const latestTimestamp = async () => {
    const block = (await raw("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
    return Number(BigInt(block.timestamp));
  };
  const record = async (entry: Omit<JournalEntry, "t">) => {
    if (!journalPath) return;
    appendFileSync(journalPath, `${JSON.stringify({ t: await latestTimestamp(), ...entry })}\n`);
  };

  // Writes go one at a time so the journal's order is the chain's order.
  let writes: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = writes.then(fn, fn);
    writes = run.catch(() => {});
    return run;
  };

  let closed = false;
  const request = async ({ method, params }: { method: string; params?: unknown }): Promise<unknown> => {
    if (closed) throw new RpcError("dev chain is closed", -32000);
    if (journalPath && NON_REPLAYABLE.has(method)) {
      throw new RpcError(`${method} is not available on the persistent dev chain`, -32601);
    }
    if (method === "eth_sendRawTransaction") {
      return serial(async () => {
        const hash = await raw(method, params ?? []);
        await record({ tx: (params as string[])[0] });
        return hash;
      });
    }
    if (method === "evm_mine") {
      return serial(async () => {
        const out = await raw(method, params ?? []);
        await record({ mine: true });
        return out;
      });
    }
    return raw(method, params ?? []);
  };

  return {
    chainId: genesis.chainId,
    genesis,
    request,
    replayedBlocks,
    async close() {
      closed = true;
      await writes;
    },
  };
}

function newGenesis(chainId: number): DevGenesis {
  return {
    chainId,
    genesisTime: Math.floor(Date.now() / 1000),
    keys: {
      deployer: generatePrivateKey(),
      worker: generatePrivateKey(),
      harness: generatePrivateKey(),
      treasury: generatePrivateKey(),
      sponsor: generatePrivateKey(),
      contributor: generatePrivateKey(),
    },
  };
}

function loadOrCreateGenesis(dir: string, chainId: number): DevGenesis {
  const path = join(dir, "genesis.json");
  if (existsSync(path)) return JSON.parse(readFileSync(path, "utf8")) as DevGenesis;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const genesis = newGenesis(chainId);
  writeFileSync(path, `${JSON.stringify(genesis, null, 2)}\n`, { mode: 0o600 });
  return genesis;
}

function hexToBytes(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex.slice(2), "hex"));
}
