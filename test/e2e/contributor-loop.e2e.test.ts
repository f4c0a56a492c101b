// Browser test of the contributor loop with two people, on each database (PGlite, and PostgreSQL when
// TEST_DATABASE_URL is set): the real server process, Debian's Chromium, a git host serving real repositories
// over HTTP, the embedded dev chain and the Docker harness. The sponsor sets up the instance, plans, approves and
// funds a private project; the contributor accepts the org's invite, links a wallet with Sign-In with Ethereum,
// claims a task, pushes a commit that breaks a test (FAILED, the test named, without a reload), pushes the fix
// (live log, then PAID with the transaction), and the chain shows amount − fee received. Then the server is
// killed with SIGKILL while a second task is PAYING, started again, and that task is paid exactly once.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { createPublicClient, formatEther, http, parseAbiItem, type PublicClient, zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { hardhat } from "viem/chains";
import { ProjectEscrow } from "../../src/chain/contracts.gen";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";
import { createEmptyPostgres, dbKinds } from "../support/db";
import { ensureSandboxImages } from "../support/docker";
import { type GitHost, startGitHost } from "../support/git-host";
import { createOrgFromHome, setUpAsSponsor, signUpAsContributor, until, watchPageErrors } from "../support/people";
import { type ServerProcess, startServerProcess } from "../support/server-process";

const CHROMIUM = chromiumPath();
const TASK_ONE = "Add doubling to the math helpers";
const TASK_TWO = "Add halving to the math helpers";
const PAYMENT_RELEASED = parseAbiItem(
  "event PaymentReleased(bytes32 indexed projectId, uint256 indexed taskId, address indexed payee, address token, uint256 amount, uint256 fee, bytes32 digest)",
);

const MATH = (factor: number) =>
  `export const add = (a: number, b: number) => a + b;\nexport const double = (x: number) => x * ${factor};\n`;
const MATH_TEST = `import { expect, test } from "bun:test";
import { add, double } from "./math";
test("adds", () => expect(add(1, 2)).toBe(3));
test("doubles", () => expect(double(4)).toBe(8));
`;

beforeAll(() => ensureSandboxImages(), 900_000);

for (const kind of dbKinds()) {
  describe(`contributor loop in a browser [${kind}]`, () => {
    const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), `e2e-contributor-${kind}-`));
    const shots = join(dir, "shots");
    const wallet = privateKeyToAccount(generatePrivateKey());
    let host: GitHost;
    let server: ServerProcess;
    let dropDb: (() => Promise<void>) | undefined;
    let browser: Browser;
    let sponsorCtx: BrowserContext;
    let contributorCtx: BrowserContext;
    let sponsor: Page;
    let contributor: Page;
    let base: string;
    let projectId: string;
    const taskIds: Record<string, string> = {};
    const errors: string[] = [];
    const dialogs: string[] = [];
    // while the server is down on purpose, pages that poll log their failed requests: not the pages' faults
    let serverDown = false;

    beforeAll(async () => {
      host = startGitHost();
      await host.createRepo("mathlib", {
        "package.json": '{ "name": "mathlib", "private": true }\n',
        "README.md": "# Math helpers\n\nSmall arithmetic helpers.\n",
        "math.ts": MATH(2),
        "math.test.ts": MATH_TEST,
      });
      let databaseUrl = "";
      if (kind === "postgres") {
        const pg = await createEmptyPostgres();
        databaseUrl = pg.url;
        dropDb = pg.drop;
      }
      server = await startServerProcess({
        dataDir: join(dir, "data"),
        env: {
          DATABASE_URL: databaseUrl,
          DEVSPONSOR_MASTER_KEY: "44".repeat(32),
          DEVSPONSOR_AI_PROVIDER: "none",
          // the git host listens on loopback, which web users' repository URLs may not name unless allowed
          DEVSPONSOR_SECURITY_ALLOWED_REPO_HOSTS: "127.0.0.1",
          // no SMTP here: local accounts' addresses are trusted so e-mail invites show up in the app
          DEVSPONSOR_AUTH_TRUST_LOCAL_EMAILS: "true",
          LOG_LEVEL: "warn",
        },
      });
      base = server.base;
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      sponsorCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      contributorCtx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      sponsor = await sponsorCtx.newPage();
      contributor = await contributorCtx.newPage();
      for (const page of [sponsor, contributor]) {
        watchPageErrors(page, errors, () => serverDown);
        // irreversible actions (approving the structure, withdrawing fees) ask first: the people here mean it
        page.on("dialog", (d) => {
          dialogs.push(d.message());
          void d.accept();
        });
      }
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      await host?.stop();
      await dropDb?.();
    });

    const shot = async (page: Page, name: string) => {
      const size = page.viewportSize()!;
      const paths: string[] = [];
      for (const width of [390, 1280]) {
        await page.setViewportSize({ width, height: 900 });
        const path = join(shots, `${name}-${width}.png`);
        await page.screenshot({ path, fullPage: true });
        paths.push(path);
      }
      await page.setViewportSize(size);
      return paths;
    };
    /** Waits for the page to reach `url`; when it does not, the error says what the page shows instead. */
    const arrive = async (page: Page, url: RegExp, timeout = 30_000) => {
      try {
        await page.waitForURL(url, { timeout });
      } catch (err) {
        const said = (
          await page
            .locator("main")
            .textContent()
            .catch(() => "")
        )
          ?.replace(/\s+/g, " ")
          .slice(0, 600);
        throw new Error(`${(err as Error).message.split("\n")[0]} at ${page.url()}; the page says: ${said}`);
      }
    };
    /** A signed-in page's JSON API, with its session cookie. */
    const api = async <T>(page: Page, path: string): Promise<T> => {
      const res = await page.request.get(`${base}${path}`);
      if (res.status() !== 200) throw new Error(`GET ${path}: ${res.status()} ${await res.text()}`);
      return (await res.json()) as T;
    };
    /** The dev chain as the signed-in contributor reads it: the appliance's JSON-RPC endpoint. */
    const chain = async (page: Page): Promise<PublicClient> => {
      const cookie = (await page.context().cookies(base)).map((c) => `${c.name}=${c.value}`).join("; ");
      const csrf = await page.locator('meta[name="csrf-token"]').getAttribute("content");
      return createPublicClient({
        chain: hardhat,
        transport: http(`${base}/chain/rpc`, {
          fetchOptions: { headers: { cookie, "x-csrf-token": csrf ?? "" } },
        }),
      }) as PublicClient;
    };
    const releases = async (client: PublicClient) =>
      client.getLogs({ event: PAYMENT_RELEASED, args: { payee: wallet.address }, fromBlock: 0n });
    type TaskJson = { task: { id: string; status: string; payoutAmount: string | null }; payment: unknown };

    test("the sponsor sets up, plans, approves and funds a private project; invites the contributor", async () => {
      // First run: the operator's setup token makes the sponsor the instance's admin.
      await sponsor.goto(`${base}/`);
      expect(new URL(sponsor.url()).pathname).toBe("/setup");
      await setUpAsSponsor(sponsor, base, join(dir, "data"));
      const orgId = await createOrgFromHome(sponsor, "Math Guild");

      // A private project on the git host's repository.
      await sponsor.goto(`${base}/orgs/${orgId}/projects`);
      await sponsor.getByRole("link", { name: "New project" }).click();
      await sponsor.getByLabel("Title").fill("Math helpers");
      await sponsor.getByLabel(/^Description/).fill(`Arithmetic helpers.\n- ${TASK_ONE}\n- ${TASK_TWO}`);
      await sponsor.getByLabel(/^Repository/).fill(host.url("mathlib"));
      await sponsor.locator('input[name="repoType"][value="PRIVATE"]').check();
      await sponsor.getByRole("button", { name: "Create project" }).click();
      await sponsor.waitForURL(/\/projects\/[0-9a-f-]{36}\/milestones\?created=1/);
      projectId = new URL(sponsor.url()).pathname.split("/")[2]!;

      // The template planner drafts; the two tasks keep the harness's detected test command (per-test results).
      await sponsor.getByRole("button", { name: "Generate milestones" }).click();
      await sponsor.waitForURL(/\?run=/);
      await sponsor.waitForURL(`${base}/projects/${projectId}/milestones`, { timeout: 60_000 });
      // The sponsor names the acceptance test each task must pass (the template's drafts name files that do not exist).
      const acceptance: Record<string, string> = {
        [TASK_ONE]: "test > math.test.ts > doubles",
        [TASK_TWO]: "test > half.test.ts > halves",
      };
      for (const title of [TASK_ONE, TASK_TWO]) {
        const row = sponsor.locator("tr", { has: sponsor.getByRole("link", { name: title }) });
        await row.getByText("Edit", { exact: true }).click();
        await row.getByLabel("Minimum passing tests").fill("2");
        await row.getByLabel(/^Test command/).fill("");
        await row.getByLabel(/^Acceptance tests/).fill(acceptance[title]!);
        await row.getByLabel(/^Acceptance test files/).fill("");
        await row.getByRole("button", { name: "Save task" }).click();
        await arrive(sponsor, /\/milestones#t-/);
      }
      await sponsor.getByRole("button", { name: /^Approve structure \(\d+ points\)$/ }).click();
      await arrive(sponsor, /approved=1/);

      // Funding: a quote, then the dev chain's one-click deposit on the overview.
      await sponsor.goto(`${base}/projects/${projectId}`);
      await sponsor.getByRole("button", { name: "Get a funding quote" }).click();
      await arrive(sponsor, /funding=quoted/);
      await sponsor.getByRole("button", { name: "Deposit from the dev chain's sponsor account" }).click();
      await arrive(sponsor, /funding=funded/, 60_000);

      await sponsor.goto(`${base}/projects/${projectId}/tasks`);
      for (const title of [TASK_ONE, TASK_TWO]) {
        const href = await sponsor.getByRole("link", { name: title, exact: true }).getAttribute("href");
        taskIds[title] = href!.split("/").pop()!;
        const row = sponsor.locator("tr", { has: sponsor.getByRole("link", { name: title, exact: true }) });
        expect(await row.locator(".badge").textContent()).toBe("OPEN");
      }

      // Invite the contributor by e-mail.
      await sponsor.goto(`${base}/orgs/${orgId}/invites`);
      await sponsor.getByLabel("E-mail").fill("cleo@example.test");
      await sponsor.getByRole("button", { name: "Send invite" }).click();
      // no mail server here: the page says so and shows the link to pass on; the invitee also sees it in the app
      await sponsor.getByText("Invite created, but no e-mail was sent").waitFor();
      expect(await sponsor.locator("#invite-link").inputValue()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/.*invite/i);
    }, 180_000);

    test("the contributor accepts the invite, links a wallet with SIWE and claims a task", async () => {
      await signUpAsContributor(contributor, base);
      await contributor.getByRole("link", { name: "Answer them" }).click();
      await contributor.getByRole("button", { name: "Accept" }).click();
      await contributor.waitForURL(/\/orgs\/[0-9a-f-]{36}$/);

      // The private project's task: without a payout wallet the page sends the contributor to add one.
      await contributor.goto(`${base}/projects/${projectId}/tasks`);
      await contributor.getByRole("link", { name: TASK_ONE, exact: true }).click();
      await contributor.waitForURL(`${base}/tasks/${taskIds[TASK_ONE]}`);
      expect(await contributor.getByRole("button", { name: "Claim this task" }).count()).toBe(0);
      await contributor.getByRole("link", { name: "add a payout wallet" }).click();
      await contributor.waitForURL(/\/profile\?next=/);

      // Sign-In with Ethereum: ask for the message, sign it with the dev key, paste the signature.
      await contributor.getByLabel("Address").fill(wallet.address);
      await contributor.getByLabel("Chain id").fill("31337");
      await contributor.getByRole("button", { name: "Get a message to sign" }).click();
      const message = await contributor.locator('textarea[name="message"]').inputValue();
      expect(message).toContain(wallet.address);
      await contributor.getByLabel(/^Signature/).fill(await wallet.signMessage({ message }));
      await contributor.getByRole("button", { name: "Link wallet" }).click();
      // linked, the contributor is back on the task they came from, and may claim it now
      await arrive(contributor, new RegExp(`/tasks/${taskIds[TASK_ONE]}\\b`));
      await contributor.goto(`${base}/profile`);
      const walletRow = contributor.locator("tr", { hasText: wallet.address });
      expect(await walletRow.textContent()).toContain("payout address");

      await contributor.goto(`${base}/tasks/${taskIds[TASK_ONE]}`);
      await contributor.getByRole("button", { name: "Claim this task" }).click();
      await arrive(contributor, /done=claimed/);
      expect(await contributor.locator("#task-status").textContent()).toBe("CLAIMED");
      expect(await contributor.getByRole("heading", { name: "Link your work" }).isVisible()).toBe(true);
    }, 60_000);

    test("a commit that breaks a test is FAILED with the test named, without a reload", async () => {
      const broken = await host.push("mathlib", { "math.ts": MATH(3) }, { branch: "doubling" });
      await contributor.getByLabel("Branch", { exact: true }).fill("doubling");
      await contributor.getByRole("button", { name: "Link and verify" }).click();
      await arrive(contributor, /done=linked/);
      expect(await contributor.locator("#task-status").textContent()).toBe("VERIFYING");
      expect(await contributor.locator("#timeline").textContent()).toContain(broken.slice(0, 12));
      const url = contributor.url();
      await contributor.evaluate(() => {
        (window as unknown as { stillHere: boolean }).stillHere = true;
      });
      await contributor.locator("#task-status", { hasText: /^(CLAIMED|PAYING|PAID)$/ }).waitFor({ timeout: 180_000 });
      expect(await contributor.locator("#task-status").textContent()).toBe("CLAIMED");
      // the title's badge and the actions follow the timeline
      expect(await contributor.locator("#task-badge").textContent()).toBe("CLAIMED");
      expect(await contributor.getByRole("button", { name: "Link and verify" }).isVisible()).toBe(true);
      const verdict = contributor.locator("#timeline li.verification").last();
      expect(await verdict.locator(".badge").first().textContent()).toBe("FAILED");
      expect(await verdict.locator("details", { hasText: "Failing tests" }).locator("li").allTextContents()).toEqual([
        expect.stringContaining("doubles"),
      ]);
      expect(await verdict.locator("p.help.bad").textContent()).toContain("math.test.ts > doubles");
      // the timeline updated in place: same document, same URL
      expect(await contributor.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
      expect(contributor.url()).toBe(url);
      await shot(contributor, "task-failed");
    }, 240_000);

    test("the fix is verified with a live log and PAID; the chain shows amount − fee received", async () => {
      const client = await chain(contributor);
      const before = await client.getBalance({ address: wallet.address });
      await contributor.goto(`${base}/tasks/${taskIds[TASK_ONE]}`);
      const fixed = await host.push(
        "mathlib",
        {
          "math.ts": MATH(2),
          "double.test.ts":
            'import { expect, test } from "bun:test";\nimport { double } from "./math";\ntest("doubles negatives", () => expect(double(-3)).toBe(-6));\n',
        },
        { branch: "doubling" },
      );
      await contributor.getByLabel("Branch", { exact: true }).fill("doubling");
      await contributor.getByLabel(/^Commit/).fill(fixed);
      await contributor.getByRole("button", { name: "Link and verify" }).click();
      await arrive(contributor, /done=linked/);
      await contributor.evaluate(() => {
        (window as unknown as { stillHere: boolean }).stillHere = true;
      });
      // The harness's lines stream into the timeline while it runs.
      const log = contributor.locator("#timeline li.verification").last().locator("pre.log");
      await until(
        async () => ((await log.count()) ? /\S/.test((await log.textContent()) ?? "") : false),
        "the live log",
        120_000,
      );
      const tx = contributor.locator("#payment-tx");
      await tx.waitFor({ timeout: 240_000 });
      expect(await contributor.locator("#task-status").textContent()).toBe("PAID");
      await contributor.locator("#task-badge", { hasText: "PAID" }).waitFor({ timeout: 5_000 });
      expect(await contributor.getByRole("button", { name: /Link and verify|Verify again/ }).count()).toBe(0);
      const hash = (await tx.textContent())!.trim();
      expect(hash).toMatch(/^0x[0-9a-f]{64}$/);
      expect(await contributor.evaluate(() => (window as unknown as { stillHere?: boolean }).stillHere)).toBe(true);
      await shot(contributor, "task-paid");

      const { task } = await api<TaskJson>(contributor, `/api/tasks/${taskIds[TASK_ONE]}`);
      const amount = BigInt(task.payoutAmount!);
      const [release] = await releases(client);
      expect(release!.transactionHash).toBe(hash as `0x${string}`);
      const feeBps = await client.readContract({
        address: release!.address,
        abi: ProjectEscrow.abi,
        functionName: "paymentFeeBps",
      });
      const fee = (amount * BigInt(feeBps)) / 10_000n;
      // the event's amount is what the payee received; the fee went to the treasury
      expect(release!.args.fee).toBe(fee);
      expect(release!.args.amount).toBe(amount - fee);
      expect((await client.getBalance({ address: wallet.address })) - before).toBe(amount - fee);

      // Earnings: the payment with its transaction, net of the fee.
      await contributor.goto(`${base}/me/earnings`);
      expect(await contributor.locator("tr", { hasText: TASK_ONE }).textContent()).toContain(hash);
      await shot(contributor, "earnings");

      // The sponsor sees the task PAID, the payment's transaction and what is left in escrow.
      await sponsor.goto(`${base}/projects/${projectId}/tasks`);
      const row = sponsor.locator("tr", { has: sponsor.getByRole("link", { name: TASK_ONE, exact: true }) });
      expect(await row.locator(".badge").textContent()).toBe("PAID");
      expect(await sponsor.locator("li", { hasText: TASK_ONE }).locator("code").textContent()).toBe(hash);
      expect(await sponsor.getByText(/Remaining in escrow for unpaid tasks/).isVisible()).toBe(true);
    }, 420_000);

    test("killed with SIGKILL while a payout is PAYING, started again: paid exactly once", async () => {
      const id = taskIds[TASK_TWO]!;
      const client = await chain(contributor);
      const before = await client.getBalance({ address: wallet.address });
      await contributor.goto(`${base}/tasks/${id}`);
      await contributor.getByRole("button", { name: "Claim this task" }).click();
      await arrive(contributor, /done=claimed/);
      await host.push(
        "mathlib",
        {
          "half.ts": "export const half = (x: number) => x / 2;\n",
          "half.test.ts":
            'import { expect, test } from "bun:test";\nimport { half } from "./half";\ntest("halves", () => expect(half(8)).toBe(4));\n',
        },
        { branch: "halving" },
      );
      await contributor.getByLabel("Branch", { exact: true }).fill("halving");
      await contributor.getByRole("button", { name: "Link and verify" }).click();
      await arrive(contributor, /done=linked/);

      const seen = await until(
        async () => {
          const { task } = await api<TaskJson>(contributor, `/api/tasks/${id}`);
          if (task.status === "CLAIMED") throw new Error("the verification of the halving work did not pass");
          return task.status === "PAYING" || task.status === "PAID" ? task.status : null;
        },
        "PAYING",
        240_000,
      );
      expect(seen).toBe("PAYING"); // caught in the middle of the payout
      serverDown = true;
      await server.kill9();
      await server.restart();
      serverDown = false;

      // tasks.resume (every minute) and the job queue pick the payout up again.
      await until(
        async () => (await api<TaskJson>(contributor, `/api/tasks/${id}`)).task.status === "PAID",
        "PAID after the restart",
        150_000,
      );
      const { task } = await api<TaskJson>(contributor, `/api/tasks/${id}`);
      const amount = BigInt(task.payoutAmount!);
      const earned = await api<{ earnings: { taskId: string; txHash: string }[] }>(contributor, "/api/me/earnings");
      expect(earned.earnings.filter((e) => e.taskId === id)).toHaveLength(1);
      expect(earned.earnings).toHaveLength(2);
      await sponsor.goto(`${base}/projects/${projectId}/tasks`);
      expect(await sponsor.locator("li", { hasText: TASK_TWO }).count()).toBe(1);

      const fresh = await chain(contributor);
      const all = await releases(fresh);
      const mine = all.filter((l) => l.transactionHash === earned.earnings.find((e) => e.taskId === id)!.txHash);
      expect(all).toHaveLength(2);
      expect(mine).toHaveLength(1);
      expect((await fresh.getBalance({ address: wallet.address })) - before).toBe(amount - mine[0]!.args.fee!);
      expect(errors).toEqual([]);
    }, 480_000);

    test("the admin withdraws the payments' fees from Admin → Fees: the treasury gets exactly them", async () => {
      await sponsor.goto(`${base}/`);
      const client = await chain(sponsor);
      const paid = await releases(client);
      expect(paid).toHaveLength(2);
      const escrow = paid[0]!.address;
      const fees = paid.reduce((a, l) => a + l.args.fee!, 0n);
      expect(fees).toBeGreaterThan(0n);
      const owed = (c: PublicClient) =>
        c.readContract({ address: escrow, abi: ProjectEscrow.abi, functionName: "feesOwed", args: [zeroAddress] });
      const treasury = await client.readContract({ address: escrow, abi: ProjectEscrow.abi, functionName: "treasury" });
      expect(await owed(client)).toBe(fees);
      const before = await client.getBalance({ address: treasury });

      // Sam set the instance up, so Sam is its admin: Admin in the navigation, then Fees
      await sponsor.getByRole("navigation", { name: "Main" }).first().getByRole("link", { name: "Admin" }).click();
      await arrive(sponsor, /\/admin(\/jobs)?$/);
      await sponsor.getByRole("link", { name: "Fees", exact: true }).click();
      await arrive(sponsor, /\/admin\/fees$/);
      const row = sponsor.locator(`#fees tr[data-token="${zeroAddress}"]`);
      dialogs.length = 0;
      await row.getByRole("button", { name: "Withdraw to treasury" }).click();
      await arrive(sponsor, /\/admin\/fees\?/);
      expect(dialogs).toEqual([`Send ${formatEther(fees)} ETH of fees to the treasury?`]);
      expect(await sponsor.locator(".flash").first().textContent()).toContain("The fees were sent to the treasury.");
      expect(await sponsor.locator("#withdrawals tbody tr").count()).toBe(1);
      expect(await sponsor.locator("#withdrawals tbody tr").textContent()).toContain(fees.toString());

      const after = await chain(sponsor);
      expect((await after.getBalance({ address: treasury })) - before).toBe(fees);
      expect(await owed(after)).toBe(0n);
      await shot(sponsor, "admin-fees");
      expect(errors).toEqual([]);
      console.log(`contributor loop [${kind}] screenshots: ${shots}`);
    }, 60_000);
  });
}
