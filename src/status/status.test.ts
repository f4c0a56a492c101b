import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";

// An RPC provider's URL carries its API key; viem puts the URL into its error messages.
const KEY = "sk_live_abcdef123456";

describe("/health and /status", () => {
  let t: TestApp;
  let admin: TestUser;
  let user: TestUser;
  beforeAll(async () => {
    t = await createTestApp("pglite", {
      DEVSPONSOR_CHAIN_MODE: "rpc",
      DEVSPONSOR_CHAIN_RPC_URL: `http://127.0.0.1:9/v3/${KEY}`,
    });
    await t.ctx.openChain?.().catch(() => undefined);
    admin = await createUser(t, { admin: true });
    user = await createUser(t);
    await new Promise((r) => setTimeout(r, 600)); // past the health cache
  });
  afterAll(() => t.close());

  test("anonymous callers and users see states only: no error strings, URLs or keys", async () => {
    for (const get of [(path: string) => t.request("GET", path), (path: string) => user.request("GET", path)]) {
      const res = await get("/health");
      const text = await res.text();
      expect(text).not.toContain(KEY);
      expect(text).not.toContain("127.0.0.1");
      const body = JSON.parse(text);
      expect(Object.keys(body).sort()).toEqual(["components", "status"]);
      expect(body.components.chain).toEqual({ status: "degraded" });
      expect(body.components.database).toEqual({ status: "ok" });
      const page = await (await get("/status")).text();
      expect(page).not.toContain(KEY);
      expect(page).not.toContain("HTTP request failed");
      expect(page).toContain("degraded");
    }
  });

  test("admins see the details", async () => {
    const body = (await (await admin.request("GET", "/health")).json()) as any;
    expect(body.components.chain.detail).toContain(KEY);
    expect(body.components.database.kind).toBe("pglite");
    expect(typeof body.version).toBe("string");
    expect(await (await admin.request("GET", "/status")).text()).toContain("HTTP request failed");
  });
});
