// Live updates: N open `GET /events/stream` clients on one appliance (the real app behind Bun.serve, PGlite in
// memory; PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL is set), spread over 10 signed-in users and held
// by a separate client process (raw HTTP over TCP, so the clients' memory is not the server's). Measures the
// server's extra resident memory for the open streams, and the latency from a committed notification to the bell
// event on a stream of its user (20 notifications, one at a time). Targets: ≤ 100 MB more for 1,000 clients,
// ≤ 1 s to the browser. BENCH_SSE_CLIENTS sets N (default 1000).
import { createApp } from "../src/app";
import type { Db } from "../src/core/db";
import { setLogSink } from "../src/core/logger";
import { notify } from "../src/notifications/service";
import { createTestApp } from "../test/support/app";
import { createUser } from "../test/support/auth";
import { pct } from "./support";

const N = Number(process.env.BENCH_SSE_CLIENTS ?? 1000);
const USERS = 10;

if (process.argv[2] === "clients") {
  // The client process: opens the streams given on stdin, says "ready" once each got its first bell, then holds them.
  const { port, cookies, n } = JSON.parse(await new Response(Bun.stdin.stream()).text()) as {
    port: number;
    cookies: string[];
    n: number;
  };
  let ready = 0;
  for (let i = 0; i < n; i++) {
    let seen = false;
    const cookie = cookies[i % cookies.length];
    await Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open(s) {
          s.write(
            `GET /events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${cookie}\r\nAccept: text/event-stream\r\n\r\n`,
          );
        },
        data(_s, chunk) {
          if (!seen && chunk.toString().includes("event: bell")) {
            seen = true;
            if (++ready === n) console.log("ready");
          }
        },
      },
    });
  }
  await new Promise(() => {}); // held until the bench kills this process
}

setLogSink(() => {}, "error");
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const t = await createTestApp(url ? "postgres" : "pglite");
const app = createApp(t.ctx);
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (r) => app.handle(r), idleTimeout: 60 });
const users = await Promise.all(Array.from({ length: USERS }, () => createUser(t)));
const cookies = users.map((u) => `ds_session=${u.session}`);

const rss = () => {
  Bun.gc(true);
  return process.memoryUsage().rss / 2 ** 20;
};
// Warm up the route, the listener and the bell's query once before measuring.
{
  const res = await users[0]!.request("GET", "/events/stream");
  const reader = res.body!.getReader();
  await reader.read();
  await reader.cancel();
}
const before = rss();
const opened = performance.now();
const clients = Bun.spawn(["bun", import.meta.path, "clients"], { stdin: "pipe", stdout: "pipe", stderr: "inherit" });
clients.stdin.write(JSON.stringify({ port: server.port, cookies, n: N }));
clients.stdin.end();
const out = clients.stdout.getReader();
let said = "";
while (!said.includes("ready")) {
  const { value, done } = await out.read();
  if (done) throw new Error("the client process ended early");
  said += new TextDecoder().decode(value);
}
const openMs = performance.now() - opened;
await Bun.sleep(500);
const after = rss();

// Latency: a probe stream of user 0 (who has N/10 other streams open) times each notification's bell event.
const probe = await fetch(`http://127.0.0.1:${server.port}/events/stream`, { headers: { cookie: cookies[0]! } });
const reader = probe.body!.getReader();
const decoder = new TextDecoder();
let waiting: (() => void) | undefined;
void (async () => {
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    if (decoder.decode(value).includes("event: bell")) waiting?.();
  }
})();
await Bun.sleep(300); // the probe's first snapshot
const latencies: number[] = [];
for (let i = 0; i < 20; i++) {
  const got = new Promise<void>((resolve) => {
    waiting = resolve;
  });
  const t0 = performance.now();
  await t.ctx.db.transaction((tx) => notify(tx as Db, users[0]!.id, { type: "BENCH", title: `n${i}`, email: false }));
  await got;
  latencies.push(performance.now() - t0);
  await Bun.sleep(50);
}
latencies.sort((a, b) => a - b);

console.log(`database: ${t.ctx.database.kind}; open streams: ${t.ctx.live!.size} (${N} from the client process + 1)`);
console.log(`opening ${N} streams (each to its first bell event): ${Math.round(openMs)} ms`);
console.log(
  `server RSS: ${before.toFixed(1)} MiB before, ${after.toFixed(1)} MiB with ${N} streams: +${(after - before).toFixed(1)} MiB (${(((after - before) * 1024) / N).toFixed(1)} KiB per stream)`,
);
console.log(
  `commit → bell event on a stream (${N / USERS} other streams of that user pushed too): p50 ${pct(latencies, 50).toFixed(1)} ms, p95 ${pct(latencies, 95).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
);
await reader.cancel();
clients.kill();
await t.ctx.live!.close();
server.stop(true);
await t.close();
process.exit(0);
