// An in-process appliance for route tests: a fresh database, the real app, and a request helper.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createApp, setupDomains } from "../../src/app";
import { bootstrap } from "../../src/core/boot";
import { loadConfig } from "../../src/core/config";
import type { AppContext } from "../../src/core/context";
import { createTestDb, type DbKind } from "./db";

export interface TestApp {
  ctx: AppContext;
  app: ReturnType<typeof createApp>;
  /** Sends a request through the app; `body` objects are sent as JSON. */
  request(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<Response>;
  close(): Promise<void>;
}

/** Boots the real application on a fresh test database of `kind` (no HTTP listener, no background workers). */
export async function createTestApp(kind: DbKind = "pglite", env: NodeJS.ProcessEnv = {}): Promise<TestApp> {
  const database = await createTestDb(kind);
  const dataDir = mkdtempSync(join(tmpdir(), "ds-app-"));
  const fullEnv = { DEVSPONSOR_DATA_DIR: dataDir, DEVSPONSOR_MASTER_KEY: "11".repeat(32), ...env };
  const ctx = await bootstrap(loadConfig(fullEnv), { database, env: fullEnv });
  // Stopped on close, as the server stops it at shutdown: the domains' process-wide subscriptions (task events) end
  // with the app instead of acting on the next test app's transactions.
  const lifecycle = await setupDomains(ctx);
  const app = createApp(ctx);
  return {
    ctx,
    app,
    request: (method, path, opts = {}) => {
      const headers: Record<string, string> = { ...opts.headers };
      let body: BodyInit | undefined;
      if (opts.body instanceof FormData || typeof opts.body === "string" || opts.body instanceof URLSearchParams) {
        body = opts.body as BodyInit;
      } else if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers["content-type"] ??= "application/json";
      }
      return app.handle(new Request(`http://localhost${path}`, { method, headers, body }));
    },
    close: async () => {
      await lifecycle.stop();
      await database.close();
    },
  };
}
