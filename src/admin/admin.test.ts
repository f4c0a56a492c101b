import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { zeroAddress } from "viem";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { auditLog } from "../audit/schema";
import { createSession, resolveSession } from "../auth/service";
import { FatalJobError } from "../core/jobs";
import { jobs } from "../core/jobs/schema";
import { milestones, tasks } from "../milestones/schema";
import { orgs } from "../orgs/schema";
import { payments } from "../payments/schema";
import { projects } from "../projects/schema";
import { users } from "../users/schema";
import { zkProofs } from "../zk/schema";
import { escapeLabel, Metrics } from "./metrics";
import { deployForTest, TEST_CHAINS } from "../../test/support/chain";
import { accrueNativeFees } from "../../test/support/fees";

const auditActions = async (t: TestApp) =>
  (await t.ctx.db.select({ a: auditLog.action }).from(auditLog)).map((r) => r.a);

/** A job that really ran and died (its handler threw a fatal error). */
async function deadJob(t: TestApp, name: string, message: string) {
  const { id } = await t.ctx.jobs.enqueue(name, {});
  for (let i = 0; i < 200; i++) {
    const j = await t.ctx.jobs.get(id);
    if (j?.state === "dead") return j;
    await Bun.sleep(25);
  }
  throw new Error(`${name} did not die: ${message}`);
}

for (const kind of dbKinds()) {
  describe(`admin console [${kind}]`, () => {
    let t: TestApp;
    let admin: TestUser;
    let user: TestUser;

    beforeAll(async () => {
      t = await createTestApp(kind);
      admin = await createUser(t, { admin: true, name: "Ada Admin" });
      user = await createUser(t, { name: "Uma User" });
      t.ctx.jobs.define(
        "admin-test.boom",
        async () => {
          throw new FatalJobError("the handler exploded");
        },
        { maxAttempts: 1 },
      );
      t.ctx.jobs.start();
    }, 120_000);
    afterAll(() => t.close());

    test("a non-admin gets 403 in the error envelope, on the API and on the pages", async () => {
      for (const path of ["/api/admin/jobs/summary", "/api/admin/users", "/api/admin/cron", "/api/admin/payments"]) {
        const res = await user.request("GET", path);
        expect(res.status).toBe(403);
        expect((await res.json()).error.code).toBe("FORBIDDEN");
      }
      const post = await user.request("POST", `/api/admin/users/${user.id}/admin`, { body: { isAdmin: true } });
      expect(post.status).toBe(403);
      const page = await user.request("GET", "/admin/users", { headers: { accept: "text/html" } });
      expect(page.status).toBe(403);
      const anon = await t.request("GET", "/admin/jobs", { headers: { accept: "text/html" } });
      expect(anon.status).toBe(303);
      expect(anon.headers.get("location")).toStartWith("/signin");
    });

    test("jobs: counts by name and state, dead jobs with their error, retry one, retry all, discard", async () => {
      const a = await deadJob(t, "admin-test.boom", "a");
      const b = await deadJob(t, "admin-test.boom", "b");
      const c = await deadJob(t, "admin-test.boom", "c");
      await t.ctx.jobs.stop(1000); // retried jobs stay queued where the test can see them
      const summary = await (await admin.request("GET", "/api/admin/jobs/summary")).json();
      expect(summary.byName.find((r: any) => r.name === "admin-test.boom").counts.dead).toBe(3);
      expect(summary.totals.dead).toBeGreaterThanOrEqual(3);
      const dead = summary.dead.find((j: any) => j.id === a.id);
      expect(dead.lastError).toContain("the handler exploded");

      const page = await (await admin.request("GET", "/admin/jobs", { headers: { accept: "text/html" } })).text();
      expect(page).toContain("the handler exploded");
      expect(page).toContain(`/admin/jobs/${a.id}/retry`);
      expect(page).toContain('aria-label="Admin"');

      const retried = await admin.request("POST", `/admin/jobs/${a.id}/retry`, { body: new URLSearchParams() });
      expect(retried.status).toBe(303);
      expect(retried.headers.get("location")).toBe("/admin/jobs?done=retried");
      expect((await t.ctx.jobs.get(a.id))?.state).toBe("queued");
      // a queued job cannot be discarded: the page says why
      const refused = await admin.request("POST", `/admin/jobs/${a.id}/discard`, { body: new URLSearchParams() });
      expect(decodeURIComponent(refused.headers.get("location") ?? "")).toContain("only dead or failed jobs");
      const api = await admin.request("POST", `/api/admin/jobs/${a.id}/discard`);
      expect(api.status).toBe(409);

      const discarded = await admin.request("POST", `/api/admin/jobs/${b.id}/discard`);
      expect(discarded.status).toBe(200);
      expect(await t.ctx.jobs.get(b.id)).toBeNull();

      const all = await (await admin.request("POST", "/api/admin/jobs/retry-failed", { body: {} })).json();
      expect(all.retried).toBeGreaterThanOrEqual(1);
      expect((await t.ctx.jobs.get(c.id))?.state).toBe("queued");
      expect(await auditActions(t)).toEqual(expect.arrayContaining(["job.retry", "job.discard", "job.retry-all"]));
    });

    test("cron: entries with schedule and next run; run now enqueues the entry's job", async () => {
      const { entries } = await (await admin.request("GET", "/api/admin/cron")).json();
      const prune = entries.find((e: any) => e.id === "jobs.prune");
      expect(prune.pattern).toBe("0 30 3 * * *");
      expect(Date.parse(prune.nextRun)).toBeGreaterThan(Date.now());
      const before = await t.ctx.jobs.list({ name: "jobs.prune" });
      const res = await admin.request("POST", "/admin/cron/jobs.prune/run", { body: new URLSearchParams() });
      expect(res.headers.get("location")).toBe("/admin/cron?done=cron-run");
      const after = await t.ctx.jobs.list({ name: "jobs.prune" });
      expect(after.length).toBe(before.length + 1);
      const html = await (await admin.request("GET", "/admin/cron", { headers: { accept: "text/html" } })).text();
      expect(html).toContain("0 30 3 * * *");
      expect(html).toContain("/admin/cron/jobs.prune/run");
      expect((await admin.request("POST", "/api/admin/cron/no.such.entry/run")).status).toBe(404);
    });

    test("users: search and paging, admin rights (never the last admin), disable ends sessions and sign-in", async () => {
      const found = await (await admin.request("GET", "/api/admin/users?q=uma")).json();
      expect(found.users.map((u: any) => u.id)).toEqual([user.id]);
      expect(found.users[0].liveSessions).toBe(1);
      // a literal search: % matches only itself
      expect((await (await admin.request("GET", "/api/admin/users?q=%25")).json()).total).toBe(0);
      // rows written directly: 26 password hashes would take most of the test's time
      await t.ctx.db
        .insert(users)
        .values(Array.from({ length: 26 }, (_, i) => ({ name: `Paged ${i}`, email: `paged-${i}@example.test` })));
      const p1 = await (await admin.request("GET", "/api/admin/users?q=paged")).json();
      const p2 = await (await admin.request("GET", "/api/admin/users?q=paged&page=2")).json();
      expect([p1.users.length, p2.users.length, p1.pages]).toEqual([25, 1, 2]);
      expect(new Set([...p1.users, ...p2.users].map((u: any) => u.id)).size).toBe(26);

      // the admins are Root (made by createUser) and Ada; Uma becomes one and loses it again
      const grant = await admin.request("POST", `/api/admin/users/${user.id}/admin`, { body: { isAdmin: true } });
      expect((await grant.json()).isAdmin).toBe(true);
      await admin.request("POST", `/api/admin/users/${user.id}/admin`, { body: { isAdmin: false } });
      const admins = (await (await admin.request("GET", "/api/admin/users?q=root")).json()).users;
      for (const r of admins) {
        const res = await admin.request("POST", `/api/admin/users/${r.id}/admin`, { body: { isAdmin: false } });
        expect(res.status).toBe(200);
      }
      const last = await admin.request("POST", `/api/admin/users/${admin.id}/admin`, { body: { isAdmin: false } });
      expect(last.status).toBe(409);
      expect((await last.json()).error.code).toBe("LAST_ADMIN");
      expect(
        (await admin.request("POST", `/api/admin/users/${admin.id}/disabled`, { body: { disabled: true } })).status,
      ).toBe(409);

      // disabling: the session stops working, no new one opens, the password form refuses
      expect(await resolveSession(t.ctx.db, user.session)).not.toBeNull();
      const disabled = await admin.request("POST", `/admin/users/${user.id}/disable`, { body: new URLSearchParams() });
      expect(disabled.headers.get("location")).toBe("/admin/users?done=disabled");
      expect(await resolveSession(t.ctx.db, user.session)).toBeNull();
      expect((await user.request("GET", "/api/me")).status).toBe(401);
      await expect(createSession(t.ctx.db, user.id)).rejects.toThrow("disabled");
      const row = (await (await admin.request("GET", "/api/admin/users?q=uma")).json()).users[0];
      expect([row.liveSessions, row.disabledAt !== null]).toEqual([0, true]);

      await admin.request("POST", `/admin/users/${user.id}/enable`, { body: new URLSearchParams() });
      const s = await createSession(t.ctx.db, user.id);
      expect(await resolveSession(t.ctx.db, s.token)).not.toBeNull();
      const ended = await (await admin.request("POST", `/api/admin/users/${user.id}/sessions/end`)).json();
      expect(ended.sessionsEnded).toBe(1);
      expect(await resolveSession(t.ctx.db, s.token)).toBeNull();
      expect(await auditActions(t)).toEqual(
        expect.arrayContaining([
          "user.admin.grant",
          "user.admin.revoke",
          "user.disable",
          "user.enable",
          "user.sessions.end",
        ]),
      );
    }, 120_000);

    test("payments: a failed payment is retried through its payout job (the dead one runs again)", async () => {
      const [org] = await t.ctx.db.insert(orgs).values({ name: "Pay org" }).returning();
      const [project] = await t.ctx.db.insert(projects).values({ orgId: org!.id, title: "Paid project" }).returning();
      const [ms] = await t.ctx.db
        .insert(milestones)
        .values({ projectId: project!.id, title: "M1", position: 1 })
        .returning();
      const seedPayment = async (title: string) => {
        const [task] = await t.ctx.db
          .insert(tasks)
          .values({ milestoneId: ms!.id, projectId: project!.id, title, points: 1, position: 1, status: "VERIFIED" })
          .returning();
        const [proof] = await t.ctx.db
          .insert(zkProofs)
          .values({
            taskId: task!.id,
            chainTaskId: "1",
            proofData: {} as any,
            root: "0",
            digest: "0",
            status: "FAILED",
          })
          .returning();
        const [payment] = await t.ctx.db
          .insert(payments)
          .values({
            taskId: task!.id,
            amount: "1000",
            tokenAddress: zeroAddress,
            payee: "0x00000000000000000000000000000000000a11ce",
            proofId: proof!.id,
            status: "FAILED",
            lastError: "INSUFFICIENT_FUNDS: the escrow holds too little",
          })
          .returning();
        return { task: task!, proof: proof!, payment: payment! };
      };
      const withJob = await seedPayment("Task with a dead payout job");
      const { id: jobId } = await t.ctx.jobs.enqueue(
        "payments.release",
        { proofId: withJob.proof.id },
        { key: `payments.release:${withJob.task.id}` },
      );
      await t.ctx.db
        .update(jobs)
        .set({ state: "dead", attempts: 8, lastError: "INSUFFICIENT_FUNDS: the escrow holds too little" })
        .where(eq(jobs.id, jobId));

      const list = await (await admin.request("GET", "/api/admin/payments?state=FAILED")).json();
      const row = list.payments.find((p: any) => p.id === withJob.payment.id);
      expect([row.attempts, row.jobState, row.lastError]).toEqual([
        8,
        "dead",
        "INSUFFICIENT_FUNDS: the escrow holds too little",
      ]);
      const html = await (await admin.request("GET", "/admin/payments", { headers: { accept: "text/html" } })).text();
      expect(html).toContain(`/admin/payments/${withJob.payment.id}/retry`);

      const res = await admin.request("POST", `/api/admin/payments/${withJob.payment.id}/retry`);
      expect(res.status).toBe(200);
      expect((await res.json()).jobId).toBe(jobId);
      const job = await t.ctx.jobs.get(jobId);
      expect([job?.state, job?.attempts]).toEqual(["queued", 0]);
      const [after] = await t.ctx.db.select().from(payments).where(eq(payments.id, withJob.payment.id));
      expect(after!.status).toBe("PENDING");
      // not failed any more: a second retry is refused
      expect((await admin.request("POST", `/api/admin/payments/${withJob.payment.id}/retry`)).status).toBe(409);

      // a payment whose job was pruned gets its payout job again, under the same key
      const noJob = await seedPayment("Task whose job was pruned");
      const again = await (await admin.request("POST", `/api/admin/payments/${noJob.payment.id}/retry`)).json();
      const [made] = await t.ctx.db
        .select()
        .from(jobs)
        .where(and(eq(jobs.key, `payments.release:${noJob.task.id}`), eq(jobs.name, "payments.release")));
      expect(made!.id).toBe(again.jobId);
      expect(made!.payload).toEqual({ proofId: noJob.proof.id });
      expect(await auditActions(t)).toContain("payment.retry");

      // the explorer link appears once configured
      await t.ctx.settings.update({ "chain.explorerUrl": "https://explorer.example" }, admin.id);
      await t.ctx.db.update(payments).set({ txHash: "0xabc" }).where(eq(payments.id, noJob.payment.id));
      const linked = await (await admin.request("GET", "/api/admin/payments")).json();
      expect(linked.payments.find((p: any) => p.id === noJob.payment.id).txUrl).toBe(
        "https://explorer.example/tx/0xabc",
      );
    });

    test("fees: owed per token read from the escrow, withdrawn to the treasury with an audit entry", async () => {
      const chain = await TEST_CHAINS[0]!.start(); // the embedded dev chain
      try {
        const d = await deployForTest(chain);
        const fee = await accrueNativeFees(chain, d);
        expect(fee).toBe(10n ** 16n / 40n); // 2.5 %
        t.ctx.chain = {
          mode: "dev",
          conn: chain.conn,
          deployment: d,
          workerKey: chain.keys.worker,
          harnessKey: chain.keys.harness,
          confirmations: 0,
          close: async () => {},
        };
        const overview = await (await admin.request("GET", "/api/admin/fees")).json();
        expect(overview.treasury).toBe(d.treasury);
        const native = overview.balances.find((b: any) => b.token === zeroAddress);
        expect([native.symbol, native.owed]).toEqual(["ETH", fee.toString()]);
        const other = await createUser(t); // Uma's sessions were ended above
        const refused = await other.request("POST", "/api/admin/fees/withdraw", { body: { token: zeroAddress } });
        expect(refused.status).toBe(403);

        const before = await chain.conn.publicClient.getBalance({ address: d.treasury });
        const page = await admin.request("POST", "/admin/fees/withdraw", {
          body: new URLSearchParams({ token: zeroAddress }),
        });
        expect(page.headers.get("location")).toBe("/admin/fees?done=withdrawn");
        expect((await chain.conn.publicClient.getBalance({ address: d.treasury })) - before).toBe(fee);
        const [entry] = await t.ctx.db.select().from(auditLog).where(eq(auditLog.action, "fees.withdraw"));
        expect(entry!.payload).toMatchObject({ token: zeroAddress, amount: fee.toString(), treasury: d.treasury });
        const txHash = (entry!.payload as { txHash: string }).txHash;
        const receipt = await chain.conn.publicClient.getTransactionReceipt({ hash: txHash as `0x${string}` });
        expect(receipt.status).toBe("success");

        const after = await (await admin.request("GET", "/api/admin/fees")).json();
        expect(after.balances.find((b: any) => b.token === zeroAddress).owed).toBe("0");
        expect(after.withdrawals[0]).toMatchObject({ txHash, amount: fee.toString() });
        const html = await (await admin.request("GET", "/admin/fees", { headers: { accept: "text/html" } })).text();
        expect(html).toContain(txHash.slice(0, 10));
        const again = await admin.request("POST", "/api/admin/fees/withdraw", { body: { token: zeroAddress } });
        expect([again.status, (await again.json()).error.message]).toEqual([409, "No fees are owed in this token."]);
      } finally {
        t.ctx.chain = undefined;
        await chain.stop();
      }
    }, 120_000);

    test("doctor: every check with its status, the same as the CLI's", async () => {
      const { checks } = await (await admin.request("GET", "/api/admin/doctor")).json();
      expect(checks.map((c: any) => c.name)).toEqual(
        expect.arrayContaining(["database", "setup", "docker", "sandbox", "chain", "llm", "smtp", "github"]),
      );
      const db = checks.find((c: any) => c.name === "database");
      expect(db.status).toBe("ok");
      const smtp = checks.find((c: any) => c.name === "smtp");
      expect([smtp.status, smtp.fix]).toEqual(["warn", "Settings → E-mail"]);
      const html = await (await admin.request("GET", "/admin/doctor", { headers: { accept: "text/html" } })).text();
      expect(html).toContain("Settings → E-mail");
    }, 60_000);

    test("/metrics: off without a token, 401 with a wrong one, the exposition format with the right one", async () => {
      expect((await t.request("GET", "/metrics")).status).toBe(404);
      await t.ctx.settings.update({ "security.metricsToken": "scrape-secret-1" }, admin.id);
      // stored encrypted, never as the plain value
      const [stored] = await t.ctx.database.exec<{ value: unknown; secret: string | null }>(
        "select value, secret from settings where key = 'security.metricsToken'",
      );
      expect(stored!.secret).not.toContain("scrape-secret-1");
      expect((await t.request("GET", "/metrics")).status).toBe(401);
      const wrong = await t.request("GET", "/metrics", { headers: { authorization: "Bearer scrape-secret-2" } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get("www-authenticate")).toContain("Bearer");
      expect((await wrong.json()).error.code).toBe("UNAUTHORIZED");

      await admin.request("GET", "/api/admin/jobs/summary");
      await user.request("GET", "/api/admin/jobs/summary");
      const res = await t.request("GET", "/metrics", { headers: { authorization: "Bearer scrape-secret-1" } });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
      const text = await res.text();
      // every family is declared once with HELP then TYPE, before its samples
      const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]);
      for (const [name, type] of families) {
        expect(text.indexOf(`# HELP ${name} `)).toBeLessThan(text.indexOf(`# TYPE ${name} ${type}`));
        expect(text.split("\n").filter((l) => l.startsWith(`# TYPE ${name} `)).length).toBe(1);
      }
      expect(Object.fromEntries(families)).toMatchObject({
        devsponsor_http_requests_total: "counter",
        devsponsor_http_request_duration_seconds: "histogram",
        devsponsor_jobs: "gauge",
        devsponsor_harness_runs: "gauge",
        devsponsor_proofs: "gauge",
        devsponsor_payments: "gauge",
        devsponsor_ai_calls: "gauge",
        devsponsor_sse_clients: "gauge",
      });
      expect(text).toMatch(
        /^devsponsor_http_requests_total\{method="GET",route="\/api\/admin\/jobs\/summary",status="200"\} \d+$/m,
      );
      expect(text).toMatch(
        /^devsponsor_http_requests_total\{method="GET",route="\/api\/admin\/jobs\/summary",status="403"\} \d+$/m,
      );
      expect(text).toMatch(
        /^devsponsor_http_request_duration_seconds_bucket\{method="GET",route="\/api\/admin\/jobs\/summary",le="\+Inf"\} \d+$/m,
      );
      // the job test left two of its jobs queued again (one discarded) and stopped the workers
      expect(text).toMatch(/^devsponsor_jobs\{name="admin-test\.boom",state="queued"\} 2$/m);
      expect(text).toMatch(/^devsponsor_payments\{state="PENDING"\} 2$/m);
      expect(text).toMatch(/^devsponsor_proofs\{status="FAILED"\} 2$/m);
      expect(text).toMatch(/^devsponsor_sse_clients\{stream="runs"\} 0$/m);
      // samples are `name{labels} value` lines, comments start with #
      for (const line of text.trimEnd().split("\n")) {
        expect(line).toMatch(
          /^(# (HELP|TYPE) \w+ .+|\w+(\{(\w+="([^"\\]|\\.)*",?)*\})? [-+\d.eE]+|\w+(\{.*\})? [+-]Inf)$/,
        );
      }
      expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');

      // the counts: reused for 5 s; then the stale ones answer at once while they are read again behind
      const m = new Metrics();
      const jobsOf = (c: { jobs: { name: string; state: string; n: number }[] }) =>
        c.jobs.find((r) => r.name === "admin-test.cache" && r.state === "queued")?.n ?? 0;
      const t0 = Date.now();
      expect(jobsOf(await m.dbCounts(t.ctx, t0))).toBe(0);
      await t.ctx.jobs.enqueue("admin-test.cache", {});
      expect(jobsOf(await m.dbCounts(t.ctx, t0 + 1_000))).toBe(0);
      expect(jobsOf(await m.dbCounts(t.ctx, t0 + 6_000))).toBe(0); // stale, answered at once
      for (let i = 0; i < 100 && jobsOf(await m.dbCounts(t.ctx, t0 + 6_001)) === 0; i++) await Bun.sleep(20);
      expect(jobsOf(await m.dbCounts(t.ctx, t0 + 6_001))).toBe(1);
      await t.ctx.jobs.enqueue("admin-test.cache", {});
      expect(jobsOf(await m.dbCounts(t.ctx, t0 + 120_000))).toBe(2); // too old to answer: the scrape waits
    });
  });
}
