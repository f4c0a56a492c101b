// HTTP conventions shared by every route: the error envelope, request ids, security headers, CORS, OpenAPI.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createRateLimiter } from "./core/http/rate-limit";
import type { AppError } from "./core/errors";
import { createTestApp, type TestApp } from "../test/support/app";
import { dbKinds } from "../test/support/db";

for (const kind of dbKinds()) {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(kind, { DEVSPONSOR_INSTANCE_CORS_ORIGINS: "https://ok.example" });
  });
  afterAll(() => t.close());

  const envelope = [
    { name: "unknown route", method: "GET", path: "/api/no/such/route", status: 404, code: "NOT_FOUND" },
    { name: "unknown page", method: "GET", path: "/no-such-page", status: 404, code: "NOT_FOUND" },
    {
      name: "malformed JSON",
      method: "PATCH",
      path: "/api/settings",
      body: "{not json",
      status: 400,
      code: "INVALID_INPUT",
    },
    {
      name: "wrong body type",
      method: "PATCH",
      path: "/api/settings",
      body: "[1,2]",
      status: 400,
      code: "INVALID_INPUT",
    },
    { name: "signed-out settings", method: "GET", path: "/api/settings", status: 401, code: "UNAUTHORIZED" },
  ];
  for (const s of envelope) {
    test(`[${kind}] ${s.name} → ${s.status} ${s.code} in the envelope`, async () => {
      const res = await t.request(s.method, s.path, {
        body: s.body,
        headers: s.body ? { "content-type": "application/json" } : {},
      });
      expect(res.status).toBe(s.status);
      expect(res.headers.get("content-type")).toContain("application/json");
      const json = (await res.json()) as any;
      expect(Object.keys(json)).toEqual(["error"]);
      expect(json.error.code).toBe(s.code);
      expect(typeof json.error.message).toBe("string");
      expect(typeof json.error.details).toBe("object");
    });
  }

  test(`[${kind}] browsers get an HTML error page with the same status`, async () => {
    const res = await t.request("GET", "/no-such-page", { headers: { accept: "text/html" } });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("Not found");
  });

  test(`[${kind}] /health reports the database component`, async () => {
    const res = await t.request("GET", "/health");
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    // Background services (the chain) are not started in an in-process test app, so "degraded" is fair here.
    expect(["ok", "degraded"]).toContain(body.status);
    // anonymous callers see states only (src/status/status.test.ts covers the details admins see)
    expect(body.components.database).toEqual({ status: "ok" });
  });

  test(`[${kind}] request ids are generated or echoed; security headers on every response`, async () => {
    const a = await t.request("GET", "/health");
    expect(a.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const b = await t.request("GET", "/api/nope", { headers: { "x-request-id": "abc-123" } });
    expect(b.headers.get("x-request-id")).toBe("abc-123");
    for (const r of [a, b]) {
      expect(r.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      expect(r.headers.get("x-content-type-options")).toBe("nosniff");
      expect(r.headers.get("strict-transport-security")).toBeNull(); // plain HTTP here
    }
    const secure = await t.app.handle(new Request("https://localhost/health"));
    expect(secure.headers.get("strict-transport-security")).toContain("max-age=");
  });

  test(`[${kind}] CORS answers only listed origins`, async () => {
    const ok = await t.request("OPTIONS", "/api/settings", { headers: { origin: "https://ok.example" } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe("https://ok.example");
    const bad = await t.request("OPTIONS", "/api/settings", { headers: { origin: "https://evil.example" } });
    expect(bad.status).toBe(403);
    expect(bad.headers.get("access-control-allow-origin")).toBeNull();
    const get = await t.request("GET", "/health", { headers: { origin: "https://evil.example" } });
    expect(get.headers.get("access-control-allow-origin")).toBeNull();
  });

  test(`[${kind}] OpenAPI describes the real routes; /api/docs renders them`, async () => {
    const doc = (await (await t.request("GET", "/api/openapi.json")).json()) as any;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.paths["/health"].get).toBeDefined();
    expect(doc.paths["/api/settings"].patch.requestBody).toBeDefined();
    const page = await t.request("GET", "/api/docs");
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("PATCH /api/settings");
  });

  test(`[${kind}] static assets are served at content-hashed URLs with long caching`, async () => {
    const page = await (await t.request("GET", "/status")).text();
    const css = page.match(/href="(\/static\/app\.[0-9a-f]{10}\.css)"/)?.[1];
    expect(css).toBeDefined();
    const res = await t.request("GET", css!);
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect((await t.request("GET", "/static/app.0000000000.css")).status).toBe(404);
  });
}

test("token bucket: capacity, refill, and RATE_LIMITED with a retry hint", () => {
  const rl = createRateLimiter({ capacity: 3, refillPerSecond: 1 });
  rl.take("a", 1, 0);
  rl.take("a", 1, 0);
  rl.take("a", 1, 0);
  let err: unknown;
  try {
    rl.take("a", 1, 0);
  } catch (e) {
    err = e;
  }
  expect((err as AppError).code).toBe("RATE_LIMITED");
  expect((err as AppError).status).toBe(429);
  rl.take("b", 1, 0); // other keys are independent
  rl.take("a", 1, 1000); // one token back after a second
});
