// Outgoing webhooks end to end: N events of one org, each emitted in its own transaction, delivered by the real
// event bus and job queue to two endpoints (generic signed JSON and Slack) on a local receiver. Reports deliveries
// per second from the first emit to the last 2xx, and the attempt durations the delivery log recorded. PGlite in
// memory, and PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL is set. BENCH_EVENTS sets N (default 300).
import type { Db } from "../src/core/db";
import { setLogSink } from "../src/core/logger";
import { emitEvent } from "../src/events/service";
import { createTestApp } from "../test/support/app";
import { createOrgAs, createUser } from "../test/support/auth";

setLogSink(() => {}, "error");
const N = Number(process.env.BENCH_EVENTS ?? 300);
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const t = await createTestApp(url ? "postgres" : "pglite");
let hits = 0;
const receiver = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    await req.text();
    hits++;
    return new Response("ok");
  },
});
await t.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"] }, null);
const owner = await createUser(t);
const orgId = await createOrgAs(owner, "Bench Org");
for (const format of ["generic", "slack"]) {
  const res = await owner.request("POST", `/api/orgs/${orgId}/webhooks`, {
    body: { name: format, url: `http://127.0.0.1:${receiver.port}/${format}`, format, events: ["bench.*"] },
  });
  if (res.status !== 201) throw new Error(`adding a webhook failed: ${res.status} ${await res.text()}`);
}
t.ctx.jobs.start();
await Bun.sleep(500); // the org's own events (none expected) settle

const started = performance.now();
for (let i = 0; i < N; i++) {
  await t.ctx.db.transaction((tx) => emitEvent(tx as Db, "bench.happened", { orgId, title: `event ${i}` }));
}
const emittedS = (performance.now() - started) / 1000;
while (hits < 2 * N) await Bun.sleep(20);
const totalS = (performance.now() - started) / 1000;
// the last attempts are recorded just after their answer
const succeeded = async () =>
  (await t.ctx.database.exec("select 1 from webhook_deliveries where status = 'succeeded'")).length;
while ((await succeeded()) < 2 * N) await Bun.sleep(20);
const rows = await t.ctx.database.exec<{ ms: number }>(
  "select duration_ms as ms from webhook_attempts order by duration_ms",
);
const pct = (p: number) => rows[Math.min(rows.length - 1, Math.floor((rows.length * p) / 100))]?.ms ?? 0;

console.log(`database: ${t.ctx.database.kind}; ${N} events, 2 endpoints (generic, slack) on a local receiver`);
console.log(`emitted in ${emittedS.toFixed(1)} s; all ${2 * N} deliveries answered 200 after ${totalS.toFixed(1)} s`);
console.log(`throughput: ${Math.round((2 * N) / totalS)} deliveries/s`);
console.log(
  `attempt duration (SSRF check + signed POST): p50 ${pct(50)} ms, p95 ${pct(95)} ms (${rows.length} attempts)`,
);
receiver.stop(true);
await t.close();
process.exit(0);
