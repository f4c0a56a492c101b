// A JSON-RPC relay in front of a node that reports reverts the way other node families do. Hardhat's HTTP server
// answers a revert as error code 3 with the revert bytes in `data`; the relay forwards every request unchanged and
// rewrites only such error responses into one of the other shapes seen on the wire, so our client code is tested
// against each of them over real HTTP. It can also delay chosen methods, as a slow node does.
import type { Server } from "bun";

/** How the relay reports a revert. */
export type RevertShape =
  /** Geth-family, Besu, Nethermind: `-32000` with the revert bytes as a hex string in `data`. */
  | "-32000"
  /** `-32603` with the node's error nested: `data: { code: 3, message, data: "0x…" }`. */
  | "nested"
  /** `-32603` with `data: { message, originalError: { code: 3, message, data: "0x…" } }`. */
  | "originalError"
  /** `-32000` with the revert bytes only in the message: "execution reverted: 0x…". */
  | "message";

/** A running relay. */
export interface RpcRelay {
  url: string;
  /** Requests forwarded, by method. */
  counts: Map<string, number>;
  /** Error responses rewritten. */
  rewritten: number;
  stop(): Promise<void>;
}

type RpcError = { code: number; message: string; data?: unknown };

function reshape(shape: RevertShape, e: RpcError): RpcError {
  const data = e.data as string;
  switch (shape) {
    case "-32000":
      return { code: -32000, message: "Execution reverted", data };
    case "nested":
      return { code: -32603, message: "Internal JSON-RPC error.", data: { code: 3, message: e.message, data } };
    case "originalError":
      return {
        code: -32603,
        message: "Error: Transaction reverted",
        data: { message: e.message, originalError: { code: 3, message: "execution reverted", data } },
      };
    case "message":
      return { code: -32000, message: `execution reverted: ${data}` };
  }
}

/** Starts a relay on 127.0.0.1 (a free port) to `upstream`. */
export function startRpcRelay(
  upstream: string,
  opts: { shape: RevertShape; delayMs?: Partial<Record<string, number>> },
): RpcRelay {
  const counts = new Map<string, number>();
  const relay: RpcRelay = {
    url: "",
    counts,
    rewritten: 0,
    async stop() {
      server.stop(true);
    },
  };
  const handle = async (msg: { method?: string }, reply: { error?: RpcError }) => {
    counts.set(msg.method ?? "", (counts.get(msg.method ?? "") ?? 0) + 1);
    const delay = opts.delayMs?.[msg.method ?? ""];
    if (delay) await Bun.sleep(delay);
    const e = reply.error;
    // a revert with its bytes: code 3 and hex data of at least a selector
    if (e && e.code === 3 && typeof e.data === "string" && e.data.length >= 10) {
      relay.rewritten++;
      return { ...reply, error: reshape(opts.shape, e) };
    }
    return reply;
  };
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(req) {
      const body = await req.text();
      const res = await fetch(upstream, { method: "POST", headers: { "content-type": "application/json" }, body });
      const parsed = JSON.parse(body);
      const answer = await res.json();
      // a batch's answers may come in any order: pair them with their requests by id
      const byId = (id: unknown) => (answer as { id?: unknown }[]).find((r) => r.id === id) as { error?: RpcError };
      const out = Array.isArray(parsed)
        ? await Promise.all(parsed.map((m: { id?: unknown; method?: string }) => handle(m, byId(m.id))))
        : await handle(parsed, answer as { error?: RpcError });
      return Response.json(out);
    },
  });
  relay.url = `http://127.0.0.1:${server.port}`;
  return relay;
}
