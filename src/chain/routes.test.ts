import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { type DevChain, startDevChain } from "./dev-chain";
import { RPC_LIMITS } from "./routes";
import type { ChainRuntime } from "./service";

const call = (method: string, params: unknown[] = [], id: number | string = 1) => ({
  jsonrpc: "2.0",
  id,
  method,
  params,
});

describe("POST /chain/rpc", () => {
  let t: TestApp;
  let dev: DevChain;
  let alice: TestUser;
  beforeAll(async () => {
    t = await createTestApp();
    dev = await startDevChain();
    t.ctx.chain = { dev } as unknown as ChainRuntime;
    alice = await createUser(t);
  });
  afterAll(async () => {
    await dev.close();
    await t.close();
  });

  const rpc = (who: TestUser | null, body: unknown, headers: Record<string, string> = {}) =>
    who ? who.request("POST", "/chain/rpc", { body, headers }) : t.request("POST", "/chain/rpc", { body, headers });

  test("anonymous callers get a JSON-RPC error, not the chain", async () => {
    const res = await rpc(null, call("eth_chainId"));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32001 } });
  });

  test("a signed-in wallet reads the chain", async () => {
    const res = await rpc(alice, call("eth_chainId", [], 7));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ jsonrpc: "2.0", id: 7, result: "0x7a69" });
  });

  const refused = [
    "evm_mine",
    "evm_increaseTime",
    "evm_snapshot",
    "hardhat_setBalance",
    "hardhat_impersonateAccount",
    "debug_traceTransaction",
    "eth_sendTransaction",
    "eth_accounts",
    "eth_sign",
    "personal_sign",
    "eth_coinbase",
  ];
  for (const method of refused) {
    test(`${method} is not available`, async () => {
      const before = await dev.request({ method: "eth_blockNumber" });
      const res = await rpc(alice, call(method, []));
      expect(await res.json()).toMatchObject({ id: 1, error: { code: -32601 } });
      expect(await dev.request({ method: "eth_blockNumber" })).toBe(before);
    });
  }

  test("batches are bounded; each call answers on its own", async () => {
    const ok = await rpc(alice, [call("eth_chainId", [], 1), call("evm_mine", [], 2)]);
    expect(await ok.json()).toEqual([
      { jsonrpc: "2.0", id: 1, result: "0x7a69" },
      { jsonrpc: "2.0", id: 2, error: { code: -32601, message: "method not available: evm_mine" } },
    ]);
    const bomb = await rpc(
      alice,
      Array.from({ length: RPC_LIMITS.maxBatch + 1 }, (_, i) => call("eth_chainId", [], i)),
    );
    expect(bomb.status).toBe(400);
    expect(await bomb.json()).toMatchObject({ error: { code: -32600 } });
    expect((await (await rpc(alice, [])).json()).error.code).toBe(-32600);
  });

  test("bodies over the size limit and bodies that are not JSON are refused", async () => {
    const big = await rpc(alice, call("eth_call", [{ data: `0x${"00".repeat(RPC_LIMITS.maxBytes)}` }, "latest"]));
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: -32600 } });
    const junk = await rpc(alice, "{not json", { "content-type": "application/json" });
    expect(junk.status).toBe(400);
    expect(await junk.json()).toMatchObject({ error: { code: -32700 } });
  });

  test("each user has a rate limit", async () => {
    const bob = await createUser(t);
    const batch = Array.from({ length: RPC_LIMITS.maxBatch }, (_, i) => call("eth_chainId", [], i));
    let status = 200;
    let sent = 0;
    while (status === 200 && sent < 2 * RPC_LIMITS.burst) {
      status = (await rpc(bob, batch)).status;
      sent += batch.length;
    }
    expect(status).toBe(429);
    expect(sent).toBeGreaterThan(RPC_LIMITS.burst);
    expect(sent).toBeLessThan(RPC_LIMITS.burst + 3 * batch.length);
    // another user is not held up by bob
    expect((await rpc(await createUser(t), call("eth_chainId"))).status).toBe(200);
  });
});
