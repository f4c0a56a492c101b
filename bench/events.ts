// The domain event bus: N events, each emitted in its own transaction (as a state change does), delivered by the
// real job queue to two subscribers that each run a small write in their delivery transaction. Reports what the
// emit adds to a transaction and how many events per second reach both subscribers. PGlite in memory, and
// PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL is set. BENCH_EVENTS sets N (default 1000).
import { sql } from "drizzle-orm";
import type { Db } from "../src/core/db";
import { setLogSink } from "../src/core/logger";
import { emitEvent } from "../src/events/service";
import { createTestApp } from "../test/support/app";

setLogSink(() => {}, "error");
const N = Number(process.env.BENCH_EVENTS ?? 1000);
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const t = await createTestApp(url ? "postgres" : "pglite");
await t.ctx.database.exec("create table bench_seen (sub text, event uuid, primary key (sub, event))");
let delivered = 0;
for (const sub of ["bench.a", "bench.b"]) {
  t.ctx.events!.subscribe(sub, "bench.*", async (e, tx) => {
    await tx.execute(sql`insert into bench_seen values (${sub}, ${e.id})`);
    delivered++;
  });
}

// The same transaction without and with the event, to see what emitting costs.
const plain = performance.now();
for (let i = 0; i < N; i++) await t.ctx.db.transaction((tx) => tx.execute(sql`select 1`));
const plainMs = (performance.now() - plain) / N;
const started = performance.now();
for (let i = 0; i < N; i++) {
  await t.ctx.db.transaction(async (tx) => {
    await tx.execute(sql`select 1`);
    await emitEvent(tx as Db, "bench.happened", { i });
  });
}
const emitMs = (performance.now() - started) / N;

const run = performance.now();
t.ctx.jobs.start();
while (delivered < 2 * N) await Bun.sleep(20);
const deliverS = (performance.now() - run) / 1000;
const [{ n }] = await t.ctx.database.exec<{ n: number }>("select count(*)::int as n from bench_seen");

console.log(`database: ${t.ctx.database.kind}; ${N} events, 2 subscribers`);
console.log(
  `a transaction: ${plainMs.toFixed(2)} ms; with emitEvent: ${emitMs.toFixed(2)} ms (+${(emitMs - plainMs).toFixed(2)} ms)`,
);
console.log(
  `delivered to both subscribers: ${Math.round(N / deliverS)} events/s (${deliverS.toFixed(1)} s; ${n} deliveries recorded)`,
);
await t.close();
process.exit(0);
