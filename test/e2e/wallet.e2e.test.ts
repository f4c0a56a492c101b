// Browser test of funding from a browser wallet, on each database (PGlite, and PostgreSQL when TEST_DATABASE_URL is
// set), in Debian's Chromium against the real app on the embedded dev chain. The page gets an injected EIP-1193
// provider (window.ethereum) whose requests the test answers with viem and a fresh private key, starting on chain 1
// so the page must switch (the wallet does not know the dev chain: 4902, then wallet_addEthereumChain). The sponsor
// proves that wallet with Sign-In with Ethereum on the profile page, then funds a dUSD project from the overview
// (connect → switch chain → approve → deposit → confirmed: ACTIVE with the transaction) and tops it up the same way
// from the Funding tab; a native-coin project first refuses a wallet that is not the sponsor's, saying which one to
// use, then deposits without an approve. Every on-chain balance moves by exactly the quoted amount. Screenshots of
// the funding tab with the wallet panel at 390 and 1280 px go to test-artifacts/wallet/ (ignored by git).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { desc, eq } from "drizzle-orm";
import { type Browser, chromium, type Page } from "playwright-core";
import { type Address, erc20Abi, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { DevToken } from "../../src/chain/contracts.gen";
import { readRegistration } from "../../src/chain/registration";
import type { ChainRuntime } from "../../src/chain/service";
import { fundingQuotes } from "../../src/funding/schema";
import { milestones, tasks } from "../../src/milestones/schema";
import { projects } from "../../src/projects/schema";
import { onChainProjectId } from "../../src/zk/attestation";
import { createTestApp, type TestApp } from "../support/app";
import { createOrgAs, createUser, type TestUser } from "../support/auth";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";
import { dbKinds } from "../support/db";

const CHROMIUM = chromiumPath();
const SHOTS = join(import.meta.dir, "../../test-artifacts/wallet");

/** What the injected wallet was asked, in order. */
interface WalletLog {
  method: string;
  result?: unknown;
  error?: number;
}

for (const kind of dbKinds()) {
  describe(`funding from a browser wallet [${kind}]`, () => {
    let t: TestApp;
    let server: ReturnType<typeof Bun.serve>;
    let browser: Browser;
    let base: string;
    let sponsor: TestUser;
    let rt: ChainRuntime;
    let page: Page;
    let tokenProject = "";
    let nativeProject = "";
    let secondProject = "";
    const key = generatePrivateKey();
    const owner = privateKeyToAccount(key);
    const strangerKey = generatePrivateKey();
    const stranger = privateKeyToAccount(strangerKey);
    const keyOf = (address: string) => (address.toLowerCase() === stranger.address.toLowerCase() ? strangerKey : key);
    const errors: string[] = [];
    // the injected wallet's state: the account it hands out, its chain, the chains it knows, and what it was asked
    const wallet = {
      account: owner.address as Address,
      chainId: 1,
      known: new Set([1]),
      log: [] as WalletLog[],
      /** The person presses "Reject" on the next transaction. */
      rejectNext: false,
    };

    /** Answers one EIP-1193 request of the page the way a wallet extension would. */
    const answer = async (method: string, params: any[]): Promise<unknown> => {
      const fail = (code: number, message: string) => Object.assign(new Error(message), { code });
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [wallet.account];
        case "eth_chainId":
          return `0x${wallet.chainId.toString(16)}`;
        case "wallet_switchEthereumChain": {
          const id = Number.parseInt(params[0].chainId, 16);
          if (!wallet.known.has(id)) throw fail(4902, `Unrecognized chain ID ${params[0].chainId}.`);
          wallet.chainId = id;
          return null;
        }
        case "wallet_addEthereumChain": {
          const id = Number.parseInt(params[0].chainId, 16);
          expect(params[0].rpcUrls[0]).toBe(`${base}/chain/rpc`);
          wallet.known.add(id);
          wallet.chainId = id;
          return null;
        }
        case "eth_sendTransaction": {
          if (wallet.chainId !== rt.conn.chain.id) throw fail(4901, "The wallet is on another chain.");
          if (wallet.rejectNext) {
            wallet.rejectNext = false;
            throw fail(4001, "User rejected the request.");
          }
          const tx = params[0] as { from: Address; to: Address; data: Hex; value: Hex };
          expect(tx.from.toLowerCase()).toBe(wallet.account.toLowerCase());
          return rt.conn.wallet(keyOf(tx.from)).sendTransaction({ to: tx.to, data: tx.data, value: BigInt(tx.value) });
        }
        case "personal_sign":
          return privateKeyToAccount(keyOf(params[1])).signMessage({ message: params[0] });
        case "eth_getTransactionReceipt":
          return rt.conn.request("eth_getTransactionReceipt", params);
        default:
          throw fail(4200, `${method} is not supported by this wallet.`);
      }
    };

    const project = async (orgId: string, title: string, token: boolean) => {
      const db = t.ctx.db;
      const [p] = await db
        .insert(projects)
        .values({
          orgId,
          title,
          tokenAddress: token ? rt.deployment!.dev!.token : null,
          tokenSymbol: token ? "dUSD" : null,
          tokenDecimals: token ? 6 : 18,
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
    const latestQuote = async (projectId: string) =>
      (
        await t.ctx.db
          .select()
          .from(fundingQuotes)
          .where(eq(fundingQuotes.projectId, projectId))
          .orderBy(desc(fundingQuotes.createdAt))
          .limit(1)
      )[0]!;
    const tokenBalance = (who: Address) =>
      rt.conn.publicClient.readContract({
        address: rt.deployment!.dev!.token,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [who],
      });
    const flash = async () => (await page.locator(".flash").first().textContent()) ?? "";
    const submit = async (button: string) => {
      await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: button }).click()]);
    };
    /** Presses the wallet button and waits for the page the script goes to once the deposit is confirmed. */
    const payWithWallet = async () => {
      await page.getByRole("button", { name: "Connect wallet and deposit" }).click();
      await page.waitForURL(/funding=funded/, { timeout: 60_000 });
    };
    const sent = () => wallet.log.filter((l) => l.method === "eth_sendTransaction").map((l) => l.result as Hex);

    beforeAll(async () => {
      rmSync(SHOTS, { recursive: true, force: true });
      mkdirSync(SHOTS, { recursive: true });
      t = await createTestApp(kind);
      sponsor = await createUser(t, { name: "Sam Sponsor" });
      const orgId = await createOrgAs(sponsor, "Ledger Works");
      rt = await t.ctx.openChain!();
      tokenProject = await project(orgId, "Ledger (dUSD)", true);
      nativeProject = await project(orgId, "Ledger (ETH)", false);
      secondProject = await project(orgId, "Ledger (ETH, second wallet)", false);
      // the sponsor's own wallet: gas money from the deployer, play dUSD from the dev token
      const deployer = rt.conn.wallet(rt.dev!.genesis.keys.deployer);
      for (const hash of [
        await deployer.sendTransaction({ to: owner.address, value: parseEther("100") }),
        await deployer.sendTransaction({ to: stranger.address, value: parseEther("100") }),
        await deployer.writeContract({
          address: rt.deployment!.dev!.token,
          abi: DevToken.abi,
          functionName: "mint",
          args: [owner.address, 10_000_000_000n],
        }),
      ])
        await rt.conn.publicClient.waitForTransactionReceipt({ hash });
      server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => t.app.handle(req) });
      base = `http://127.0.0.1:${server.port}`;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      await ctx.addCookies([{ name: "ds_session", value: sponsor.session, url: base }]);
      // the wallet: window.ethereum relays each request to the test, which answers or throws an EIP-1193 error
      await ctx.exposeFunction("__walletRequest", async (json: string) => {
        const { method, params } = JSON.parse(json) as { method: string; params?: any[] };
        try {
          const result = await answer(method, params ?? []);
          wallet.log.push({ method, result });
          return JSON.stringify({ result });
        } catch (err) {
          const e = err as { code?: number; message: string };
          wallet.log.push({ method, error: e.code });
          return JSON.stringify({ error: { code: e.code ?? -32603, message: e.message } });
        }
      });
      await ctx.addInitScript(() => {
        const relay = (window as any).__walletRequest as (json: string) => Promise<string>;
        (window as any).ethereum = {
          async request(args: { method: string; params?: unknown[] }) {
            const out = JSON.parse(await relay(JSON.stringify(args)));
            if (out.error) throw Object.assign(new Error(out.error.message), { code: out.error.code });
            return out.result;
          },
        };
      });
      page = await ctx.newPage();
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("console", (m) => {
        if (m.type() === "error" && !m.location().url.endsWith("/favicon.ico")) errors.push(m.text());
      });
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      server?.stop(true);
      await t?.ctx.jobs.stop();
      await rt?.close();
      await t?.close();
    });

    test("the sponsor proves the wallet with SIWE on the instance's chain", async () => {
      await page.goto(`${base}/projects/${tokenProject}`, { waitUntil: "load" });
      // no wallet proved yet: on the dev chain the demo account would deposit; the card links to the profile
      expect(await page.locator("#deposit-wallet").textContent()).toContain("the dev chain's sponsor account");
      await Promise.all([
        page.waitForURL(/\/profile\?next=/),
        page.getByRole("link", { name: "Add another wallet" }).click(),
      ]);
      await page.getByLabel("Address").fill(owner.address);
      expect(await page.getByLabel("Chain id").inputValue()).toBe(String(rt.conn.chain.id));
      await submit("Get a message to sign");
      const message = await page.locator('textarea[name="message"]').inputValue();
      expect(message).toContain(`Chain ID: ${rt.conn.chain.id}`);
      await page.getByLabel(/^Signature/).fill(await owner.signMessage({ message }));
      await submit("Link wallet");
      await page.waitForURL(`${base}/projects/${tokenProject}#funding`);
      expect(await page.locator("#deposit-wallet").textContent()).toContain(owner.address);
    }, 60_000);

    test("dUSD: connect, switch chain, approve, deposit; ACTIVE with the transaction, exactly the quote moved", async () => {
      await submit("Get a funding quote");
      expect(await flash()).toContain("Quote ready");
      const quote = await latestQuote(tokenProject);
      const escrow = rt.deployment!.escrow;
      const [walletBefore, escrowBefore] = await Promise.all([tokenBalance(owner.address), tokenBalance(escrow)]);
      wallet.log = [];
      await payWithWallet();
      expect(await flash()).toContain("the project is funded and active");
      expect(await page.locator("h1 .badge").textContent()).toBe("ACTIVE");
      // the wallet was asked in this order: it did not know the dev chain, so the page added it
      const asked = wallet.log.filter((l) => l.method !== "eth_getTransactionReceipt");
      expect(asked.map((l) => (l.error ? `${l.method}:${l.error}` : l.method))).toEqual([
        "eth_requestAccounts",
        "eth_chainId",
        "wallet_switchEthereumChain:4902",
        "wallet_addEthereumChain",
        "eth_chainId",
        "eth_sendTransaction",
        "eth_sendTransaction",
      ]);
      expect(sent()).toHaveLength(2); // approve, deposit
      expect(walletBefore - (await tokenBalance(owner.address))).toBe(BigInt(quote.amount));
      expect((await tokenBalance(escrow)) - escrowBefore).toBe(BigInt(quote.amount));
      await page.goto(`${base}/projects/${tokenProject}/funding`, { waitUntil: "load" });
      expect(await page.locator("#transactions").textContent()).toContain(sent()[1]!.slice(0, 10));
      expect(errors).toEqual([]);
    }, 120_000);

    test("a top-up from the Funding tab the same way; screenshots of the wallet panel", async () => {
      await page.getByText("Raise an open task's points").click();
      await page.getByLabel("Sum every account").fill("11");
      await Promise.all([
        page.waitForLoadState("load"),
        page
          .locator("form", { has: page.getByLabel("Sum every account") })
          .getByRole("button", { name: "Save points" })
          .click(),
      ]);
      await submit("Get a top-up quote");
      expect(await flash()).toContain("Top-up quoted");
      expect(await page.locator("#deposit-wallet").textContent()).toContain(owner.address);
      // the escrow takes this project's top-ups only from that wallet: no demo deposit is offered
      expect(await page.getByRole("button", { name: /from the dev chain's sponsor account/ }).count()).toBe(0);
      await page.locator("#wallet [data-wallet-connect]").waitFor();
      for (const width of [390, 1280]) {
        await page.setViewportSize({ width, height: 900 });
        const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
        expect(wide).toBe(false);
        await page.screenshot({ path: join(SHOTS, `topup-wallet-${kind}-${width}.png`), fullPage: true });
        await page.locator("#topup").screenshot({ path: join(SHOTS, `topup-card-${kind}-${width}.png`) });
      }
      // the sponsor first rejects the approval in the wallet: the page says so and nothing moves
      wallet.rejectNext = true;
      await page.getByRole("button", { name: "Connect wallet and deposit" }).click();
      await page.locator("#wallet [data-wallet-status]", { hasText: "You rejected the request" }).waitFor();
      expect(await page.locator('#wallet [data-step="approve"]').getAttribute("data-state")).toBe("error");
      expect(await page.getByRole("button", { name: "Connect wallet and deposit" }).isEnabled()).toBe(true);
      const quote = await latestQuote(tokenProject);
      expect(BigInt(quote.baseDeposited)).toBeGreaterThan(0n);
      const escrow = rt.deployment!.escrow;
      const [walletBefore, escrowBefore] = await Promise.all([tokenBalance(owner.address), tokenBalance(escrow)]);
      wallet.log = [];
      await payWithWallet();
      expect(await flash()).toContain("top-up is in escrow");
      expect(await page.locator("#amount-deposited").textContent()).toContain("in 2 deposits");
      // the wallet stayed on the dev chain: no switch this time
      expect(wallet.log.some((l) => l.method.startsWith("wallet_"))).toBe(false);
      expect(walletBefore - (await tokenBalance(owner.address))).toBe(BigInt(quote.amount));
      expect((await tokenBalance(escrow)) - escrowBefore).toBe(BigInt(quote.amount));
      expect(await page.locator("#transactions").textContent()).toContain(sent().at(-1)!.slice(0, 10));
      // the sponsor's other calls come from that wallet too: the close form asks for its transaction hash
      expect(await page.getByLabel(/^Send requestClose\(0x[0-9a-f]{64}\) from the sponsor wallet/).isVisible()).toBe(
        true,
      );
      expect(errors).toEqual([]);
    }, 120_000);

    test("ETH: another wallet is told which one to use; the sponsor's deposits with no approve", async () => {
      await page.goto(`${base}/projects/${nativeProject}`, { waitUntil: "load" });
      await submit("Get a funding quote");
      const status = page.locator("#wallet [data-wallet-status]");
      wallet.account = stranger.address;
      await page.getByRole("button", { name: "Connect wallet and deposit" }).click();
      await status.filter({ hasText: "Connect" }).filter({ hasText: owner.address }).waitFor();
      expect(await status.textContent()).toContain("the escrow takes this project's deposits only from that wallet");
      expect(await page.getByRole("button", { name: `Prove and deposit from ${stranger.address}` }).isVisible()).toBe(
        true,
      );
      await page.locator("#funding").screenshot({ path: join(SHOTS, `wrong-wallet-${kind}-1280.png`) });
      wallet.account = owner.address;
      const quote = await latestQuote(nativeProject);
      const escrow = rt.deployment!.escrow;
      const escrowBefore = await rt.conn.publicClient.getBalance({ address: escrow });
      wallet.log = [];
      await payWithWallet();
      expect(await flash()).toContain("the project is funded and active");
      expect(sent()).toHaveLength(1); // the deposit alone, with its value
      expect((await rt.conn.publicClient.getBalance({ address: escrow })) - escrowBefore).toBe(BigInt(quote.amount));
      expect(errors).toEqual([]);
    }, 120_000);

    test("before a first deposit, the connected wallet is proved in the page (SIWE), quoted for and deposits", async () => {
      await page.goto(`${base}/projects/${secondProject}`, { waitUntil: "load" });
      await submit("Get a funding quote");
      wallet.account = stranger.address;
      wallet.log = [];
      await page.getByRole("button", { name: "Connect wallet and deposit" }).click();
      const escrow = rt.deployment!.escrow;
      const escrowBefore = await rt.conn.publicClient.getBalance({ address: escrow });
      await page.getByRole("button", { name: `Prove and deposit from ${stranger.address}` }).click();
      await page.waitForURL(/funding=funded/, { timeout: 60_000 });
      expect(await flash()).toContain("the project is funded and active");
      expect(wallet.log.filter((l) => l.method === "personal_sign")).toHaveLength(1);
      const linked = (await (await sponsor.request("GET", "/api/me/wallets")).json()) as {
        wallets: { address: string; chainId: string }[];
      };
      expect(linked.wallets.find((w) => w.address === stranger.address)?.chainId).toBe(String(rt.conn.chain.id));
      // the new quote registered the proved wallet, which sent exactly that quote
      const reg = await readRegistration(rt, onChainProjectId(secondProject));
      expect(reg.sponsor).toBe(stranger.address);
      const quote = await latestQuote(secondProject);
      expect((await rt.conn.publicClient.getBalance({ address: escrow })) - escrowBefore).toBe(BigInt(quote.amount));
      wallet.account = owner.address;
      expect(errors).toEqual([]);
    }, 120_000);
  });
}
