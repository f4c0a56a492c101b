import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync, brotliDecompressSync } from "node:zlib";
import { createTestApp, type TestApp } from "../../../test/support/app";
import { createOrgAs, createUser, type TestUser } from "../../../test/support/auth";
import { ASSETS } from "../../../ui/assets";
import { type Encoding, pickEncoding } from "./compression";

describe("Accept-Encoding negotiation", () => {
  const cases: [string | null, Encoding | null][] = [
    [null, null],
    ["", null],
    ["identity", null],
    ["gzip", "gzip"],
    ["gzip, deflate, br", "br"],
    ["br;q=0, gzip", "gzip"],
    ["gzip;q=0.5, br;q=0.4", "gzip"],
    ["*", "br"],
    ["*;q=0", null],
    ["deflate", null],
  ];
  for (const [header, want] of cases) test(`${header} → ${want}`, () => expect(pickEncoding(header)).toBe(want));
});

describe("compressed responses", () => {
  let t: TestApp;
  let user: TestUser;
  beforeAll(async () => {
    t = await createTestApp("pglite");
    user = await createUser(t);
  }, 60_000);
  afterAll(() => t.close());

  const get = (path: string, encoding: string | null, who?: TestUser) =>
    t.request("GET", path, {
      headers: { accept: "text/html", ...(encoding ? { "accept-encoding": encoding } : {}), ...who?.headers },
    });

  test("htmx, CSS and JS: brotli or gzip on request, identical after decoding, cached between requests", async () => {
    for (const asset of [ASSETS.htmx, ASSETS.css, ASSETS.js]) {
      const plain = await get(asset.path, null);
      expect(plain.headers.get("content-encoding")).toBeNull();
      expect(plain.headers.get("vary")).toContain("Accept-Encoding");
      const original = new Uint8Array(await plain.arrayBuffer());
      const br = await get(asset.path, "gzip, br");
      expect(br.headers.get("content-encoding")).toBe("br");
      expect(br.headers.get("content-type")).toBe(asset.type);
      const brBytes = new Uint8Array(await br.arrayBuffer());
      expect(brBytes.byteLength).toBeLessThan(original.byteLength);
      expect(new Uint8Array(brotliDecompressSync(brBytes))).toEqual(original);
      const gz = await get(asset.path, "gzip");
      expect(gz.headers.get("content-encoding")).toBe("gzip");
      expect(new Uint8Array(gunzipSync(new Uint8Array(await gz.arrayBuffer())))).toEqual(original);
      const t0 = performance.now();
      await (await get(asset.path, "gzip, br")).arrayBuffer();
      expect(performance.now() - t0).toBeLessThan(50); // from memory: quality-11 brotli of htmx takes far longer
    }
  });

  test("pages are compressed, error pages too; JSON below the threshold is left alone", async () => {
    const page = await get("/explore", "gzip", user);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-encoding")).toBe("gzip");
    expect(page.headers.get("x-request-id")).toBeTruthy();
    expect(page.headers.get("content-security-policy")).toBeTruthy();
    expect(gunzipSync(new Uint8Array(await page.arrayBuffer())).toString()).toContain("Explore funded tasks");
    const missing = await get("/projects/00000000-0000-4000-8000-000000000000", "br", user);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-encoding")).toBe("br");
    expect(brotliDecompressSync(new Uint8Array(await missing.arrayBuffer())).toString()).toContain("Not found");
    const small = await t.request("GET", "/health", { headers: { "accept-encoding": "gzip" } });
    expect(small.headers.get("content-encoding")).toBeNull();
  });

  test("event streams are never compressed", async () => {
    const orgId = await createOrgAs(user);
    const created = await user.request("POST", `/api/orgs/${orgId}/projects`, { body: { title: "Streams" } });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const res = await user.request("POST", "/api/ai/sidebar", {
      body: { message: "what is left to do here?", projectId: id },
      headers: { "accept-encoding": "gzip, br", accept: "text/event-stream" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(await res.text()).toContain("event: done");
  });
});
