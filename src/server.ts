import { createApp, setupDomains } from "./app";
import type { Config } from "./core/config";
import type { AppContext } from "./core/context";
import { bootstrap } from "./core/boot";
import { withPeerAddress } from "./core/http/client-address";
import { refuseLargeHead } from "./core/http/head-limit";

/** A running appliance: the HTTP server plus background workers, with a graceful stop. */
export interface RunningServer {
  ctx: AppContext;
  port: number;
  url: string;
  stop(reason?: string): Promise<void>;
}

/** Boots everything and listens. `stop()` drains requests and jobs, then closes the database. */
export async function startServer(config: Config): Promise<RunningServer> {
  const t0 = performance.now();
  const ctx = await bootstrap(config);
  const lifecycle = await setupDomains(ctx);
  const app = createApp(ctx);
  const server = Bun.serve({
    port: config.port,
    hostname: config.host,
    fetch: (request, srv) =>
      refuseLargeHead(request) ?? app.handle(withPeerAddress(request, srv.requestIP(request)?.address)),
    maxRequestBodySize: 25 * 1024 * 1024, // documents are ≤ 20 MB; the rest is headroom for form encoding
    idleTimeout: 60, // SSE streams send a heartbeat every 15 s
  });
  await lifecycle.start();
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${server.port}`;
  ctx.log.info("devsponsor listening", {
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
  return { ctx, port: server.port ?? config.port, url, stop };
}
