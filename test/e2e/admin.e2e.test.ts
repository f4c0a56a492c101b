// Browser test of the admin console with the real server process and Debian's Chromium. The admin reaches every
// admin page from the navigation, runs a cron entry now (chain.sync, which dies: the chain's node does not answer),
// retries the dead job, and disables a user, who is signed out and cannot sign in again; that user, before, was
// refused the admin pages (403) and saw no Admin link. Screenshots at 390 px and 1280 px.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";
import { createEmptyPostgres, dbKinds } from "../support/db";
import { type ServerProcess, startServerProcess } from "../support/server-process";

const CHROMIUM = chromiumPath();
const VIEWPORTS = [
  { name: "390", width: 390, height: 844 },
  { name: "1280", width: 1280, height: 800 },
] as const;

for (const kind of dbKinds()) {
  describe(`admin console in a browser [${kind}]`, () => {
    const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), `e2e-admin-${kind}-`));
    const shots = join(dir, "shots");
    mkdirSync(shots, { recursive: true });
    let server: ServerProcess;
    let dropDb: (() => Promise<void>) | undefined;
    let browser: Browser;
    const errors: string[] = [];

    beforeAll(async () => {
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
          DEVSPONSOR_MASTER_KEY: "77".repeat(32),
          DEVSPONSOR_AI_PROVIDER: "none",
          // a node that does not answer: the chain.sync job dies, so there is a dead job to retry
          DEVSPONSOR_CHAIN_MODE: "rpc",
          DEVSPONSOR_CHAIN_RPC_URL: "http://127.0.0.1:9",
          DEVSPONSOR_CHAIN_ESCROW_ADDRESS: "0x00000000000000000000000000000000000e5c70",
          LOG_LEVEL: "warn",
        },
      });
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      await server?.stop();
      await dropDb?.();
    });

    const watch = (page: Page) => {
      page.on("pageerror", (e) => errors.push(e.message));
      page.on("dialog", (d) => void d.accept()); // the confirmation questions (disable, discard, …)
      return page;
    };

    test("the admin reaches every admin page, runs cron now, retries a dead job and disables a user", async () => {
      const base = server.base;
      const admin = watch(await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage());
      await admin.goto(`${base}/`);
      const token = (await Bun.file(join(dir, "data", "setup-token")).text()).trim();
      await admin.getByLabel(/Setup token/).fill(token);
      await admin.getByLabel("Your name").fill("Ada Admin");
      await admin.getByLabel("E-mail").fill("ada@example.test");
      await admin.getByLabel(/^Password/).fill("correct horse battery");
      await admin.keyboard.press("Enter");
      await admin.waitForURL(/\/onboarding/);
      await admin.getByLabel(/Sponsor/).check();
      await admin.getByRole("button", { name: "Continue" }).click();
      await admin.waitForURL(`${base}/`);

      // A second person signs up; the admin pages are not for her.
      const cleo = watch(await (await browser.newContext()).newPage());
      await cleo.goto(`${base}/signup`);
      await cleo.getByLabel("Your name").fill("Cleo Contributor");
      await cleo.getByLabel("E-mail").fill("cleo@example.test");
      await cleo.getByLabel(/^Password/).fill("another good password");
      await cleo.getByRole("button", { name: "Create account" }).click();
      await cleo.waitForURL(/\/onboarding/);
      await cleo.getByLabel(/Contributor/).check();
      await cleo.getByRole("button", { name: "Continue" }).click();
      await cleo.waitForURL(`${base}/`);
      expect(await cleo.getByRole("link", { name: "Admin", exact: true }).count()).toBe(0);
      const refused = await cleo.goto(`${base}/admin/jobs`);
      expect(refused?.status()).toBe(403);
      await cleo.getByText("Only a platform admin can do this.").waitFor();
      const api = await cleo.request.get(`${base}/api/admin/users`);
      expect(api.status()).toBe(403);
      expect((await api.json()).error.code).toBe("FORBIDDEN");

      // Every admin page from the navigation: the main Admin link, then the console's own links.
      await admin.getByRole("link", { name: "Admin", exact: true }).click();
      await admin.waitForURL(`${base}/admin/jobs`);
      await admin.getByRole("heading", { name: "Jobs", level: 1 }).waitFor();
      const pages: [string, string, RegExp][] = [
        ["Cron", "/admin/cron", /^Cron$/],
        ["Payments", "/admin/payments", /^Payments$/],
        ["Fees", "/admin/fees", /^Fees$/],
        ["Users", "/admin/users", /^Users$/],
        ["Doctor", "/admin/doctor", /^Doctor$/],
        ["Settings", "/admin/settings", /Settings/],
        ["Audit", "/admin/audit", /Audit/],
        ["Jobs", "/admin/jobs", /^Jobs$/],
      ];
      for (const [label, path, heading] of pages) {
        await admin.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: label, exact: true }).click();
        await admin.waitForURL(`${base}${path}`, { timeout: 60_000 });
        await admin.getByRole("heading", { name: heading, level: 1 }).waitFor();
        // the settings and audit pages are the console's too: the main navigation marks Admin on them
        expect(await admin.locator('header nav.wide-only a[aria-current="page"]').textContent()).toBe("Admin");
        if (label === "Settings" || label === "Audit")
          await admin.getByRole("link", { name: "Admin", exact: true }).click();
      }
      await admin.goto(`${base}/admin/doctor`);
      await admin.locator('tr[data-check="database"]').getByText("ok").waitFor();
      // the node does not answer: the fees page says so instead of failing
      await admin.goto(`${base}/admin/fees`);
      await admin.getByRole("alert").first().waitFor();

      // Cron: run chain.sync now; its job dies (no node), and the jobs page shows it with its error.
      await admin.goto(`${base}/admin/cron`);
      const syncRow = admin.locator('tr[data-cron="chain.sync"]');
      await syncRow.getByRole("button", { name: "Run now" }).click();
      await admin.getByText("The entry's job was enqueued; it runs now.").waitFor();
      let deadRow = admin.locator("#failed-jobs tr", { hasText: "chain.sync" }).first();
      for (let i = 0; i < 120 && !(await deadRow.count()); i++) {
        await Bun.sleep(500);
        await admin.goto(`${base}/admin/jobs`);
        deadRow = admin.locator("#failed-jobs tr", { hasText: "chain.sync" }).first();
      }
      expect(await deadRow.getByText("dead").count()).toBe(1);
      const jobId = (await deadRow.getAttribute("data-job"))!;
      await deadRow.getByRole("button", { name: "Retry" }).click();
      await admin.getByText("The job runs again now.").waitFor();
      const run = await admin.request.get(`${base}/api/runs/${jobId}`);
      // retried with a fresh budget: it ran again (or is about to), its attempts start over
      expect((await run.json()).attempts).toBeLessThanOrEqual(1);
      await admin.goto(`${base}/admin/cron`);
      expect(await admin.locator('tr[data-cron="chain.sync"]').textContent()).toContain("0 * * * * *");

      // Users: disable Cleo. Her open session ends, and she cannot sign in again.
      await admin.goto(`${base}/admin/users?q=cleo`);
      const cleoRow = admin.locator("#users tr", { hasText: "Cleo Contributor" });
      await cleoRow.getByRole("button", { name: "Disable" }).click();
      await admin.getByText("The account is disabled and its sessions ended.").waitFor();
      await admin.locator("#users tr", { hasText: "Cleo Contributor" }).getByText("disabled").waitFor();
      await cleo.goto(`${base}/me/tasks`);
      await cleo.waitForURL(/\/signin/);
      await cleo.getByLabel("E-mail").fill("cleo@example.test");
      await cleo.getByLabel(/^Password/).fill("another good password");
      const signIn = cleo.waitForResponse((r) => r.url().endsWith("/signin") && r.request().method() === "POST");
      await cleo.keyboard.press("Enter");
      expect((await signIn).status()).toBe(403);
      await cleo.getByText("This account is disabled; ask an admin.").waitFor();

      // The audit trail has the admin's actions.
      await admin.goto(`${base}/admin/audit`);
      for (const action of ["cron.run", "job.retry", "user.disable"]) await admin.getByText(action).first().waitFor();

      // Screenshots at both widths; on a phone the main navigation is behind the menu button.
      for (const vp of VIEWPORTS) {
        const page = watch(await (await browser.newContext({ viewport: vp })).newPage());
        await page.context().addCookies(await admin.context().cookies());
        for (const path of ["/admin/jobs", "/admin/cron", "/admin/users", "/admin/payments"]) {
          await page.goto(base + path);
          const wider = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
          expect(wider, `${path} at ${vp.width} px is wider than the screen`).toBe(false);
          await page.screenshot({ path: join(shots, `${path.split("/").pop()}-${vp.name}.png`), fullPage: true });
        }
        if (vp.width === 390) {
          await page.getByText("Menu").click();
          await page.getByRole("link", { name: "Admin", exact: true }).click();
          await page.waitForURL(`${base}/admin/jobs`);
        }
        await page.context().close();
      }
      console.log(`admin console [${kind}] screenshots: ${shots}`);
      expect(errors).toEqual([]);
    }, 300_000);
  });
}
