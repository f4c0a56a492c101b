import { Elysia } from "elysia";
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { createRateLimiter } from "../core/http/rate-limit";
import { requireChain } from "./service";

/**
 * What a browser wallet needs to read the chain and send transactions it signed itself. Everything else stays
 * inside: evm_*, hardhat_* and debug_* rewrite the chain; eth_sendTransaction would sign with unlocked dev keys.
 */
export const WALLET_METHODS = new Set([
  "eth_chainId",
  "eth_blockNumber",
  "eth_getBalance",
  "eth_call",
  "eth_estimateGas",
  "eth_gasPrice",
  "eth_maxPriorityFeePerGas",
  "eth_feeHistory",
  "eth_getTransactionCount",
  "eth_getTransactionReceipt",
  "eth_getTransactionByHash",
  "eth_sendRawTransaction",
  "eth_getBlockByNumber",
  "eth_getBlockByHash",
  "eth_getCode",
  "eth_getLogs",
  "net_version",
  "web3_clientVersion",
]);

/** Largest request body, calls in one batch, and calls per user (a burst, then a steady rate per second). */
export const RPC_LIMITS = { maxBytes: 64 * 1024, maxBatch: 20, burst: 200, perSecond: 20 };

type RpcId = string | number | null;
const rpcError = (id: RpcId, code: number, message: string) => ({ jsonrpc: "2.0", id, error: { code, message } });

/** Reads at most `max` bytes of a body; null when it is longer. */
async function readLimited(request: Request, max: number): Promise<string | null> {
  if (Number(request.headers.get("content-length") ?? 0) > max) return null;
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > max) return null;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/** The embedded dev chain's JSON-RPC endpoint (dev mode only), so a signed-in sponsor's wallet can deposit. */
export const chainRoutes = (ctx: AppContext) => {
  const limiter = createRateLimiter({ capacity: RPC_LIMITS.burst, refillPerSecond: RPC_LIMITS.perSecond });
  return new Elysia({ name: "chain" }).post(
    "/chain/rpc",
    async ({ request, set }) => {
      const reply = (status: number, body: unknown) => {
        set.status = status;
        return body;
      };
      const principal = await ctx.authenticate(request);
      if (!principal) return reply(401, rpcError(null, -32001, "Sign in to use the dev chain."));
      const text = await readLimited(request, RPC_LIMITS.maxBytes);
      if (text === null)
        return reply(413, rpcError(null, -32600, `The request is larger than ${RPC_LIMITS.maxBytes} bytes.`));
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return reply(400, rpcError(null, -32700, "The request is not JSON."));
      }
      const calls = Array.isArray(body) ? body : [body];
      if (calls.length === 0 || calls.length > RPC_LIMITS.maxBatch) {
        return reply(400, rpcError(null, -32600, `A batch holds 1 to ${RPC_LIMITS.maxBatch} calls.`));
      }
      try {
        limiter.take(principal.userId, calls.length);
      } catch (err) {
        const retry = err instanceof AppError ? Number(err.details.retryAfterSeconds) : 1;
        set.headers["retry-after"] = String(retry);
        return reply(429, rpcError(null, -32005, "Too many requests; slow down."));
      }
      const rt = await requireChain(ctx).catch(() => undefined);
      const dev = rt?.dev;
      if (!dev) return reply(404, rpcError(null, -32601, "No embedded dev chain here."));

      const one = async (req: unknown) => {
        if (!req || typeof req !== "object" || Array.isArray(req))
          return rpcError(null, -32600, "Not a JSON-RPC call.");
        const { id: rawId, method, params } = req as { id?: unknown; method?: unknown; params?: unknown };
        const id: RpcId = typeof rawId === "string" || typeof rawId === "number" ? rawId : null;
        if (typeof method !== "string" || !WALLET_METHODS.has(method)) {
          return rpcError(id, -32601, `method not available: ${String(method).slice(0, 60)}`);
        }
        if (params !== undefined && !Array.isArray(params)) return rpcError(id, -32602, "params must be an array.");
        try {
          return { jsonrpc: "2.0", id, result: await dev.request({ method, params: params ?? [] }) };
        } catch (err) {
          const e = err as { code?: number; message: string; data?: unknown };
          return { ...rpcError(id, e.code ?? -32603, e.message), ...(e.data ? { data: e.data } : {}) };
        }
      };
      return Array.isArray(body) ? Promise.all(calls.map(one)) : one(body);
    },
    {
      parse: "none",
      detail: {
        summary: "JSON-RPC of the embedded dev chain for signed-in wallets (read calls and signed transactions)",
        tags: ["chain"],
      },
    },
  );
};
