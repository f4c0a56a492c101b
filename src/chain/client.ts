// viem clients for the chain the appliance uses: the embedded dev chain (custom EIP-1193 transport, in process)
// or any EVM node over JSON-RPC.
import {
  type Account,
  type Chain,
  createPublicClient,
  createWalletClient,
  custom,
  defineChain,
  type Hex,
  http,
  type PublicClient,
  type Transport,
  type WalletClient,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";
import type { DevChain } from "./dev-chain";

/** A connection to one chain: its viem chain definition, a transport and a public client. */
export interface ChainConnection {
  kind: "dev" | "rpc";
  chain: Chain;
  transport: Transport;
  publicClient: PublicClient;
  /** Wallet client signing locally with `key`. */
  wallet(key: Hex): WalletClient<Transport, Chain, Account>;
  /** Raw EIP-1193 request (for evm_* methods in tests and the dev chain's RPC endpoint). */
  request(method: string, params?: unknown[]): Promise<unknown>;
}

function chainDef(chainId: number, rpcUrl: string): Chain {
  return defineChain({
    id: chainId,
    name: chainId === 31337 ? "DevSponsor dev chain" : `chain ${chainId}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

function connection(kind: ChainConnection["kind"], chain: Chain, transport: Transport, pollingInterval: number) {
  const publicClient = createPublicClient({ chain, transport, pollingInterval }) as PublicClient;
  const base = transport({ chain, retryCount: 0 });
  return {
    kind,
    chain,
    transport,
    publicClient,
    wallet: (key: Hex) => createWalletClient({ chain, transport, account: privateKeyToAccount(key), pollingInterval }),
    request: (method: string, params: unknown[] = []) => base.request({ method, params }),
  } satisfies ChainConnection;
}

/** Connects to the embedded dev chain (no network). */
export function connectDevChain(dev: DevChain): ChainConnection {
  const transport = custom({ request: (args) => dev.request(args) }, { retryCount: 0 });
  return connection("dev", chainDef(dev.chainId, "http://127.0.0.1/chain/rpc"), transport, 20);
}

/** Default time one JSON-RPC request may take: slow nodes took 17–19 s to estimate a payment's gas. */
export const DEFAULT_RPC_TIMEOUT_MS = 60_000;

/**
 * Connects to a node over JSON-RPC; transient failures are retried by viem with backoff. `timeoutMs` bounds one
 * request (Settings → Chain → RPC request timeout).
 */
export function connectRpc(
  rpcUrl: string,
  chainId: number,
  opts: { pollingInterval?: number; timeoutMs?: number } = {},
): ChainConnection {
  const loopback = /^https?:\/\/(127\.|localhost|\[::1\])/.test(rpcUrl);
  const timeout = opts.timeoutMs ?? DEFAULT_RPC_TIMEOUT_MS;
  const transport = http(rpcUrl, { retryCount: 3, retryDelay: 250, timeout });
  return connection("rpc", chainDef(chainId, rpcUrl), transport, opts.pollingInterval ?? (loopback ? 50 : 4_000));
}
