// 50 signed-in users claiming the same 10 tasks at once, over HTTP: the app's handler behind a real Bun.serve on
// 127.0.0.1 (as `serve` runs it), the load in a separate process. In each round every user starts at the same
// instant and claims the 10 tasks in its own random order, one request after another (50 requests in flight).
// Checked after every round, in the database: exactly 10 claims won, one ACTIVE claim per task held by the user
// who got the 201, nobody above the open-claim limit, every other answer a 409 TASK_ALREADY_CLAIMED or
// CLAIM_LIMIT_REACHED; the winners then give their tasks up (untimed) for the next round. Exits non-zero when a
// check fails. Prints claim p50/p95/p99 on PGlite and (when TEST_DATABASE_URL or DATABASE_URL is set) PostgreSQL.
// Target: p95 ≤ 50 ms. BENCH_ROUNDS (default 5) timed rounds after one warm-up round; BENCH_DB picks one database.
import { eq } from "drizzle-orm";
import { createApp } from "../src/app";
import { createSession, hashPassword } from "../src/auth/service";
import { withPeerAddress } from "../src/core/http/client-address";
import { refuseLargeHead } from "../src/core/http/head-limit";
import { setLogSink } from "../src/core/logger";
import { milestones, tasks as taskTable } from "../src/milestones/schema";
import { orgMembers, orgs } from "../src/orgs/schema";
import { projects } from "../src/projects/schema";
import { taskClaims } from "../src/tasks/schema";
import { users as usersTable, wallets } from "../src/users/schema";
import { createTestApp } from "../test/support/app";
import { asUser, createUser, type TestUser } from "../test/support/auth";
import type { DbKind } from "../test/support/db";
import { pct } from "./support";

const USERS = 50;
const TASKS = 10;
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5));
const TARGET_P95_MS = 50;

interface LoadInput {
  url: string;
  users: { id: string; headers: Record<string, string> }[];
  tasks: string[];
}
interface Answer {
  user: number;
  task: number;
  status: number;
  code: string | null;
  ms: number;
}

if (process.argv[2] === "--load") {
  // Child mode: one round. Every user opens its connection first, then all start claiming at the same instant.
  const input = JSON.parse(await Bun.stdin.text()) as LoadInput;
  await Promise.all(
    input.users.map(async (u) => {
      const r = await fetch(`${input.url}/api/me/earnings`, { headers: u.headers });
      await r.arrayBuffer();
    }),
  );
  const answers: Answer[] = [];
  await Promise.all(
    input.users.map(async (u, user) => {
      const order = input.tasks.map((_, i) => i).sort(() => Math.random() - 0.5);
      for (const task of order) {
        const t = performance.now();
        const r = await fetch(`${input.url}/api/tasks/${input.tasks[task]}/claim`, {
          method: "POST",
          headers: u.headers,
        });
        const body = await r.text();
        const ms = performance.now() - t;
        let code: string | null = null;
        if (r.status !== 201) code = (JSON.parse(body) as { error?: { code?: string } }).error?.code ?? null;
        answers.push({ user, task, status: r.status, code, ms });
      }
    }),
  );
  console.log(JSON.stringify(answers));
  process.exit(0);
}

setLogSink(() => {}, "error");
process.env.TEST_DATABASE_URL ??= process.env.DATABASE_URL;
const kinds = (["pglite", "postgres"] as const).filter(
  (k) => (k === "pglite" || !!process.env.TEST_DATABASE_URL) && (!process.env.BENCH_DB || process.env.BENCH_DB === k),
);

/** Runs the rounds on one database; returns the failed checks (empty when all held). */
async function bench(kind: DbKind): Promise<string[]> {
  const t0 = performance.now();
  const t = await createTestApp(kind);
  const db = t.ctx.db;
  const owner = await createUser(t);
  const [org] = await db
    .insert(orgs)
    .values({ name: `Bench claims ${kind}` })
    .returning();
  await db.insert(orgMembers).values({ orgId: org!.id, userId: owner.id, role: "OWNER" });
  // A funded public project (its funding is not what is measured here).
  const [project] = await db
    .insert(projects)
    .values({ orgId: org!.id, title: "Bench claims", repoUrl: "https://example.test/r.git", state: "ACTIVE" })
    .returning();
  const [m] = await db
    .insert(milestones)
    .values({ projectId: project!.id, title: "M", points: TASKS, position: 0 })
    .returning();
  const tasks = await db
    .insert(taskTable)
    .values(
      Array.from({ length: TASKS }, (_, i) => ({
        milestoneId: m!.id,
        projectId: project!.id,
        title: `Task ${i + 1}`,
        points: 1,
        position: i,
        verification: { minPassingTests: 1, testCommand: "", rules: [] },
      })),
    )
    .returning();
  // Contributors share one password hash (argon2id takes seconds per user on a busy machine); each has a session.
  const passwordHash = await hashPassword("claimer-password-1");
  const rows = await db
    .insert(usersTable)
    .values(
      Array.from({ length: USERS }, (_, i) => ({
        email: `claimer-${i}@example.test`,
        name: `Claimer ${i}`,
        passwordHash,
        emailVerified: true,
        roles: ["CONTRIBUTOR" as const],
        onboardedAt: new Date(),
      })),
    )
    .returning();
  const users: TestUser[] = [];
  for (const u of rows) {
    const session = await createSession(db, u.id);
    users.push(
      asUser(
        t,
        { id: u.id, email: u.email!, name: u.name, isAdmin: false, password: "claimer-password-1" },
        session.token,
        session.csrfToken,
      ),
    );
  }
  await db.insert(wallets).values(
    users.map((u, i) => ({
      userId: u.id,
      address: `0x${(0xc1a1000 + i).toString(16).padStart(40, "0")}`,
      chainId: "31337",
      isPayout: true,
      siweMessage: "-",
      signature: "0x",
    })),
  );
  const max = t.ctx.settings.get("tasks.maxOpenClaims");
  const app = createApp(t.ctx);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, srv) =>
      refuseLargeHead(request) ?? app.handle(withPeerAddress(request, srv.requestIP(request)?.address)),
  });
  const input: LoadInput = {
    url: `http://127.0.0.1:${server.port}`,
    users: users.map((u) => ({ id: u.id, headers: u.headers })),
    tasks: tasks.map((x) => x.id),
  };
  console.log(
    `[${kind}] seeded ${USERS} users and ${TASKS} tasks in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  const failures: string[] = [];
  const all: number[] = [];
  const won: number[] = [];
  const lost: number[] = [];
  const roundP95: number[] = [];
  // The server process's CPU time per claim (with PGlite, the database's too): the cost, even on a busy machine.
  const cpuPerClaim: number[] = [];
  try {
    for (let round = 0; round <= ROUNDS; round++) {
      const cpu0 = process.cpuUsage();
      const child = Bun.spawn(["bun", import.meta.path, "--load"], {
        stdin: "pipe",
        stdout: "pipe",
        stderr: "inherit",
      });
      child.stdin.write(JSON.stringify(input));
      await child.stdin.end();
      const [out, code] = await Promise.all([new Response(child.stdout).text(), child.exited]);
      if (code !== 0) throw new Error(`the load process exited with ${code}`);
      const answers = JSON.parse(out) as Answer[];
      const cpu = process.cpuUsage(cpu0);
      if (round > 0) cpuPerClaim.push((cpu.user + cpu.system) / 1000 / answers.length);

      // The checks, against what the database holds.
      const fail = (what: string) => failures.push(`round ${round}: ${what}`);
      const wins = answers.filter((a) => a.status === 201);
      if (wins.length !== TASKS) fail(`${wins.length} claims succeeded, expected ${TASKS}`);
      for (const a of answers) {
        if (
          a.status !== 201 &&
          !(a.status === 409 && ["TASK_ALREADY_CLAIMED", "CLAIM_LIMIT_REACHED"].includes(a.code!))
        ) {
          fail(`an unexpected answer ${a.status} ${a.code}`);
        }
      }
      const active = await db
        .select({ taskId: taskClaims.taskId, userId: taskClaims.userId })
        .from(taskClaims)
        .where(eq(taskClaims.state, "ACTIVE"));
      const byTask = new Map<string, string[]>();
      for (const c of active) byTask.set(c.taskId, [...(byTask.get(c.taskId) ?? []), c.userId]);
      for (const [i, task] of tasks.entries()) {
        const holders = byTask.get(task.id) ?? [];
        const winners = wins.filter((w) => w.task === i).map((w) => users[w.user]!.id);
        if (holders.length !== 1) fail(`task ${i + 1} has ${holders.length} ACTIVE claims`);
        else if (winners.length !== 1 || winners[0] !== holders[0])
          fail(`task ${i + 1} is held by another user than its 201`);
        const [row] = await db.select().from(taskTable).where(eq(taskTable.id, task.id));
        if (row?.status !== "CLAIMED" || row.claimedById !== holders[0]) fail(`task ${i + 1} is ${row?.status}`);
      }
      const perUser = new Map<string, number>();
      for (const c of active) perUser.set(c.userId, (perUser.get(c.userId) ?? 0) + 1);
      for (const [u, n] of perUser) if (n > max) fail(`user ${u} holds ${n} open claims (limit ${max})`);

      const lat = answers.map((a) => a.ms).sort((a, b) => a - b);
      if (round > 0) {
        all.push(...lat);
        won.push(...wins.map((a) => a.ms));
        lost.push(...answers.filter((a) => a.status !== 201).map((a) => a.ms));
        roundP95.push(pct(lat, 95)!);
      }
      // The winners give their tasks up, so the next round starts from ten open tasks.
      for (const w of wins) {
        const r = await users[w.user]!.request("POST", `/api/tasks/${tasks[w.task]!.id}/unclaim`);
        if (r.status !== 200) fail(`unclaim answered ${r.status}: ${await r.text()}`);
      }
      const left = await db.select({ id: taskClaims.id }).from(taskClaims).where(eq(taskClaims.state, "ACTIVE"));
      if (left.length !== 0) fail(`${left.length} claims still ACTIVE after the unclaims`);
    }
  } finally {
    server.stop(true);
    await t.close();
  }

  const f = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `p50 ${pct(s, 50)!.toFixed(1)} ms, p95 ${pct(s, 95)!.toFixed(1)} ms, p99 ${pct(s, 99)!.toFixed(1)} ms`;
  };
  const p95 = pct(
    [...all].sort((a, b) => a - b),
    95,
  )!;
  console.log(
    `[${kind}] ${ROUNDS} rounds × ${USERS} users × ${TASKS} tasks (${all.length} claims): ${f(all)}, max ${Math.max(...all).toFixed(1)} ms` +
      `${p95 <= TARGET_P95_MS ? "" : `  MISSES the ${TARGET_P95_MS} ms target`}`,
  );
  console.log(`  won (${won.length}): ${f(won)} | refused (${lost.length}): ${f(lost)}`);
  console.log(
    `  server CPU ${Math.min(...cpuPerClaim).toFixed(2)}–${Math.max(...cpuPerClaim).toFixed(2)} ms per claim (per round)`,
  );
  console.log(
    `  p95 per round ${Math.min(...roundP95).toFixed(1)}–${Math.max(...roundP95).toFixed(1)} ms | checks: ${failures.length === 0 ? `${ROUNDS + 1} rounds, exactly ${TASKS} winners and one ACTIVE claim per task each` : `${failures.length} FAILED`}`,
  );
  for (const x of failures.slice(0, 20)) console.log(`  FAILED ${x}`);
  return failures;
}

let failed = false;
for (const kind of kinds) if ((await bench(kind)).length > 0) failed = true;
if (failed) process.exit(1);
