// Time of a Prometheus scrape of /metrics (through the real app, bearer token checked) over a database holding
// 10,000 jobs, 2,000 payments, 2,000 AI calls and 1,000 harness runs, with 200 routes' worth of request counters.
// Reported: a scrape that waits for the database counts (the first one), a steady scrape (counts older than 5 s
// answer at once and are read again behind it) and one within 5 s of a read. Target: p95 ≤ 20 ms. Runs on PGlite, and on PostgreSQL when
// BENCH_DATABASE_URL or TEST_DATABASE_URL is set. BENCH_SCRAPES sets how many scrapes (default 200).
import { sql } from "drizzle-orm";
import { metricsOf } from "../src/admin/metrics";
import { setLogSink } from "../src/core/logger";
import { createTestApp } from "../test/support/app";
import { createUser } from "../test/support/auth";
import { pct } from "./support";

setLogSink(() => {});
const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
const kinds = url ? (["pglite", "postgres"] as const) : (["pglite"] as const);
const scrapes = Number(process.env.BENCH_SCRAPES ?? 200);

for (const kind of kinds) {
  const t = await createTestApp(kind);
  const admin = await createUser(t, { admin: true });
  const db = t.ctx.db;
  // rows written in bulk with SQL: the bench measures reading them
  await db.execute(sql`insert into jobs (id, name, payload, state)
    select gen_random_uuid(), 'bench.job' || (i % 20), '{}'::jsonb,
      (array['queued','running','completed','failed','dead'])[1 + i % 5]
    from generate_series(1, 10000) i`);
  await db.execute(sql`insert into ai_calls (purpose, provider, model, prompt, status, latency_ms, checksum)
    select (array['planner','sidebar','embed'])[1 + i % 3], 'none', 'm', '[]'::jsonb,
      (array['ok','invalid','error'])[1 + i % 3], 1, 'x'
    from generate_series(1, 2000) i`);
  await db.execute(sql`insert into orgs (name) values ('bench')`);
  await db.execute(sql`insert into projects (org_id, title) select id, 'bench' from orgs where name = 'bench'`);
  await db.execute(
    sql`insert into milestones (project_id, title, position) select id, 'm', 1 from projects where title = 'bench'`,
  );
  await db.execute(sql`insert into tasks (milestone_id, project_id, title, points, position)
    select m.id, m.project_id, 'task ' || i, 1, i from milestones m, generate_series(1, 2000) i where m.title = 'm'`);
  await db.execute(sql`insert into payments (task_id, amount, token_address, payee, status)
    select id, 1000, 'native', '0x0', (array['PENDING','SUBMITTED','COMPLETED','FAILED'])[1 + position % 4]
    from tasks where title like 'task %'`);

  await t.ctx.settings.update({ "security.metricsToken": "bench-token" }, admin.id);
  const metrics = metricsOf(t.ctx);
  for (let r = 0; r < 200; r++) {
    for (const status of [200, 404]) metrics.recordRequest("GET", `/bench/route/${r}`, status, (r % 50) / 1000);
  }
  const scrape = async () => {
    const t0 = performance.now();
    const res = await t.request("GET", "/metrics", { headers: { authorization: "Bearer bench-token" } });
    const body = await res.text();
    if (res.status !== 200) throw new Error(`scrape answered ${res.status}: ${body.slice(0, 200)}`);
    return { ms: performance.now() - t0, bytes: body.length };
  };
  for (let i = 0; i < 10; i++) await scrape(); // warm-up

  const read: number[] = [];
  const stale: number[] = [];
  const cached: number[] = [];
  let bytes = 0;
  const state = metrics as unknown as { counts?: { at: number; value: Promise<unknown> } };
  for (let i = 0; i < scrapes; i++) {
    state.counts = undefined; // the first scrape, or one after a minute without any: it waits for the read
    const r = await scrape();
    read.push(r.ms);
    bytes = r.bytes;
    cached.push((await scrape()).ms); // within 5 s of the read
    state.counts!.at -= 6_000; // a scrape every 15 s: the counts are stale, answered at once, read again behind
    stale.push((await scrape()).ms);
    await Bun.sleep(200); // let the read behind it finish before the next round
  }
  for (const xs of [read, stale, cached]) xs.sort((a, b) => a - b);
  const f = (xs: number[]) =>
    `p50 ${pct(xs, 50).toFixed(2)} ms, p95 ${pct(xs, 95).toFixed(2)} ms, max ${xs.at(-1)!.toFixed(2)} ms`;
  console.log(`metrics scrape [${kind}], ${bytes} bytes, ${scrapes} scrapes each`);
  console.log(`  waiting for the database read (first scrape): ${f(read)}`);
  console.log(`  stale counts, read again behind (every scrape after): ${f(stale)}`);
  console.log(`  within 5 s of a read:                          ${f(cached)}`);
  console.log(`  target p95 <= 20 ms for a steady scrape: ${pct(stale, 95) <= 20 ? "met" : "NOT met"}`);
  await t.close();
}
