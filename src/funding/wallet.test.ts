// Funding from the sponsor's own wallet over HTTP, on the embedded dev chain the app opened: the sponsor proves a
// fresh wallet with SIWE, quotes (the escrow id is registered to that wallet), and GET /fund/wallet prepares the
// ERC-20 approve and the deposit that the wallet then sends as given; the confirmation activates the project with
// exactly the quoted amount moved. Another org's member gets nothing; a connected wallet that is not the sponsor's
// gets no transactions; and the dev chain's demo deposit after that first deposit is a WRONG_WALLET conflict.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { type Address, erc20Abi, type Hex, parseEther } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { DevToken } from "../chain/contracts.gen";
import type { ChainRuntime } from "../chain/service";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import type { WalletPlan } from "./wallet";

for (const kind of dbKinds()) {
  describe(`funding from the sponsor's browser wallet [${kind}]`, () => {
    let t: TestApp;
    let sponsor: TestUser;
    let outsider: TestUser;
    let rt: ChainRuntime;
    let projectId: string;
    let taskId: string;
    const key = generatePrivateKey();
    const account = privateKeyToAccount(key);

    beforeAll(async () => {
      t = await createTestApp(kind);
      sponsor = await createUser(t);
      outsider = await createUser(t);
      rt = await t.ctx.openChain!();
      const token = rt.deployment!.dev!.token;
      const db = t.ctx.db;
      const [org] = await db.insert(orgs).values({ name: "Wallet Org" }).returning();
      await db.insert(orgMembers).values({ orgId: org!.id, userId: sponsor.id, role: "OWNER" });
      const [project] = await db
        .insert(projects)
        .values({
          orgId: org!.id,
          title: "Paid in dUSD",
          tokenAddress: token,
          tokenSymbol: "dUSD",
          tokenDecimals: 6,
          structureApprovedAt: new Date(),
        })
        .returning();
      projectId = project!.id;
      const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 8, position: 0 }).returning();
      const [task] = await db
        .insert(tasks)
        .values({ milestoneId: m!.id, projectId, title: "task", points: 8, position: 0 })
        .returning();
      taskId = task!.id;
      // the sponsor's own wallet: gas from the deployer, play dUSD from the dev token
      const deployer = rt.conn.wallet(rt.dev!.genesis.keys.deployer);
      for (const hash of [
        await deployer.sendTransaction({ to: account.address, value: parseEther("10") }),
        await deployer.writeContract({
          address: token,
          abi: DevToken.abi,
          functionName: "mint",
          args: [account.address, 10_000_000_000n],
        }),
      ])
        await rt.conn.publicClient.waitForTransactionReceipt({ hash });
      // proved with Sign-In with Ethereum: the message names the instance's chain unless told otherwise
      const c = await sponsor.request("POST", "/api/me/wallets/challenge", { body: { address: account.address } });
      const { message } = (await c.json()) as { message: string };
      expect(message).toContain(`\nChain ID: ${rt.conn.chain.id}\n`);
      const linked = await sponsor.request("POST", "/api/me/wallets", {
        body: { message, signature: await account.signMessage({ message }) },
      });
      expect(linked.status).toBe(201);
    }, 180_000);

    afterAll(async () => {
      await t.ctx.jobs.stop();
      await rt?.close();
      await t.close();
    });

    const plan = async (u: TestUser, query = "") => {
      const res = await u.request("GET", `/api/projects/${projectId}/fund/wallet${query}`);
      return { status: res.status, body: (await res.json()) as WalletPlan & { error?: { code: string } } };
    };
    const balanceOf = (who: Address) =>
      rt.conn.publicClient.readContract({
        address: rt.deployment!.dev!.token,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: [who],
      });
    /** Sends the plan's transactions from the sponsor's wallet as given; returns the deposit's hash. */
    const send = async (p: WalletPlan) => {
      const wallet = rt.conn.wallet(key);
      let deposit: Hex | undefined;
      for (const tx of p.transactions) {
        const hash = await wallet.sendTransaction({ to: tx.to, data: tx.data, value: BigInt(tx.value) });
        const receipt = await rt.conn.publicClient.waitForTransactionReceipt({ hash });
        expect(receipt.status).toBe("success");
        if (tx.step === "deposit") deposit = hash;
      }
      return deposit!;
    };

    test("before a quote there is nothing to send; another org's member is refused", async () => {
      const none = await plan(sponsor);
      expect(none.status).toBe(409);
      expect(none.body.error!.code).toBe("CONFLICT");
      expect((await sponsor.request("POST", `/api/projects/${projectId}/fund/quote`)).status).toBe(200);
      expect([403, 404]).toContain((await plan(outsider)).status);
      expect((await plan(sponsor, "?account=0x12")).status).toBe(400);
    });

    test("approve then deposit from the proved wallet: the project is ACTIVE with exactly the quote moved", async () => {
      const quote = (await (await sponsor.request("POST", `/api/projects/${projectId}/fund/quote`)).json()) as {
        amount: string;
        sponsorWallet: string;
      };
      expect(quote.sponsorWallet).toBe(account.address);
      const other = await plan(sponsor, `?account=${privateKeyToAccount(generatePrivateKey()).address}`);
      expect(other.status).toBe(200);
      expect(other.body).toMatchObject({ accountMatches: false, accountProved: false, funded: false });
      expect(other.body.transactions).toEqual([]);

      const { status, body: p } = await plan(sponsor, `?account=${account.address.toLowerCase()}`);
      expect(status).toBe(200);
      expect(p).toMatchObject({
        sponsorWallet: account.address,
        accountMatches: true,
        accountProved: true,
        amount: quote.amount,
        shortfall: null,
        chain: { chainId: `0x${rt.conn.chain.id.toString(16)}` },
      });
      expect(p.transactions.map((x) => x.step)).toEqual(["approve", "deposit"]);
      expect(p.transactions[0]!.to.toLowerCase()).toBe(rt.deployment!.dev!.token.toLowerCase());
      expect(p.transactions[1]!.to.toLowerCase()).toBe(rt.deployment!.escrow.toLowerCase());
      expect(p.transactions[1]!.value).toBe("0x0");

      const [walletBefore, escrowBefore] = await Promise.all([
        balanceOf(account.address),
        balanceOf(rt.deployment!.escrow),
      ]);
      const hash = await send(p);
      const confirmed = await sponsor.request("POST", `/api/projects/${projectId}/fund`, {
        body: { depositTxHash: hash },
      });
      expect(confirmed.status).toBe(200);
      expect(await confirmed.json()).toMatchObject({ state: "ACTIVE", amount: quote.amount });
      expect(walletBefore - (await balanceOf(account.address))).toBe(BigInt(quote.amount));
      expect((await balanceOf(rt.deployment!.escrow)) - escrowBefore).toBe(BigInt(quote.amount));
      // covered: nothing left to send
      expect((await plan(sponsor)).status).toBe(409);
    });

    test("a top-up: the demo deposit is refused in plain words, the proved wallet's top-up is confirmed", async () => {
      expect((await sponsor.request("POST", `/api/tasks/${taskId}/points`, { body: { points: 12 } })).status).toBe(200);
      const top = (await (await sponsor.request("POST", `/api/projects/${projectId}/fund/quote`)).json()) as {
        amount: string;
      };
      const demo = await sponsor.request("POST", `/projects/${projectId}/fund/dev-deposit?back=funding`, {
        body: new URLSearchParams({ _csrf: sponsor.csrf }),
      });
      expect(demo.status).toBe(303);
      const to = new URL(demo.headers.get("location")!, "http://localhost");
      expect(to.pathname).toBe(`/projects/${projectId}/funding`);
      expect(to.searchParams.get("error")).toContain(`first deposit came from ${account.address}`);
      const page = await (await sponsor.request("GET", `${to.pathname}${to.search}`)).text();
      expect(page).toContain("not from the dev chain&#x27;s sponsor account");
      expect(page).toContain(`Deposit from <code class="wrap-anywhere">${account.address}</code>`);

      const { body: p } = await plan(sponsor, `?account=${account.address}`);
      expect(p).toMatchObject({ funded: true, amount: top.amount });
      const before = await balanceOf(rt.deployment!.escrow);
      const res = await sponsor.request("POST", `/api/projects/${projectId}/fund`, {
        body: { depositTxHash: await send(p) },
      });
      expect(res.status).toBe(200);
      expect((await balanceOf(rt.deployment!.escrow)) - before).toBe(BigInt(top.amount));
      // the close request, too, must come from that wallet: the appliance asks for its hash instead of sending
      const close = await sponsor.request("POST", `/api/projects/${projectId}/fund/close-request`, { body: {} });
      expect(close.status).toBe(409);
      expect(((await close.json()) as { error: { code: string } }).error.code).toBe("TX_HASH_REQUIRED");
    });
  });
}
