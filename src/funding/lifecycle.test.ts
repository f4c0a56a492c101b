// The funding lifecycle on the embedded dev chain and both databases: a top-up that asks only for the
// difference, close request (claims stop) → withdrawal delay (dev chain time travel) → close and refund, a close
// sent outside the appliance followed from the chain's events, the expiry date, and yield mode with the harvest
// cron's exact split and its `yield.harvested` event; the funding tab and its charts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, asc, eq, inArray } from "drizzle-orm";
import { type Address, erc20Abi } from "viem";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { auditLog } from "../audit/schema";
import { verifyAudit } from "../audit/verify";
import { DevToken, ProjectEscrow } from "../chain/contracts.gen";
import type { ChainRuntime } from "../chain/service";
import type { Principal } from "../core/context";
import { domainEvents } from "../events/schema";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { syncChainEvents } from "../payments/sync";
import { projects } from "../projects/schema";
import { onChainProjectId } from "../zk/attestation";
import { assertClaimsOpen, closeAndRefund, fundingRow, readFunding, requestClose, setExpiry } from "./lifecycle";
import { fundingOverview, raiseTaskPoints } from "./overview";
import { projectFunding } from "./schema";
import { createQuote, devChainDeposit } from "./service";
import { harvestAll, setYieldMode } from "./yield";

const errorCode = (p: Promise<unknown>) =>
  p.then(
    () => "resolved",
    (e) => (e as { code?: string }).code ?? String(e),
  );

for (const kind of dbKinds()) {
  describe(`funding lifecycle [${kind}]`, () => {
    let t: TestApp;
    let sponsor: TestUser;
    let principal: Principal;
    let rt: ChainRuntime;
    let orgId: string;

    /** An approved project with tasks of the given points, funded from the dev chain's sponsor account. */
    const fundedProject = async (points: number[], token?: { address: Address; decimals: number }) => {
      const db = t.ctx.db;
      const [p] = await db
        .insert(projects)
        .values({
          orgId,
          title: `P${Math.random()}`,
          tokenAddress: token?.address ?? null,
          tokenSymbol: token ? "dUSD" : null,
          tokenDecimals: token?.decimals ?? 18,
          structureApprovedAt: new Date(),
          totalPoints: points.reduce((a, b) => a + b, 0),
        })
        .returning();
      const [m] = await db
        .insert(milestones)
        .values({ projectId: p!.id, title: "M", points: points.reduce((a, b) => a + b, 0), position: 0 })
        .returning();
      const taskIds: string[] = [];
      for (const [i, pts] of points.entries()) {
        const [row] = await db
          .insert(tasks)
          .values({ milestoneId: m!.id, projectId: p!.id, title: `task ${i}`, points: pts, position: i })
          .returning();
        taskIds.push(row!.id);
      }
      await createQuote(t.ctx, principal, p!.id);
      const funded = await devChainDeposit(t.ctx, principal, p!.id);
      expect(funded.state).toBe("ACTIVE");
      return { id: p!.id, taskIds, deposited: BigInt(funded.totalDeposited) };
    };

    /** A project's audit entries of some actions, oldest first. */
    const trail = (projectId: string, ...actions: string[]) =>
      t.ctx.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.targetId, projectId), inArray(auditLog.action, actions)))
        .orderBy(asc(auditLog.seq));

    const chainTime = async () => Number((await rt.conn.publicClient.getBlock({ blockTag: "latest" })).timestamp);
    const travel = async (seconds: number) => {
      await rt.conn.request("evm_increaseTime", [seconds]);
      await rt.conn.request("evm_mine", []);
    };

    beforeAll(async () => {
      t = await createTestApp(kind);
      sponsor = await createUser(t);
      const [org] = await t.ctx.db.insert(orgs).values({ name: "Lifecycle Org" }).returning();
      orgId = org!.id;
      await t.ctx.db.insert(orgMembers).values({ orgId, userId: sponsor.id, role: "OWNER" });
      principal = (await t.ctx.authenticate(new Request("http://localhost/", { headers: sponsor.headers })))!;
      expect(principal.userId).toBe(sponsor.id);
      rt = await t.ctx.openChain!();
    }, 180_000);

    afterAll(async () => {
      await rt?.close();
      await t.close();
    });

    test("a top-up quotes only the difference and the payouts add up to the deposits", async () => {
      const p = await fundedProject([5, 3]);
      // nothing changed: nothing to top up
      expect(await errorCode(createQuote(t.ctx, principal, p.id))).toBe("CONFLICT");
      await raiseTaskPoints(t.ctx, principal, p.taskIds[0]!, 13);
      const quote = await createQuote(t.ctx, principal, p.id);
      expect(quote.totalPoints).toBe(16);
      expect(BigInt(quote.baseDeposited)).toBe(p.deposited);
      // twice the points at the same price: the difference equals what was deposited, to the base unit or so
      const full = BigInt(quote.baseDeposited) + BigInt(quote.amount);
      expect(BigInt(quote.amount)).toBeGreaterThan(0n);
      expect(full - 2n * p.deposited).toBeLessThanOrEqual(1n);
      expect(full - 2n * p.deposited).toBeGreaterThanOrEqual(-1n);
      const topped = await devChainDeposit(t.ctx, principal, p.id);
      expect(BigInt(topped.totalDeposited)).toBe(full);
      const payouts = await t.ctx.db
        .select({ payout: tasks.payoutAmount })
        .from(tasks)
        .where(eq(tasks.projectId, p.id));
      expect(payouts.reduce((a, r) => a + BigInt(r.payout!), 0n)).toBe(full);
      const view = await fundingOverview(t.ctx, principal, p.id);
      expect(view.deposits).toHaveLength(2);
      expect(view.amounts.remaining).toBe(full);
      expect(view.deposits.every((d) => /^0x[0-9a-f]{64}$/.test(d.depositTxHash))).toBe(true);
    }, 120_000);

    test("a close sent outside the appliance is followed from the escrow's events", async () => {
      const p = await fundedProject([2]);
      const hash = await rt.conn.wallet(rt.dev!.genesis.keys.sponsor).writeContract({
        address: rt.deployment!.escrow,
        abi: ProjectEscrow.abi,
        functionName: "requestClose",
        args: [onChainProjectId(p.id)],
      });
      await rt.conn.publicClient.waitForTransactionReceipt({ hash });
      expect((await fundingRow(t.ctx.db, p.id)).closeRequestedAt).toBeNull();
      await syncChainEvents(t.ctx);
      const row = await fundingRow(t.ctx.db, p.id);
      expect(row.closeRequestTx).toBe(hash);
      expect(row.closableAt).not.toBeNull();
      expect(await errorCode(assertClaimsOpen(await readFunding(t.ctx.db, p.id)))).toBe("PROJECT_CLOSING");
    }, 120_000);

    test("after the expiry date claims stop and the unspent funds are refunded at once", async () => {
      const p = await fundedProject([4]);
      expect(await errorCode(setExpiry(t.ctx, principal, p.id, new Date(Date.now() - 1000)))).toBe("INVALID_INPUT");
      await setExpiry(t.ctx, principal, p.id, new Date(Date.now() + 86_400_000));
      await assertClaimsOpen(await readFunding(t.ctx.db, p.id));
      // the date passes (set in the database: the wall clock decides expiry)
      await t.ctx.db
        .update(projectFunding)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(projectFunding.projectId, p.id));
      expect(await errorCode(assertClaimsOpen(await readFunding(t.ctx.db, p.id)))).toBe("PROJECT_CLOSING");
      const closed = await closeAndRefund(t.ctx, principal, p.id);
      expect(BigInt(closed.refundAmount!)).toBe(p.deposited);
    }, 120_000);

    test("yield mode: only with a vault; the harvest cron splits the yield exactly and emits yield.harvested", async () => {
      const native = await fundedProject([1]);
      expect(await errorCode(setYieldMode(t.ctx, principal, native.id, "YIELD"))).toBe("NO_VAULT");

      const token = rt.deployment!.dev!.token;
      const p = await fundedProject([10], { address: token, decimals: 6 });
      expect((await setYieldMode(t.ctx, principal, p.id, "YIELD")).mode).toBe("YIELD");
      // yield appears in the vault: tokens minted to it raise every share's value
      const vault = rt.deployment!.dev!.vault;
      const minter = rt.conn.wallet(rt.dev!.genesis.keys.sponsor);
      const vaultAssets = await rt.conn.publicClient.readContract({
        address: token,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [vault],
      });
      const gain = vaultAssets / 10n + 12_345n;
      const h = await minter.writeContract({
        address: token,
        abi: DevToken.abi,
        functionName: "mint",
        args: [vault, gain],
      });
      await rt.conn.publicClient.waitForTransactionReceipt({ hash: h });
      const pending = (await fundingOverview(t.ctx, principal, p.id)).yield.pending;
      expect(pending).toBeGreaterThan(0n);

      const entries = await t.ctx.cron.list();
      expect(entries.map((e) => e.id)).toContain("funding.harvest");
      const run = await harvestAll({ ...t.ctx });
      expect(run.harvested).toBeGreaterThanOrEqual(1);
      const view = await fundingOverview(t.ctx, principal, p.id);
      expect(view.yield.harvests).toHaveLength(1);
      const hv = view.yield.harvests[0]!;
      const bps = BigInt(Math.min(t.ctx.settings.get("funding.yieldFeeBps"), 2000)); // deploy caps it at 2000
      expect(BigInt(hv.fee)).toBe((BigInt(hv.yieldAmount) * bps) / 10_000n);
      expect(BigInt(hv.fee) + BigInt(hv.sponsorShare)).toBe(BigInt(hv.yieldAmount));
      // the recorded yield is what was pending (the vault's rounding may keep a unit)
      expect(BigInt(hv.yieldAmount) <= pending && BigInt(hv.yieldAmount) >= pending - 1n).toBe(true);
      const events = await t.ctx.db
        .select()
        .from(domainEvents)
        .where(and(eq(domainEvents.name, "yield.harvested"), eq(domainEvents.projectId, p.id)));
      expect(events).toHaveLength(1);
      expect(events[0]!.payload).toMatchObject({ fee: hv.fee, sponsorShare: hv.sponsorShare, txHash: hv.txHash });
      // the chain sync sees the same harvest again: still one row, one event
      await syncChainEvents(t.ctx);
      expect((await fundingOverview(t.ctx, principal, p.id)).yield.harvests).toHaveLength(1);
      // the mode change and the harvest are in the audit chain once each, though the sync applied them again
      const audited = await trail(p.id, "funding.mode", "funding.harvest");
      expect(audited.map((e) => e.action)).toEqual(["funding.mode", "funding.harvest"]);
      expect(audited[0]!.payload).toMatchObject({ from: "ESCROW", to: "YIELD" });
      expect(audited[1]!.payload).toMatchObject({
        txHash: hv.txHash,
        yieldAmount: hv.yieldAmount,
        fee: hv.fee,
        sponsorShare: hv.sponsorShare,
      });

      const page = await sponsor.request("GET", `/projects/${p.id}/funding`);
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('role="img"');
      expect(html).toContain("<title");
      expect(html).toContain("Funding burn-down");
      expect(html).toContain("Data table");
      expect(html).toContain(hv.txHash.slice(0, 10));
      const api = await sponsor.request("GET", `/api/projects/${p.id}/funding`);
      expect(api.status).toBe(200);
      expect(((await api.json()) as { yield: { totals: { fee: string } } }).yield.totals.fee).toBe(hv.fee);
    }, 180_000);

    // last: the time travel puts the chain days ahead of the wall clock, and quotes expire by the wall clock
    test("close request stops claims; the refund waits for the withdrawal delay, then sends the rest back", async () => {
      const p = await fundedProject([8]);
      await assertClaimsOpen(await readFunding(t.ctx.db, p.id));
      const before = await chainTime();
      const row = await requestClose(t.ctx, principal, p.id);
      expect(row.closeRequestTx).toMatch(/^0x[0-9a-f]{64}$/);
      const delay = Number(
        await rt.conn.publicClient.readContract({
          address: rt.deployment!.escrow,
          abi: ProjectEscrow.abi,
          functionName: "withdrawalDelay",
        }),
      );
      expect(delay).toBeGreaterThan(0);
      expect(row.closableAt!.getTime() / 1000).toBeGreaterThanOrEqual(before + delay);
      expect(await errorCode(assertClaimsOpen(await readFunding(t.ctx.db, p.id)))).toBe("PROJECT_CLOSING");
      expect(await errorCode(createQuote(t.ctx, principal, p.id))).toBe("PROJECT_CLOSING");
      expect(await errorCode(closeAndRefund(t.ctx, principal, p.id))).toBe("WITHDRAWAL_DELAY_PENDING");

      const sponsorAddr = (
        await rt.conn.publicClient.readContract({
          address: rt.deployment!.escrow,
          abi: ProjectEscrow.abi,
          functionName: "getProject",
          args: [onChainProjectId(p.id)],
        })
      ).sponsor;
      const balanceBefore = await rt.conn.publicClient.getBalance({ address: sponsorAddr });
      await travel(delay + 1);
      const closed = await closeAndRefund(t.ctx, principal, p.id);
      expect(closed.closedAt).not.toBeNull();
      expect(BigInt(closed.refundAmount!)).toBe(p.deposited);
      expect(closed.refundTx).toMatch(/^0x[0-9a-f]{64}$/);
      // the worker paid the gas: the sponsor receives the whole refund
      expect(await rt.conn.publicClient.getBalance({ address: sponsorAddr })).toBe(balanceBefore + p.deposited);
      const [project] = await t.ctx.db.select().from(projects).where(eq(projects.id, p.id));
      expect(project!.state).toBe("COMPLETED");
      const view = await fundingOverview(t.ctx, principal, p.id);
      expect(view.amounts.remaining).toBe(0n);
      expect(view.amounts.refunded).toBe(p.deposited);
      // the close request and the close with its refund are audited once each, also after another sync pass
      await syncChainEvents(t.ctx);
      const audited = await trail(p.id, "funding.close_request", "funding.close");
      expect(audited.map((e) => e.action)).toEqual(["funding.close_request", "funding.close"]);
      expect(audited[0]!.payload).toMatchObject({ txHash: row.closeRequestTx });
      expect(audited[1]!.payload).toMatchObject({ txHash: closed.refundTx, refund: p.deposited.toString() });
      expect((await verifyAudit(t.ctx.db)).ok).toBe(true);
    }, 120_000);
  });
}
