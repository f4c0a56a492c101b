// Money through the appliance as it runs: the funding routes over HTTP with a signed-in sponsor and a deposit on
// the embedded dev chain the app opened itself (the payout of a verified task: src/tasks/loop.test.ts).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { zeroAddress } from "viem";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { ProjectEscrow } from "../chain/contracts.gen";
import type { ChainRuntime } from "../chain/service";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { onChainProjectId } from "../zk/attestation";

for (const kind of dbKinds()) {
  describe(`funding over HTTP and payout jobs [${kind}]`, () => {
    let t: TestApp;
    let sponsor: TestUser;
    let outsider: TestUser;
    let rt: ChainRuntime;
    let projectId: string;

    beforeAll(async () => {
      t = await createTestApp(kind);
      sponsor = await createUser(t);
      outsider = await createUser(t);
      const db = t.ctx.db;
      const [org] = await db.insert(orgs).values({ name: "Funded Org" }).returning();
      await db.insert(orgMembers).values({ orgId: org!.id, userId: sponsor.id, role: "OWNER" });
      const [project] = await db
        .insert(projects)
        .values({ orgId: org!.id, title: "Funded", tokenDecimals: 18, structureApprovedAt: new Date() })
        .returning();
      projectId = project!.id;
      const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 8, position: 0 }).returning();
      await db.insert(tasks).values({ milestoneId: m!.id, projectId, title: "task", points: 8, position: 0 });
      rt = await t.ctx.openChain!();
    }, 120_000);

    afterAll(async () => {
      await t.ctx.jobs.stop();
      await rt?.close();
      await t.close();
    });

    test("a member of another org cannot quote; bad input is a 400 in the envelope", async () => {
      const other = await outsider.request("POST", `/api/projects/${projectId}/fund/quote`);
      expect([403, 404]).toContain(other.status);
      const bad = await sponsor.request("POST", `/api/projects/${projectId}/fund`, { body: { depositTxHash: "0x12" } });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: { code: string } }).error.code).toBe("INVALID_INPUT");
    });

    test("quote → deposit on the dev chain → confirm activates the project", async () => {
      const res = await sponsor.request("POST", `/api/projects/${projectId}/fund/quote`);
      expect(res.status).toBe(200);
      const quote = (await res.json()) as { amount: string; totalPoints: number; deposit: { projectKey: string } };
      expect(quote.totalPoints).toBe(8);
      expect(quote.deposit.projectKey).toBe(onChainProjectId(projectId));
      const amount = BigInt(quote.amount);
      expect(amount).toBeGreaterThan(0n);

      const wallet = rt.conn.wallet(rt.dev!.genesis.keys.sponsor);
      const deposit = async (value: bigint) => {
        const hash = await wallet.writeContract({
          address: rt.deployment!.escrow,
          abi: ProjectEscrow.abi,
          functionName: "deposit",
          args: [onChainProjectId(projectId), zeroAddress, value],
          value,
        });
        await rt.conn.publicClient.waitForTransactionReceipt({ hash });
        return hash;
      };
      const short = await sponsor.request("POST", `/api/projects/${projectId}/fund`, {
        body: { depositTxHash: await deposit(amount - 1n) },
      });
      expect(short.status).toBe(409);
      expect(((await short.json()) as { error: { code: string } }).error.code).toBe("DEPOSIT_NOT_CONFIRMED");

      const ok = await sponsor.request("POST", `/api/projects/${projectId}/fund`, {
        body: { depositTxHash: await deposit(1n) },
      });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ state: "ACTIVE", totalDeposited: quote.amount });
    });
  });
}

describe("funding from the project overview (forms, dev chain)", () => {
  let t: TestApp;
  let sponsor: TestUser;
  let projectId: string;

  beforeAll(async () => {
    t = await createTestApp("pglite");
    sponsor = await createUser(t);
    const db = t.ctx.db;
    const [org] = await db.insert(orgs).values({ name: "Form Org" }).returning();
    await db.insert(orgMembers).values({ orgId: org!.id, userId: sponsor.id, role: "OWNER" });
    const [project] = await db
      .insert(projects)
      .values({ orgId: org!.id, title: "Form funded", tokenDecimals: 18, structureApprovedAt: new Date() })
      .returning();
    projectId = project!.id;
    const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 5, position: 0 }).returning();
    await db.insert(tasks).values({ milestoneId: m!.id, projectId, title: "task", points: 5, position: 0 });
  }, 120_000);
  afterAll(async () => {
    await (t.ctx.chain?.close() ?? Promise.resolve());
    await t.close();
  });

  const page = async () => {
    const res = await sponsor.request("GET", `/projects/${projectId}`);
    expect(res.status).toBe(200);
    return res.text();
  };
  const form = (path: string, fields: Record<string, string> = {}) =>
    sponsor.request("POST", path, { body: new URLSearchParams({ _csrf: sponsor.csrf, ...fields }) });

  test("quote, a bad hash, then a dev-chain deposit activates the project", async () => {
    expect(await page()).toContain("Get a funding quote");
    // a contributor of the same org sees the project but not the funding forms
    const contributor = await createUser(t);
    const [project] = await t.ctx.db.select().from(projects).where(eq(projects.id, projectId));
    await t.ctx.db.insert(orgMembers).values({ orgId: project!.orgId, userId: contributor.id, role: "CONTRIBUTOR" });
    const seen = await contributor.request("GET", `/projects/${projectId}`);
    expect(seen.status).toBe(200);
    expect(await seen.text()).not.toContain("Get a funding quote");

    const quoted = await form(`/projects/${projectId}/fund/quote`);
    expect(quoted.status).toBe(303);
    expect(quoted.headers.get("location")).toContain("funding=quoted");
    const withQuote = await (await sponsor.request("GET", quoted.headers.get("location")!)).text();
    expect(withQuote).toContain("Quote ready");
    expect(withQuote).toContain("5 points");
    expect(withQuote).toContain("Deposit from the dev chain");

    const bad = await form(`/projects/${projectId}/fund`, { depositTxHash: "0xnope" });
    expect(bad.status).toBe(303);
    const location = bad.headers.get("location")!;
    expect(location).toContain("error=");
    const shown = await (await sponsor.request("GET", location)).text();
    expect(shown).toContain("must be a transaction hash");

    const funded = await form(`/projects/${projectId}/fund/dev-deposit`);
    expect(funded.status).toBe(303);
    expect(funded.headers.get("location")).toContain("funding=funded");
    const [row] = await t.ctx.db.select().from(projects).where(eq(projects.id, projectId));
    expect(row!.state).toBe("ACTIVE");
    const after = await page();
    expect(after).toContain("Funded:");
    expect(after).not.toContain("Get a funding quote");
  }, 120_000);
});
