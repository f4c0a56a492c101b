// Browser test of live updates and notification e-mails with two people: the real server process, Debian's
// Chromium, a real SMTP server process, a git host serving a real repository, the embedded dev chain and the Docker
// harness. The sponsor invites the contributor (the invite e-mail arrives), whose open page's bell count rises
// without a reload; the contributor accepts, and the sponsor's bell rises the same way. Then the contributor claims a
// task of a funded project: the sponsor's open page's bell rises without a reload; the contributor's work is
// verified and paid by the appliance's own jobs, and the verification and payment e-mails (with the amount and the
// transaction) arrive at the SMTP server. On PGlite both browsers use one process; on PostgreSQL
// (TEST_DATABASE_URL) the invite test has each browser talk to its own appliance process on the same database, so
// the push crosses processes (LISTEN/NOTIFY); the claim and payment run on one process (the embedded dev chain
// lives in one).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { formatUnits } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";
import { createEmptyPostgres, dbKinds } from "../support/db";
import { ensureSandboxImages } from "../support/docker";
import { type GitHost, startGitHost } from "../support/git-host";
import { type ServerProcess, startServerProcess } from "../support/server-process";
import { createOrgFromHome, setUpAsSponsor, signUpAsContributor, until, watchPageErrors } from "../support/people";
import { type SmtpServerProcess, startSmtpServer } from "../support/smtp-server";

const CHROMIUM = chromiumPath();
const TASK = "Add doubling to the math helpers";
const MATH_TEST = `import { expect, test } from "bun:test";
import { add, double } from "./math";
test("adds", () => expect(add(1, 2)).toBe(3));
test("doubles", () => expect(double(4)).toBe(8));
`;

beforeAll(() => ensureSandboxImages(), 900_000);

for (const kind of dbKinds()) {
  describe(`live bell in two browsers [${kind}]`, () => {
    const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), `e2e-live-${kind}-`));
    const servers: ServerProcess[] = [];
    let dropDb: (() => Promise<void>) | undefined;
    let databaseUrl = "";
    let browser: Browser;
    let sponsor: Page;
    let contributor: Page;
    let smtp: SmtpServerProcess;
    let host: GitHost;
    let orgId = "";
    const errors: string[] = [];

    const start = (name: string) =>
      startServerProcess({
        dataDir: join(dir, name),
        env: {
          DATABASE_URL: databaseUrl,
          DEVSPONSOR_MASTER_KEY: "55".repeat(32),
          DEVSPONSOR_AI_PROVIDER: "none",
          // local accounts' addresses are trusted so e-mail invites also show up in the app
          DEVSPONSOR_AUTH_TRUST_LOCAL_EMAILS: "true",
          DEVSPONSOR_SMTP_HOST: "127.0.0.1",
          DEVSPONSOR_SMTP_PORT: String(smtp.port),
          // the git host listens on loopback, which repository URLs may not name unless allowed
          DEVSPONSOR_SECURITY_ALLOWED_REPO_HOSTS: "127.0.0.1",
          LOG_LEVEL: "warn",
        },
      });

    beforeAll(async () => {
      smtp = await startSmtpServer();
      host = startGitHost();
      await host.createRepo("mathlib", {
        "package.json": '{ "name": "mathlib", "private": true }\n',
        "math.ts": "export const add = (a: number, b: number) => a + b;\n",
        "math.test.ts":
          'import { expect, test } from "bun:test";\nimport { add } from "./math";\ntest("adds", () => expect(add(1, 2)).toBe(3));\n',
      });
      if (kind === "postgres") {
        const pg = await createEmptyPostgres();
        databaseUrl = pg.url;
        dropDb = pg.drop;
      }
      servers.push(await start("a"));
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      sponsor = await (await browser.newContext()).newPage();
      contributor = await (await browser.newContext()).newPage();
      for (const page of [sponsor, contributor]) watchPageErrors(page, errors);
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      for (const s of servers) await s.stop();
      await smtp?.stop();
      await host?.stop();
      await dropDb?.();
    });

    /** The number on a page's bell (0 when it shows none). */
    const bellCount = async (page: Page) => {
      const count = page.locator("#bell .count > span").first();
      return (await count.count()) ? Number(await count.textContent()) : 0;
    };
    /** Marks the page's window: the mark is gone after any reload or navigation. */
    const mark = (page: Page) =>
      page.evaluate(() => {
        (window as any).__live = true;
      });
    const marked = (page: Page) => page.evaluate(() => (window as any).__live === true);

    test("an invite raises the contributor's bell, and the acceptance the sponsor's, without a reload", async () => {
      // The sponsor sets the instance up (on the first process) and creates an org.
      const a = servers[0]!.base;
      await setUpAsSponsor(sponsor, a, join(dir, "a"));
      orgId = await createOrgFromHome(sponsor, "Live Guild");

      // The contributor uses a second process on the same database when there is one.
      if (kind === "postgres") servers.push(await start("b"));
      const b = servers.at(-1)!.base;
      await signUpAsContributor(contributor, b);
      await contributor.waitForLoadState("networkidle").catch(() => {});
      expect(await bellCount(contributor)).toBe(0);
      await mark(contributor);

      // The sponsor invites her; her open page's bell shows it within a second or two.
      await sponsor.goto(`${a}/orgs/${orgId}/invites`);
      await sponsor.getByLabel("E-mail").fill("cleo@example.test");
      const sent = performance.now();
      await sponsor.getByRole("button", { name: "Send invite" }).click();
      await contributor.locator("#bell .count").waitFor({ timeout: 5000 });
      const contributorMs = performance.now() - sent;
      expect(await bellCount(contributor)).toBe(1);
      expect(await marked(contributor)).toBe(true);
      await sponsor.getByText(/Invite created/).waitFor();

      // She accepts; the sponsor, still on the invites page, sees the acceptance on the bell.
      await sponsor.waitForLoadState("networkidle").catch(() => {});
      expect(await bellCount(sponsor)).toBe(0);
      await mark(sponsor);
      const answer = await contributor.context().newPage();
      await answer.goto(`${b}/invites`);
      const accepted = performance.now();
      await answer.getByRole("button", { name: "Accept" }).click();
      await sponsor.locator("#bell .count").waitFor({ timeout: 5000 });
      const sponsorMs = performance.now() - accepted;
      expect(await bellCount(sponsor)).toBe(1);
      expect(await marked(sponsor)).toBe(true);
      console.log(
        `live bell [${kind}]: contributor ${Math.round(contributorMs)} ms after the invite was sent, ` +
          `sponsor ${Math.round(sponsorMs)} ms after the acceptance (both include the form's round trip)`,
      );
      // the invite also went out by e-mail, with its link to this appliance
      const invite = await until(
        async () =>
          (await smtp.messages()).find(
            (m) => m.to.includes("cleo@example.test") && /invited you to Live Guild/.test(m.parsed.subject ?? ""),
          ),
        "the invite e-mail",
        30_000,
      );
      // with two processes, either one's mail worker may send it: the link names that appliance
      expect(servers.some((x) => invite.parsed.text?.includes(`${x.base}/invites/accept?token=`))).toBe(true);
      expect(errors).toEqual([]);
    }, 180_000);

    test("the contributor's claim raises the sponsor's bell; verification and payment e-mails arrive", async () => {
      // The embedded dev chain lives inside one appliance process (its data dir): a deposit made through one process
      // is not on the other's chain, so the money part runs on one process (the live push across processes is the
      // first test's). Sessions are in the shared database, so the contributor stays signed in.
      for (const gone of servers.slice(1)) {
        // pages of the process going away would keep retrying its live stream
        for (const page of [...sponsor.context().pages(), ...contributor.context().pages()]) {
          if (page.url().startsWith(gone.base)) await page.goto("about:blank");
        }
      }
      while (servers.length > 1) await servers.pop()!.stop();
      const a = servers[0]!.base;
      const b = a;
      /** A signed-in page's JSON API with its session cookie and CSRF token. */
      const api = async <T>(page: Page, base: string, method: string, path: string, data?: unknown): Promise<T> => {
        const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute("content")) ?? "";
        const res = await page.request.fetch(`${base}${path}`, { method, data, headers: { "x-csrf-token": csrf } });
        if (res.status() >= 300) throw new Error(`${method} ${path}: ${res.status()} ${await res.text()}`);
        return (await res.json()) as T;
      };

      // The sponsor plans a public project on the git host's repository: one milestone, one task, approved.
      await sponsor.goto(`${a}/orgs/${orgId}`);
      const project = await api<{ id: string }>(sponsor, a, "POST", `/api/orgs/${orgId}/projects`, {
        title: "Math helpers",
        repoUrl: host.url("mathlib"),
        repoType: "PUBLIC",
      });
      const milestone = await api<{ id: string }>(sponsor, a, "POST", `/api/projects/${project.id}/milestones`, {
        title: "Doubling",
      });
      const task = await api<{ id: string }>(sponsor, a, "POST", `/api/milestones/${milestone.id}/tasks`, {
        title: TASK,
        points: 5,
        verification: { minPassingTests: 2, testCommand: "", rules: [] },
      });
      await api(sponsor, a, "POST", `/api/projects/${project.id}/approve-structure`);
      // Funding from the dev chain's sponsor account, as a sponsor does it on the overview.
      await sponsor.goto(`${a}/projects/${project.id}`);
      await sponsor.getByRole("button", { name: "Get a funding quote" }).click();
      await sponsor.waitForURL(/funding=quoted/);
      await sponsor.getByRole("button", { name: "Deposit from the dev chain's sponsor account" }).click();
      await sponsor.waitForURL(/funding=funded/, { timeout: 60_000 });
      // The funding notice reaches the sponsor through the bus; wait for it so the claim's is the only one to come.
      type Inbox = { items: { type: string; title: string }[]; unread: number };
      await until(
        async () =>
          (await api<Inbox>(sponsor, a, "GET", "/api/notifications")).items.some((n) => n.type === "PROJECT_FUNDED"),
        "the project-funded notification",
        30_000,
      );

      // The contributor links a payout wallet (Sign-In with Ethereum) and opens the task.
      const wallet = privateKeyToAccount(generatePrivateKey());
      await contributor.goto(`${b}/tasks/${task.id}`);
      const challenge = await api<{ message: string }>(contributor, b, "POST", "/api/me/wallets/challenge", {
        address: wallet.address,
        chainId: 31337,
      });
      await api(contributor, b, "POST", "/api/me/wallets", {
        message: challenge.message,
        signature: await wallet.signMessage({ message: challenge.message }),
      });
      await contributor.goto(`${b}/tasks/${task.id}`);

      // The sponsor watches the project's task list; the contributor claims: the sponsor's bell rises and the task's
      // row turns CLAIMED, without a reload.
      await sponsor.goto(`${a}/projects/${project.id}/tasks`);
      const row = sponsor.locator("tr", { has: sponsor.getByRole("link", { name: TASK, exact: true }) });
      expect(await row.locator("td .badge").first().textContent()).toBe("OPEN");
      await sponsor.waitForLoadState("networkidle").catch(() => {});
      const before = await bellCount(sponsor);
      expect(before).toBe((await api<Inbox>(sponsor, a, "GET", "/api/notifications")).unread);
      await mark(sponsor);
      const claimed = performance.now();
      await contributor.getByRole("button", { name: "Claim this task" }).click();
      await contributor.waitForURL(/done=claimed/);
      await until(async () => (await bellCount(sponsor)) === before + 1, "the sponsor's bell to rise", 10_000);
      const claimMs = performance.now() - claimed;
      await until(
        async () => (await row.locator("td .badge").first().textContent()) === "CLAIMED",
        "the task's row to turn CLAIMED",
        10_000,
      );
      expect(await marked(sponsor)).toBe(true);
      const [newest] = (await api<Inbox>(sponsor, a, "GET", "/api/notifications")).items;
      expect(newest).toMatchObject({ type: "TASK_CLAIMED", title: `Task claimed: ${TASK}` });

      // Work that passes: the appliance verifies it in the harness and pays it on the dev chain by itself.
      await host.push(
        "mathlib",
        {
          "math.ts": `export const add = (a: number, b: number) => a + b;\nexport const double = (x: number) => x * 2;\n`,
          "math.test.ts": MATH_TEST,
        },
        { branch: "doubling" },
      );
      await contributor.getByLabel("Branch", { exact: true }).fill("doubling");
      await contributor.getByRole("button", { name: "Link and verify" }).click();
      await contributor.waitForURL(/done=linked/);
      type TaskJson = { task: { status: string; payoutAmount: string }; payment: { txHash: string | null } | null };
      const paid = await until(
        async () => {
          const t = await api<TaskJson>(contributor, b, "GET", `/api/tasks/${task.id}`);
          if (t.task.status === "CLAIMED") throw new Error("the verification of the doubling work did not pass");
          return t.task.status === "PAID" && t.payment?.txHash ? t : null;
        },
        "PAID",
        360_000,
      );
      const txHash = paid.payment!.txHash!;

      // The e-mails: verified and paid (amount and transaction) to the contributor, payment sent to the sponsor.
      const mails = await until(
        async () => {
          const all = await smtp.messages();
          const find = (to: string, subject: RegExp) =>
            all.find((m) => m.to.includes(to) && subject.test(m.parsed.subject ?? ""));
          const verified = find("cleo@example.test", new RegExp(`^Verified: ${TASK}$`));
          const received = find("cleo@example.test", new RegExp(`^Payment received: .* for ${TASK}$`));
          const sent = find("sam@example.test", new RegExp(`^Payment sent: .* for ${TASK}$`));
          return verified && received && sent ? { verified, received, sent } : null;
        },
        "the verification and payment e-mails",
        60_000,
      );
      const sender = servers.find((x) => mails.verified.parsed.text?.includes(x.base))?.base ?? "(no appliance)";
      expect(mails.verified.parsed.text).toContain(`See the verdict: ${sender}/tasks/${task.id}`);
      expect(mails.verified.parsed.text).toContain(`${sender}/notifications/preferences#type-VERIFICATION_SUCCESS`);
      expect(mails.received.parsed.text).toContain(`Transaction: ${txHash}`);
      expect(mails.received.parsed.text).toContain(`at ${wallet.address}`);
      expect(mails.received.parsed.html).toContain(txHash);
      // the gross amount is the task's payout; the contributor's line names it with the fee taken off
      const gross = `${formatUnits(BigInt(paid.task.payoutAmount), 18)} ETH`;
      expect(mails.sent.parsed.subject).toBe(`Payment sent: ${gross} for ${TASK}`);
      expect(mails.sent.parsed.text).toContain(`Transaction: ${txHash}`);
      // noisy kinds stay in the app: no e-mail for the claim or the linked work
      const all = await smtp.messages();
      expect(all.filter((m) => /^(Task claimed|Work linked): /.test(m.parsed.subject ?? ""))).toEqual([]);
      console.log(
        `live bell [${kind}]: sponsor's bell ${Math.round(claimMs)} ms after the claim (includes the form's round trip)`,
      );
      expect(errors).toEqual([]);
    }, 600_000);
  });
}
