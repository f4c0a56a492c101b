// Signed-in pages and list APIs with realistic data, on PGlite and (when BENCH_DATABASE_URL or TEST_DATABASE_URL
// is set) on PostgreSQL. The data is seeded through the services (an owner with a session and an API key, 100
// projects in 6 orgs, 2,000 tasks in 200 milestones, 10,000 audit rows); then the real server runs in its own
// process and a load process keeps 50 requests in flight per scenario. Prints req/s, p50/p95/p99 and the server's
// peak RSS. Target: the project page and `GET /api/projects` p95 ≤ 50 ms at 50 concurrent clients. Pages and lists
// that only read are served again while the database is unchanged (src/core/http/page-cache.ts): the "+ writes"
// scenarios PATCH the project 10 times a second during the load, so most reads meet a changed database.
// BENCH_SECONDS (default 8) per scenario; BENCH_BINARY=1 runs dist/devsponsor instead of `bun src/main.ts`;
// BENCH_DB=pglite or postgres runs one database only; BENCH_SCENARIO=<part of a name> runs the matching scenarios.
// BENCH_KEEP=<dir> keeps the seeded data (the data dirs in <dir>, the PostgreSQL database `devsponsor_bench_pages`)
// and reuses it on the next run, which then skips the seeding (unless the migrations changed since).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { audit } from "../src/audit/service";
import { createApiKey, createLocalUser, createSession } from "../src/auth/service";
import { bootstrap } from "../src/core/boot";
import { loadConfig } from "../src/core/config";
import { MIGRATIONS } from "../src/core/db/migrations.gen";
import { setLogSink } from "../src/core/logger";
import { saveDraft } from "../src/milestones/service";
import type { Plan } from "../src/milestones/model";
import { createOrg } from "../src/orgs/service";
import { createProject } from "../src/projects/service";
import { completeOnboarding } from "../src/users/service";
import { BINARY, freePort, pct, requireBinary, rssMiB } from "./support";

const CONNS = Number(process.env.BENCH_CONCURRENCY ?? 50);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);

if (process.argv[2] === "--load") {
  // Child mode: keep `conns` requests to one URL in flight for `seconds`; print a JSON latency summary.
  const [, , , url, conns, seconds, headersJson, writeJson] = process.argv;
  const headers = JSON.parse(headersJson) as Record<string, string>;
  const until = performance.now() + Number(seconds) * 1000;
  // A writer beside the readers: PATCHes every `everyMs`, so the pages' data changes while they are read.
  const write = writeJson
    ? (JSON.parse(writeJson) as { url: string; headers: Record<string, string>; everyMs: number })
    : null;
  let writes = 0;
  const writer = (async () => {
    while (write && performance.now() < until) {
      const r = await fetch(write.url, {
        method: "PATCH",
        headers: { ...write.headers, "content-type": "application/json" },
        body: JSON.stringify({ description: `We fund the work to make the parser stream (revision ${++writes}).` }),
      });
      await r.arrayBuffer();
      if (r.status !== 200) throw new Error(`the writer got ${r.status}`);
      await Bun.sleep(write.everyMs);
    }
  })();
  const lat: number[] = [];
  let errors = 0;
  let bytes = 0;
  await Promise.all(
    Array.from({ length: Number(conns) }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          const r = await fetch(url, { headers, redirect: "manual" });
          bytes = (await r.arrayBuffer()).byteLength;
          if (r.status !== 200) errors++;
        } catch {
          errors++;
        }
        lat.push(performance.now() - t);
      }
    }),
  );
  await writer;
  lat.sort((a, b) => a - b);
  const out = { n: lat.length, errors, bytes, writes, p50: pct(lat, 50), p95: pct(lat, 95), p99: pct(lat, 99) };
  console.log(JSON.stringify(out));
  process.exit(0);
}

setLogSink(() => {}, "error");

/** A plan of `milestones` × `tasks` (the shape the planner produces). */
function planOf(milestones: number, tasks: number): Plan {
  return {
    milestones: Array.from({ length: milestones }, (_, i) => ({
      title: `Milestone ${i + 1}: storage layer and its migrations`,
      description: "Move the storage to the new layout, keeping old data readable.\n".repeat(3),
      acceptanceCriteria: ["Old data reads back unchanged", "The migration is reversible"],
      tasks: Array.from({ length: tasks }, (_, j) => ({
        title: `Task ${i + 1}.${j + 1}: write the reader for format v${j + 2}`,
        description: "Read the format, validate the header, stream the records; errors name the offset.",
        points: 1 + ((i * tasks + j) % 8),
        acceptanceCriteria: ["Reads every fixture", "Rejects truncated files with a clear error"],
        verification: { minPassingTests: 3, testCommand: "bun test", rules: ["no network in tests"] },
        estimatedHours: 4,
      })),
    })),
  };
}

/** Seeds the database behind `config` through the services; returns what the load needs to sign in. */
async function seed(config: ReturnType<typeof loadConfig>) {
  const ctx = await bootstrap(config);
  const t0 = performance.now();
  const db = ctx.db;
  await createLocalUser(db, {
    email: "admin@example.test",
    password: "admin-password-1",
    name: "Admin",
    isAdmin: true,
  });
  const mk = async (email: string, name: string) => {
    const u = await createLocalUser(db, { email, password: "owner-password-1", name, emailVerified: true });
    const principal = { userId: u.id, name, isAdmin: false, via: "session" as const };
    await completeOnboarding(db, principal, ["SPONSOR", "CONTRIBUTOR"]);
    return principal;
  };
  const owner = await mk("owner@example.test", "Olivia Owner");
  const other = await mk("other@example.test", "Oscar Other");
  // The owner's 5 orgs hold 80 projects; another user's org holds 20 (half public, visible to the owner).
  const projectIds: string[] = [];
  for (let o = 0; o < 6; o++) {
    const who = o < 5 ? owner : other;
    const org = await createOrg(db, who, { name: `Org ${o + 1}`, description: "A team funding its roadmap." });
    const count = o < 5 ? 16 : 20;
    for (let i = 0; i < count; i++) {
      const p = await createProject(ctx, who, org.id, {
        title: `Project ${o + 1}.${i + 1}: a faster parser for large logs`,
        description: "We fund the work to make the parser stream and to cover the formats in the wild.\n".repeat(4),
        repoType: o < 5 || i % 2 === 0 ? "PUBLIC" : "PRIVATE",
      });
      projectIds.push(p.id);
    }
  }
  // 2,000 tasks: 20 of the owner's projects with 10 milestones of 10 tasks.
  for (const id of projectIds.slice(0, 20)) {
    await saveDraft(db, id, planOf(10, 10), { source: "edit", userId: owner.userId });
  }
  const [{ n }] = await ctx.database.exec<{ n: number }>("select count(*)::int as n from audit_log");
  await db.transaction(async (tx) => {
    for (let i = n; i < 10_000; i++) {
      await audit(tx, {
        actorId: owner.userId,
        action: "project.update",
        targetType: "project",
        targetId: projectIds[i % projectIds.length],
        payload: { fields: ["description"], n: i },
      });
    }
  });
  const session = await createSession(db, owner.userId);
  const { key } = await createApiKey(db, owner.userId, { name: "bench", scopes: ["read"] });
  const { key: writeKey } = await createApiKey(db, owner.userId, { name: "bench writer", scopes: ["read", "write"] });
  console.log(`  seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await ctx.database.close();
  return { cookie: `ds_session=${session.token}`, key, writeKey, projectId: projectIds[0] };
}

/** CPU time (user + system) a process has used, in ms: per request it shows cost even on a busy machine. */
function cpuMs(pid: number) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks of 1/100 s
}

async function startServer(dataDir: string, port: number, databaseUrl?: string) {
  if (process.env.BENCH_BINARY) requireBinary();
  const cmd = process.env.BENCH_BINARY ? [BINARY] : ["bun", join(import.meta.dir, "..", "src", "main.ts")];
  const child = Bun.spawn([...cmd, "serve", "--port", String(port), "--data-dir", dataDir], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: dataDir,
      TMPDIR: process.env.TMPDIR ?? "/tmp",
      LOG_LEVEL: "warn",
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    },
    stdout: "ignore",
    stderr: "inherit",
  });
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200) return child;
    } catch {}
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    await Bun.sleep(50);
  }
}

type Seeded = Awaited<ReturnType<typeof seed>> & { schema?: string };

/** The schema the seeded data was made with: kept data made before a migration changed is seeded again. */
const SCHEMA = createHash("sha256")
  .update(MIGRATIONS.map((m) => m.sql).join("\n"))
  .digest("hex")
  .slice(0, 16);

/** The kept seeding of `dataDir`, when there is one for the current schema. */
function keptSeeding(dataDir: string): Seeded | null {
  const file = join(dataDir, "bench-seeded.json");
  if (!keep || !existsSync(file)) return null;
  const s = JSON.parse(readFileSync(file, "utf8")) as Seeded;
  return s.schema === SCHEMA && s.writeKey ? s : null;
}

async function run(label: string, dataDir: string, databaseUrl?: string) {
  console.log(`\n${label}`);
  // A kept run writes what the load needs beside the data; the next run with the same BENCH_KEEP reads it back.
  const seededFile = join(dataDir, "bench-seeded.json");
  let s = keptSeeding(dataDir);
  if (s) {
    console.log("  reusing the seeded data");
  } else {
    if (keep) rmSync(dataDir, { recursive: true, force: true }); // a seeding that did not finish, or an old schema
    s = { ...(await seed(loadConfig({}, { dataDir, databaseUrl, port: 0 }))), schema: SCHEMA };
    if (keep) writeFileSync(seededFile, JSON.stringify(s));
  }
  const port = await freePort();
  const server = await startServer(dataDir, port, databaseUrl);
  const base = `http://127.0.0.1:${port}`;
  const browser = { cookie: s.cookie };
  const api = { authorization: `Bearer ${s.key}` };
  // Read-only pages are served from the page cache while nothing changes (src/core/http/page-cache.ts); the
  // "+ writes" scenarios change the project 10 times a second meanwhile, so most reads find a changed database.
  const writes = JSON.stringify({
    url: `${base}/api/projects/${s.projectId}`,
    headers: { authorization: `Bearer ${s.writeKey}` },
    everyMs: 100,
  });
  const scenarios: [string, string, Record<string, string>, string?][] = [
    ["project page", `/projects/${s.projectId}`, browser],
    ["GET /api/projects", "/api/projects", api],
    ["projects list page", "/projects", browser],
    ["milestones page", `/projects/${s.projectId}/milestones`, browser],
    ["project page + writes", `/projects/${s.projectId}`, browser, writes],
    ["GET /api/projects + writes", "/api/projects", api, writes],
  ];
  const only = process.env.BENCH_SCENARIO;
  try {
    for (const [name, path, headers, write] of scenarios) {
      if (only && !name.includes(only)) continue;
      for (let i = 0; i < 20; i++) {
        const r = await fetch(base + path, { headers, redirect: "manual" });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
      }
      let peak = rssMiB(server.pid);
      const sampler = setInterval(() => {
        peak = Math.max(peak, rssMiB(server.pid));
      }, 100);
      const load = Bun.spawn(
        [
          "bun",
          import.meta.path,
          "--load",
          base + path,
          String(CONNS),
          String(SECONDS),
          JSON.stringify(headers),
          ...(write ? [write] : []),
        ],
        { stdout: "pipe", stderr: "inherit" },
      );
      const cpu0 = cpuMs(server.pid);
      const r = JSON.parse(await new Response(load.stdout).text());
      const cpu = cpuMs(server.pid) - cpu0;
      clearInterval(sampler);
      console.log(
        `  ${name.padEnd(26)} ${(r.bytes / 1024).toFixed(0).padStart(3)} KB  ${CONNS} conns ${SECONDS}s: ` +
          `${(r.n / SECONDS).toFixed(0).padStart(5)} req/s, p50 ${r.p50.toFixed(1)} ms, p95 ${r.p95.toFixed(1)} ms, ` +
          `p99 ${r.p99.toFixed(1)} ms, errors ${r.errors}, server CPU ${(cpu / r.n).toFixed(2)} ms/req, ` +
          `peak RSS ${peak.toFixed(0)} MiB${r.writes ? `, ${r.writes} writes` : ""}`,
      );
    }
  } finally {
    server.kill("SIGTERM");
    await server.exited;
  }
}

const keep = process.env.BENCH_KEEP;
if (keep) mkdirSync(keep, { recursive: true });
const dir = keep ?? mkdtempSync(join(tmpdir(), "ds-bench-pages-"));
try {
  const only = process.env.BENCH_DB;
  if (only !== "postgres") await run("PGlite", join(dir, "pglite"));
  const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (url && only !== "pglite") {
    const name = keep ? "devsponsor_bench_pages" : `devsponsor_bench_pages_${process.pid}`;
    const admin = postgres(url, { max: 1, onnotice: () => {} });
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`;
    if (!keep || !exists || !keptSeeding(join(dir, "postgres"))) {
      await admin.unsafe(`drop database if exists "${name}" with (force)`);
      rmSync(join(dir, "postgres"), { recursive: true, force: true });
      await admin.unsafe(`create database "${name}"`);
    }
    const u = new URL(url);
    u.pathname = `/${name}`;
    try {
      await run("PostgreSQL", join(dir, "postgres"), u.toString());
    } finally {
      if (!keep) await admin.unsafe(`drop database if exists "${name}" with (force)`);
      await admin.end();
    }
  } else if (!url) {
    console.log("\nPostgreSQL: skipped (set BENCH_DATABASE_URL or TEST_DATABASE_URL)");
  }
} finally {
  if (!keep) rmSync(dir, { recursive: true, force: true });
}
