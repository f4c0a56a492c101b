// Browser test of live updates with two people: the real server process and Debian's Chromium. The sponsor
// invites the contributor, whose open page's bell count rises without a reload; the contributor accepts, and the
// sponsor's bell rises the same way. On PGlite both browsers use one process; on PostgreSQL (TEST_DATABASE_URL)
// each browser talks to its own appliance process on the same database, so the push crosses processes
// (LISTEN/NOTIFY).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";
import { createEmptyPostgres, dbKinds } from "../support/db";
import { type ServerProcess, startServerProcess } from "../support/server-process";

const CHROMIUM = chromiumPath();
const PASSWORD = "correct horse battery";

for (const kind of dbKinds()) {
  describe(`live bell in two browsers [${kind}]`, () => {
    const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), `e2e-live-${kind}-`));
    const servers: ServerProcess[] = [];
    let dropDb: (() => Promise<void>) | undefined;
    let databaseUrl = "";
    let browser: Browser;
    let sponsor: Page;
    let contributor: Page;
    const errors: string[] = [];

    const start = (name: string) =>
      startServerProcess({
        dataDir: join(dir, name),
        env: {
          DATABASE_URL: databaseUrl,
          DEVSPONSOR_MASTER_KEY: "55".repeat(32),
          DEVSPONSOR_AI_PROVIDER: "none",
          // no SMTP here: local accounts' addresses are trusted so e-mail invites show up in the app
          DEVSPONSOR_AUTH_TRUST_LOCAL_EMAILS: "true",
          LOG_LEVEL: "warn",
        },
      });

    beforeAll(async () => {
      if (kind === "postgres") {
        const pg = await createEmptyPostgres();
        databaseUrl = pg.url;
        dropDb = pg.drop;
      }
      servers.push(await start("a"));
      browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
      sponsor = await (await browser.newContext()).newPage();
      contributor = await (await browser.newContext()).newPage();
      for (const page of [sponsor, contributor]) {
        page.on("pageerror", (e) => errors.push(e.message));
        page.on("console", (m) => {
          if (m.type() === "error" && !m.location().url.endsWith("/favicon.ico"))
            errors.push(`${m.text()} (${m.location().url})`);
        });
      }
    }, 180_000);

    afterAll(async () => {
      await browser?.close();
      for (const s of servers) await s.stop();
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
      await sponsor.goto(`${a}/`);
      const token = (await Bun.file(join(dir, "a", "setup-token")).text()).trim();
      await sponsor.getByLabel(/Setup token/).fill(token);
      await sponsor.getByLabel("Your name").fill("Sam Sponsor");
      await sponsor.getByLabel("E-mail").fill("sam@example.test");
      await sponsor.getByLabel(/^Password/).fill(PASSWORD);
      await sponsor.keyboard.press("Enter");
      await sponsor.waitForURL(/\/onboarding/);
      await sponsor.getByLabel(/Sponsor/).check();
      await sponsor.getByRole("button", { name: "Continue" }).click();
      await sponsor.waitForURL(`${a}/`);
      await sponsor.getByRole("link", { name: "Create an organization" }).first().click();
      await sponsor.getByLabel("Name").fill("Live Guild");
      await sponsor.getByRole("button", { name: "Create organization" }).click();
      await sponsor.waitForURL(/\/orgs\/[0-9a-f-]{36}/);
      const orgId = new URL(sponsor.url()).pathname.split("/")[2]!;

      // The contributor uses a second process on the same database when there is one.
      if (kind === "postgres") servers.push(await start("b"));
      const b = servers.at(-1)!.base;
      await contributor.goto(`${b}/signup`);
      await contributor.getByLabel("Your name").fill("Cleo Contributor");
      await contributor.getByLabel("E-mail").fill("cleo@example.test");
      await contributor.getByLabel(/^Password/).fill("another good password");
      await contributor.getByRole("button", { name: "Create account" }).click();
      await contributor.waitForURL(/\/onboarding/);
      await contributor.getByLabel(/Contributor/).check();
      await contributor.getByRole("button", { name: "Continue" }).click();
      await contributor.waitForURL(`${b}/`);
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
      expect(errors).toEqual([]);
    }, 180_000);
  });
}
