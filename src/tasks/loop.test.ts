// The contributor loop through the appliance as it runs, on both databases: a funded project on a real git
// repository served over HTTP, a claim, a commit that breaks a test (FAILED, the test named), a fix (PASSED),
// and the payout jobs paying the claimer's wallet exactly once from the stored verdict.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { ProjectEscrow } from "../chain/contracts.gen";
import type { ChainRuntime } from "../chain/service";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { payments } from "../payments/schema";
import { projects } from "../projects/schema";
import { wallets } from "../users/schema";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { ensureSandboxImages } from "../../test/support/docker";
import { type GitHost, startGitHost } from "../../test/support/git-host";
import { taskVerifications } from "./schema";

const PAYEE = "0x00000000000000000000000000000000000b0b01";
const PACKAGE = '{ "name": "demo", "private": true }\n';
const testFile = (second: string) =>
  `import { expect, test } from "bun:test";\ntest("adds", () => expect(1 + 1).toBe(2));\ntest("doubles", () => expect(2 * 2).toBe(${second}));\n`;

beforeAll(() => ensureSandboxImages(), 900_000);

for (const kind of dbKinds()) {
  describe(`the contributor loop [${kind}]`, () => {
    let t: TestApp;
    let host: GitHost;
    let sponsor: TestUser;
    let contributor: TestUser;
    let rival: TestUser;
    let rt: ChainRuntime;
    let projectId: string;
    let taskId: string;
    const repo = `demo-${kind}`;

    const json = async <T>(res: Response, status: number): Promise<T> => {
      const body = await res.text();
      if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${body}`);
      return JSON.parse(body) as T;
    };
    const taskState = async () => (await t.ctx.db.select().from(tasks).where(eq(tasks.id, taskId)))[0]!;
    const until = async <T>(fn: () => Promise<T | undefined | null | false>, what: string, ms = 120_000) => {
      const end = Date.now() + ms;
      for (;;) {
        const v = await fn();
        if (v) return v;
        if (Date.now() > end) {
          const jobs = (await t.ctx.jobs.list({ limit: 50 })).map((j) => `${j.name} ${j.state} ${j.lastError ?? ""}`);
          const [tk] = await t.ctx.db.select().from(tasks).where(eq(tasks.id, taskId));
          throw new Error(`timed out waiting for ${what} (task ${tk?.status}; jobs: ${jobs.join(" | ")})`);
        }
        await Bun.sleep(200);
      }
    };

    beforeAll(async () => {
      host = startGitHost();
      await host.createRepo(repo, { "package.json": PACKAGE, "math.test.ts": testFile("4") });
      t = await createTestApp(kind);
      await t.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"] }, null);
      sponsor = await createUser(t);
      contributor = await createUser(t);
      rival = await createUser(t);
      const db = t.ctx.db;
      const [org] = await db
        .insert(orgs)
        .values({ name: `Loop ${kind}` })
        .returning();
      await db.insert(orgMembers).values({ orgId: org!.id, userId: sponsor.id, role: "OWNER" });
      const [project] = await db
        .insert(projects)
        .values({
          orgId: org!.id,
          title: "Loop",
          repoUrl: host.url(repo),
          repoProvider: "git",
          tokenDecimals: 18,
          structureApprovedAt: new Date(),
        })
        .returning();
      projectId = project!.id;
      const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 5, position: 0 }).returning();
      const [task] = await db
        .insert(tasks)
        .values({
          milestoneId: m!.id,
          projectId,
          title: "Doubling",
          points: 5,
          position: 0,
          verification: { minPassingTests: 2, testCommand: "", rules: [] },
        })
        .returning();
      taskId = task!.id;
      rt = await t.ctx.openChain!();
      t.ctx.jobs.start();
    }, 300_000);

    afterAll(async () => {
      await t.ctx.jobs.stop(5_000);
      await rt?.close();
      await t.close();
      await host.stop();
    });

    test("claims wait for funding and a payout wallet; one winner", async () => {
      const early = await contributor.request("POST", `/api/tasks/${taskId}/claim`);
      expect((await json<{ error: { code: string } }>(early, 409)).error.code).toBe("PROJECT_NOT_FUNDED");

      const funded = await sponsor.request("POST", `/projects/${projectId}/fund/quote`, {
        body: new URLSearchParams({ _csrf: sponsor.csrf }),
      });
      expect(funded.status).toBe(303);
      const dep = await sponsor.request("POST", `/projects/${projectId}/fund/dev-deposit`, {
        body: new URLSearchParams({ _csrf: sponsor.csrf }),
      });
      expect(dep.headers.get("location")).toContain("funding=funded");

      const noWallet = await contributor.request("POST", `/api/tasks/${taskId}/claim`);
      expect((await json<{ error: { code: string } }>(noWallet, 422)).error.code).toBe("PAYOUT_WALLET_REQUIRED");
      for (const [u, address] of [
        [contributor, PAYEE],
        [rival, "0x00000000000000000000000000000000000c0c02"],
      ] as const) {
        await t.ctx.db
          .insert(wallets)
          .values({ userId: u.id, address, chainId: "31337", isPayout: true, siweMessage: "test", signature: "0x" });
      }
      const [a, b] = await Promise.all([
        contributor.request("POST", `/api/tasks/${taskId}/claim`),
        rival.request("POST", `/api/tasks/${taskId}/claim`),
      ]);
      const statuses = [a.status, b.status].sort();
      expect(statuses).toEqual([201, 409]);
      if (a.status !== 201) {
        // the rival won the race: give it up so the contributor can go on
        await json(await rival.request("POST", `/api/tasks/${taskId}/unclaim`), 200);
        await json(await contributor.request("POST", `/api/tasks/${taskId}/claim`), 201);
      } else {
        expect((await json<{ error: { code: string } }>(b, 409)).error.code).toBe("TASK_ALREADY_CLAIMED");
      }
      expect((await taskState()).status).toBe("CLAIMED");
      expect((await taskState()).claimedById).toBe(contributor.id);
    });

    test("only the claimer links work; a commit that breaks a test is FAILED with the test named", async () => {
      const broken = await host.push(repo, { "math.test.ts": testFile("5") }, { branch: "work" });
      const notMine = await rival.request("POST", `/api/tasks/${taskId}/work`, { body: { branch: "work" } });
      expect(notMine.status).toBe(403);
      const linked = await json<{ verification: { id: string; commit: string } }>(
        await contributor.request("POST", `/api/tasks/${taskId}/work`, { body: { branch: "work" } }),
        201,
      );
      expect(linked.verification.commit).toBe(broken);
      // the same commit again is the same verification
      const again = await json<{ verification: { id: string } }>(
        await contributor.request("POST", `/api/tasks/${taskId}/work`, { body: { branch: "work", commit: broken } }),
        201,
      );
      expect(again.verification.id).toBe(linked.verification.id);
      const v = await until(async () => {
        const [row] = await t.ctx.db
          .select()
          .from(taskVerifications)
          .where(eq(taskVerifications.id, linked.verification.id));
        return row && !["QUEUED", "RUNNING"].includes(row.status) ? row : null;
      }, "the first verdict");
      expect(v.status).toBe("FAILED");
      expect(v.reason).toContain("doubles");
      expect((await taskState()).status).toBe("CLAIMED");
      const page = await (await contributor.request("GET", `/tasks/${taskId}`)).text();
      expect(page).toContain("Failing tests");
      expect(page).toContain("doubles");
    }, 180_000);

    test("a payout of a verification that did not pass is refused", async () => {
      const [failed] = await t.ctx.db.select().from(taskVerifications).where(eq(taskVerifications.taskId, taskId));
      const { id } = await t.ctx.jobs.enqueue("payments.proof", { verificationId: failed!.id });
      const job = await until(async () => {
        const j = await t.ctx.jobs.get(id);
        return j && (j.state === "dead" || j.state === "completed") ? j : null;
      }, "the refused payout");
      expect(job.state).toBe("dead");
      expect(String(job.lastError)).toContain("VERIFICATION_FAILED");
      expect(await t.ctx.db.select().from(payments).where(eq(payments.taskId, taskId))).toHaveLength(0);
    });

    test("the fix passes and is paid once to the claimer's wallet; the project completes", async () => {
      const before = await rt.conn.publicClient.getBalance({ address: PAYEE });
      const fixed = await host.push(repo, { "math.test.ts": testFile("4") }, { branch: "work" });
      const linked = await json<{ verification: { commit: string } }>(
        await contributor.request("POST", `/api/tasks/${taskId}/work`, { body: { branch: "work" } }),
        201,
      );
      expect(linked.verification.commit).toBe(fixed);
      const paid = await until(
        async () => {
          const s = await taskState();
          if (s.status === "CLAIMED") {
            const [v] = await t.ctx.db.select().from(taskVerifications).where(eq(taskVerifications.commit, fixed));
            throw new Error(`verification did not pass: ${v?.status} ${v?.reason}`);
          }
          return s.status === "PAID" ? s : null;
        },
        "the payment",
        180_000,
      );
      const amount = BigInt(paid.payoutAmount!);
      const [row] = await t.ctx.db.select().from(payments).where(eq(payments.taskId, taskId));
      expect(row).toMatchObject({ status: "COMPLETED", payee: PAYEE.toLowerCase(), amount: amount.toString() });
      const feeBps = await rt.conn.publicClient.readContract({
        address: rt.deployment!.escrow,
        abi: ProjectEscrow.abi,
        functionName: "paymentFeeBps",
      });
      const fee = (amount * BigInt(feeBps)) / 10_000n;
      expect((await rt.conn.publicClient.getBalance({ address: PAYEE })) - before).toBe(amount - fee);
      const [project] = await t.ctx.db.select().from(projects).where(eq(projects.id, projectId));
      expect(project!.state).toBe("COMPLETED");

      const earned = await json<{ earnings: { txHash: string; amount: string }[] }>(
        await contributor.request("GET", "/api/me/earnings"),
        200,
      );
      expect(earned.earnings).toHaveLength(1);
      expect(earned.earnings[0]!.txHash).toBe(row!.txHash!);
      const page = await (await contributor.request("GET", `/tasks/${taskId}`)).text();
      expect(page).toContain(row!.txHash!);
      expect(row!.blockNumber).toBeGreaterThan(0);
      expect(page).toContain(`in block ${row!.blockNumber}`);
      expect(page).toContain(`receipt ${row!.proofId}`);
      const sponsorView = await (await sponsor.request("GET", `/projects/${projectId}/tasks`)).text();
      expect(sponsorView).toContain("PAID");
      expect(sponsorView).toContain(row!.txHash!);
    }, 240_000);
  });
}
