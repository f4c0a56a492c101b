// The listening server: an oversized request head gets a 431 in the error envelope from a real Bun.serve.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDb } from "../test/support/db";
import { loadConfig } from "./core/config";
import { MAX_HEAD_BYTES } from "./core/http/head-limit";
import { type RunningServer, startServer } from "./server";

let server: RunningServer;
let dropDb = async () => {};
beforeAll(async () => {
  const env: NodeJS.ProcessEnv = {
    DEVSPONSOR_DATA_DIR: mkdtempSync(join(tmpdir(), "ds-server-")),
    DEVSPONSOR_MASTER_KEY: "22".repeat(32),
    HOST: "127.0.0.1",
    LOG_LEVEL: "error",
  };
  if (process.env.TEST_DATABASE_URL) {
    const fresh = await createTestDb("postgres"); // already migrated: no PGlite initdb here
    env.DATABASE_URL = fresh.url;
    dropDb = () => fresh.close();
  }
  server = await startServer(loadConfig(env, { port: 0 }));
}, 60_000);
afterAll(async () => {
  await server?.stop("test");
  await dropDb();
});

test("a query string over the app's head limit is a 431 in the envelope, JSON or HTML", async () => {
  const long = "a".repeat(MAX_HEAD_BYTES);
  const api = await fetch(`${server.url}/api/projects?q=${long}`);
  expect(api.status).toBe(431);
  expect(api.headers.get("content-type")).toContain("application/json");
  expect(await api.json()).toMatchObject({ error: { code: "HEADERS_TOO_LARGE", details: {} } });
  const page = await fetch(`${server.url}/projects?q=${long}`, { headers: { accept: "text/html" } });
  expect(page.status).toBe(431);
  expect(await page.text()).toContain("HEADERS_TOO_LARGE");
});

test("headers over the limit are a 431 in the envelope; a normal request is served", async () => {
  const res = await fetch(`${server.url}/api/me`, { headers: { "x-padding": "b".repeat(MAX_HEAD_BYTES) } });
  expect(res.status).toBe(431);
  expect((await res.json()).error.code).toBe("HEADERS_TOO_LARGE");
  const ok = await fetch(`${server.url}/health`, { headers: { "x-padding": "b".repeat(MAX_HEAD_BYTES / 2) } });
  expect(ok.status).toBeLessThan(500);
  expect(ok.status).not.toBe(431);
});
