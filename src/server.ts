import { createApp, type ServeRole, setupDomains } from "./app";
import type { Config } from "./core/config";
import type { AppContext } from "./core/context";
import { bootstrap } from "./core/boot";
import { withPeerAddress } from "./core/http/client-address";
import { refuseLargeHead } from "./core/http/head-limit";
import { healthFor, instanceHealth } from "./status/service";

/** A running appliance: the HTTP server plus background workers, with a graceful stop. */
export interface RunningServer {
  ctx: AppContext;
  role: ServeRole;
  port: number;
  url: string;
  stop(reason?: string): Promise<void>;
}

/**
 * Boots everything and listens. `stop()` drains requests and jobs, then closes the database. The role says what
 * this process does on a shared database: `web` serves HTTP and enqueues jobs, `worker` runs the job workers and
 * cron and answers only `GET /health` on its port, `all` (the default) does both.
 */
export async function startServer(config: Config, opts: { role?: ServeRole } = {}): Promise<RunningServer> {
  const t0 = performance.now();
  const role = opts.role ?? "all";
  const ctx = await bootstrap(config);
  const lifecycle = await setupDomains(ctx, { role });
  const handle = role === "worker" ? (request: Request) => healthOnly(ctx, request) : createApp(ctx).handle;
  const server = Bun.serve({
    port: config.port,
    hostname: config.host,
    fetch: (request, srv) =>
      refuseLargeHead(request) ?? handle(withPeerAddress(request, srv.requestIP(request)?.address)),
    maxRequestBodySize: 25 * 1024 * 1024, // documents are ≤ 20 MB; the rest is headroom for form encoding
    idleTimeout: 60, // SSE streams send a heartbeat every 15 s
  });
  await lifecycle.start();
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${server.port}`;
  ctx.log.info(role === "worker" ? "devsponsor worker running" : "devsponsor listening", {
    role,
    url,
    version: ctx.version,
    database: ctx.database.kind,
    instanceId: ctx.instanceId,
    dataDir: config.dataDir,
    bootMs: Math.round(performance.now() - t0),
  });

  let stopping: Promise<void> | undefined;
  const stop = (reason = "stop") =>
    (stopping ??= (async () => {
      ctx.log.info("shutting down", { reason });
      await ctx.live?.close(); // open live streams would keep the server from stopping
      await server.stop(false); // stop accepting; wait for in-flight requests
      await lifecycle.stop(); // jobs finish or are released for the next start
      await ctx.database.close();
      ctx.log.info("stopped");
    })());
  return { ctx, role, port: server.port ?? config.port, url, stop };
}

/** A worker node's listener: `GET /health` as anonymous callers see it, nothing else. */
async function healthOnly(ctx: AppContext, request: Request): Promise<Response> {
  if (new URL(request.url).pathname !== "/health" || request.method !== "GET") {
    const error = { code: "NOT_FOUND", message: "This is a worker node: it serves only GET /health." };
    return Response.json({ error }, { status: 404 });
  }
  const health = await instanceHealth(ctx);
  return Response.json(
    { ...healthFor(health, null), role: "worker" },
    { status: health.status === "down" ? 503 : 200 },
  );
}
