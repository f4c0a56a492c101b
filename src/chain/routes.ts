import { Elysia } from "elysia";
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { requireChain } from "./service";

// Browser wallets may read the chain and send signed transactions; test-only methods (evm_*, hardhat_*) stay inside.
const ALLOWED = /^(eth_|net_version$|web3_clientVersion$)/;
const REFUSED = new Set(["eth_sendTransaction", "eth_sign", "eth_signTypedData_v4", "eth_accounts"]);

/** The embedded dev chain's JSON-RPC endpoint (dev mode only), so a sponsor's wallet can deposit. */
export const chainRoutes = (ctx: AppContext) =>
  new Elysia({ name: "chain" }).post(
    "/chain/rpc",
    async ({ body }) => {
      const rt = await requireChain(ctx).catch(() => undefined);
      if (!rt?.dev) throw new AppError("NOT_FOUND", "No embedded dev chain here.", 404);
      const one = async (req: { id?: unknown; method?: unknown; params?: unknown }) => {
        const method = String(req.method ?? "");
        if (!ALLOWED.test(method) || REFUSED.has(method)) {
          return {
            jsonrpc: "2.0",
            id: req.id ?? null,
            error: { code: -32601, message: `method not available: ${method}` },
          };
        }
        try {
          return {
            jsonrpc: "2.0",
            id: req.id ?? null,
            result: await rt.dev!.request({ method, params: req.params ?? [] }),
          };
        } catch (err) {
          const e = err as { code?: number; message: string; data?: unknown };
          return {
            jsonrpc: "2.0",
            id: req.id ?? null,
            error: { code: e.code ?? -32603, message: e.message, data: e.data },
          };
        }
      };
      return Array.isArray(body)
        ? Promise.all(body.slice(0, 50).map(one))
        : one((body ?? {}) as Record<string, unknown>);
    },
    { detail: { summary: "JSON-RPC of the embedded dev chain (wallets)", tags: ["chain"] } },
  );
