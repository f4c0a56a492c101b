// Browser test of the funding lifecycle on the embedded dev chain, in Debian's Chromium against the real app:
// the sponsor funds a project from the overview, raises an open task's points and tops up only the difference on
// the Funding tab; funds a dev-token project, switches it to yield mode, and harvests the vault's yield (split
// shown); requests the close (claims stop, the delay's end is shown), and after the withdrawal delay (dev chain
// time travel) closes and gets the refund. The Funding tab is checked at 390 and 1280 px (nothing wider than the
// screen, charts with their names). Screenshots go to test-artifacts/funding/ (ignored by git).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { type Browser, chromium, type Page } from "playwright-core";
import { DevToken } from "../../src/chain/contracts.gen";
import type { ChainRuntime } from "../../src/chain/service";
import { projectFunding } from "../../src/funding/schema";
import { milestones, tasks } from "../../src/milestones/schema";
import { projects } from "../../src/projects/schema";
import { createTestApp, type TestApp } from "../support/app";
import { createOrgAs, createUser, type TestUser } from "../support/auth";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";

const CHROMIUM = chromiumPath();
const SHOTS = join(import.meta.dir, "../../test-artifacts/funding");
const VIEWPORTS = [
  { name: "phone", width: 390, height: 844 },
  { name: "laptop", width: 1280, height: 900 },
] as const;

describe("funding lifecycle in a browser", () => {
  let t: TestApp;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let base: string;
  let sponsor: TestUser;
  let rt: ChainRuntime;
  let page: Page;
  let nativeId = "";
  let tokenId = "";

  const project = async (orgId: string, title: string, token: { address: string; decimals: number } | null) => {
    const db = t.ctx.db;
    const [p] = await db
      .insert(projects)
      .values({
        orgId,
        title,
        tokenAddress: token?.address ?? null,
        tokenSymbol: token ? "dUSD" : null,
        tokenDecimals: token?.decimals ?? 18,
        structureApprovedAt: new Date(),
        totalPoints: 8,
      })
      .returning();
    const [m] = await db
      .insert(milestones)
      .values({ projectId: p!.id, title: "Reports", points: 8, position: 0, status: "FROZEN" })
      .returning();
    await db.insert(tasks).values([
      { milestoneId: m!.id, projectId: p!.id, title: "Export the monthly report", points: 5, position: 0 },
      { milestoneId: m!.id, projectId: p!.id, title: "Sum every account", points: 3, position: 1 },
    ]);
    return p!.id;
  };

  const shot = (name: string) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const flash = async () => (await page.locator(".flash").first().textContent()) ?? "";
  const text = async (selector: string) => (await page.locator(selector).textContent()) ?? "";
  const submit = async (button: string) => {
    page.once("dialog", (d) => d.accept());
    await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: button }).click()]);
  };

  /** Funds a project from its overview: quote, then the dev chain's one-click deposit. */
  const fundFromOverview = async (id: string) => {
    await page.goto(`${base}/projects/${id}`, { waitUntil: "load" });
    await submit("Get a funding quote");
    expect(await flash()).toContain("Quote ready");
    await submit("Deposit from the dev chain's sponsor account");
    expect(await flash()).toContain("the project is funded and active");
    await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Funding" }).click();
    await page.waitForURL(`${base}/projects/${id}/funding`);
  };

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    t = await createTestApp("pglite");
    sponsor = await createUser(t, { name: "Sam Sponsor" });
    const orgId = await createOrgAs(sponsor, "Ledger Works");
    rt = await t.ctx.openChain!();
    nativeId = await project(orgId, "Ledger (ETH)", null);
    tokenId = await project(orgId, "Ledger (dUSD)", { address: rt.deployment!.dev!.token, decimals: 6 });
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => t.app.handle(req) });
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    await ctx.addCookies([{ name: "ds_session", value: sponsor.session, url: base }]);
    page = await ctx.newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await rt?.close();
    await t?.close();
  });

  test("top-up: more points on an open task are funded by depositing only the difference", async () => {
    await fundFromOverview(nativeId);
    const first = await text("#amount-deposited");
    expect(first).toContain("in 1 deposit");
    const deposited = Number(first.split(" ")[0]);
    await page.getByText("Raise an open task's points").click();
    await page.getByLabel("Sum every account").fill("11");
    await Promise.all([
      page.waitForLoadState("load"),
      page
        .locator("form", { has: page.getByLabel("Sum every account") })
        .getByRole("button", { name: "Save points" })
        .click(),
    ]);
    expect(await flash()).toContain("Points raised");
    await submit("Get a top-up quote");
    expect(await flash()).toContain("Top-up quoted");
    // 16 points instead of 8 at the same price: the top-up is what was deposited once more (to a base unit)
    const topUp = Number((await text("#topup-amount")).split(" ")[0]);
    expect(Math.abs(topUp - deposited)).toBeLessThan(1e-15);
    await submit("Deposit the top-up from the dev chain's sponsor account");
    expect(await flash()).toContain("top-up is in escrow");
    expect(await text("#amount-deposited")).toContain("in 2 deposits");
    expect(await page.locator("#transactions tbody tr").count()).toBe(2);
    await shot("topped-up-1280");
  }, 120_000);

  test("yield: a dev-token project switches to yield mode and harvests, fee and sponsor share shown", async () => {
    await fundFromOverview(tokenId);
    await submit("Switch to yield mode");
    expect(await flash()).toContain("Funding mode changed");
    // the vault earns: tokens minted to it raise the value of every share
    const wallet = rt.conn.wallet(rt.dev!.genesis.keys.sponsor);
    const hash = await wallet.writeContract({
      address: rt.deployment!.dev!.token,
      abi: DevToken.abi,
      functionName: "mint",
      args: [rt.deployment!.dev!.vault, 50_000_000n],
    });
    await rt.conn.publicClient.waitForTransactionReceipt({ hash });
    await page.reload({ waitUntil: "load" });
    expect(await text("#yield")).toMatch(/Harvestable now: [1-9]/);
    await submit("Harvest now");
    expect(await flash()).toContain("Yield harvested");
    expect(await page.locator("#harvests tbody tr").count()).toBe(1);
    const totals = await text("#yield-totals");
    const [all, fee, share] = [...totals.matchAll(/([\d.]+) dUSD/g)].map((m) => Number(m[1]));
    expect(all).toBeGreaterThan(0);
    expect(fee! + share!).toBeCloseTo(all!, 6);
    await shot("yield-1280");
  }, 120_000);

  test("close: claims stop, the delay's end is shown, and after it the refund is sent", async () => {
    await page.goto(`${base}/projects/${nativeId}/funding`, { waitUntil: "load" });
    await submit("Request close");
    expect(await flash()).toContain("Close requested");
    expect(await text("#close-state")).toContain("The withdrawal delay ends");
    expect(await page.getByRole("button", { name: "Close and refund" }).isDisabled()).toBe(true);
    expect(await text("#amounts")).toContain("no new claims are taken");
    await shot("closing-1280");
    // three days later on the dev chain
    await rt.conn.request("evm_increaseTime", [3 * 86_400 + 1]);
    await rt.conn.request("evm_mine", []);
    await page.reload({ waitUntil: "load" });
    const remaining = await text("#amount-remaining");
    await submit("Close and refund");
    expect(await flash()).toContain("unspent funds were sent back");
    expect(await text("#close-state")).toContain(`${remaining} sent back to the sponsor`);
    const [row] = await t.ctx.db.select().from(projectFunding).where(eq(projectFunding.projectId, nativeId));
    expect(row!.refundTx).toMatch(/^0x[0-9a-f]{64}$/);
    expect(await text("#transactions")).toContain(row!.refundTx!.slice(0, 10));
  }, 120_000);

  for (const vp of VIEWPORTS) {
    test(`the funding tab fits ${vp.width}px and names its charts`, async () => {
      const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
      try {
        await ctx.addCookies([{ name: "ds_session", value: sponsor.session, url: base }]);
        const p = await ctx.newPage();
        for (const id of [nativeId, tokenId]) {
          const res = await p.goto(`${base}/projects/${id}/funding`, { waitUntil: "load" });
          expect(res?.status()).toBe(200);
          const { scroll, inner } = await p.evaluate(() => ({
            scroll: document.documentElement.scrollWidth,
            inner: window.innerWidth,
          }));
          expect(scroll).toBeLessThanOrEqual(inner);
          const names = await p.locator('svg[role="img"] > title').allTextContents();
          expect(names).toEqual(["Funding burn-down", "Payouts over time", "Task states"]);
          await p.screenshot({
            path: join(SHOTS, `${id === nativeId ? "closed" : "yield"}-${vp.width}.png`),
            fullPage: true,
          });
        }
      } finally {
        await ctx.close();
      }
    }, 60_000);
  }
});
