// Browser test: the real server (`bun src/main.ts serve`) in a temp data dir, driven with Debian's Chromium
// through playwright-core. The first admin sets up the instance, creates an org with a logo, and invites a
// member by e-mail; the member signs up, sees the invite and accepts it. Screenshots go to the temp dir.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";

const CHROMIUM = chromiumPath();
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAGElEQVR4nGNkaGAgCTCRpnxUw6iGoa0BAFg/ASEk+vThAAAAAElFTkSuQmCC",
  "base64",
);

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

describe("identity in a browser", () => {
  const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "e2e-identity-"));
  const shots = join(dir, "shots");
  let server: ReturnType<typeof Bun.spawn>;
  let browser: Browser;
  let base: string;
  let serverLog = "";

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = Bun.spawn(
      ["bun", "src/main.ts", "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, "data")],
      {
        cwd: join(import.meta.dir, "../.."),
        env: { ...process.env, DATABASE_URL: "", DEVSPONSOR_MASTER_KEY: "22".repeat(32), LOG_LEVEL: "warn" },
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    new Response(server.stderr as ReadableStream).text().then((t) => {
      serverLog += t;
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        if ((await fetch(`${base}/health`)).status < 500) break;
      } catch {}
      if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start:\n${serverLog}`);
      await Bun.sleep(200);
    }
    // playwright-core gives each launch a fresh temporary profile (--user-data-dir).
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    server?.kill("SIGTERM");
    await server?.exited;
  });

  const shot = async (page: Page, name: string) => {
    const path = join(shots, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    return path;
  };

  test("the admin sets up, creates an org, invites a member who signs up and accepts", async () => {
    const admin = await (await browser.newContext()).newPage();
    // Every page leads to setup on a new instance.
    await admin.goto(`${base}/orgs`);
    expect(new URL(admin.url()).pathname).toBe("/setup");
    // The operator takes the one-time setup token from the data dir (the first start's log prints it too).
    const token = (await Bun.file(join(dir, "data", "setup-token")).text()).trim();
    await admin.getByLabel(/Setup token/).fill(token);
    await admin.getByLabel("Your name").fill("Ada Admin");
    await admin.getByLabel("E-mail").fill("ada@example.test");
    await admin.getByLabel(/^Password/).fill("correct horse battery");
    await admin.keyboard.press("Enter"); // keyboard submit
    await admin.waitForURL(/\/onboarding/);
    await admin.getByLabel(/Sponsor/).check();
    await shot(admin, "0-onboarding");
    await admin.getByRole("button", { name: "Continue" }).click();
    await admin.waitForURL(`${base}/`);
    await expect(admin.getByRole("heading", { name: "Welcome, Ada Admin" }).isVisible()).resolves.toBe(true);

    // Create an organization with a logo.
    await admin.getByRole("link", { name: "Create an organization" }).first().click();
    await admin.getByLabel("Name").fill("Acme Open Source");
    await admin.getByLabel(/Description/).fill("We fund the tools we depend on.");
    await admin.getByLabel(/Logo/).setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: PNG });
    await admin.getByRole("button", { name: "Create organization" }).click();
    await admin.waitForURL(/\/orgs\/[0-9a-f-]{36}\?done=created/);
    const orgId = new URL(admin.url()).pathname.split("/")[2];
    expect(await admin.getByRole("status").first().textContent()).toContain("Organization created.");
    const logo = await admin.request.get(`${base}/orgs/${orgId}/logo`);
    expect(logo.headers()["content-type"]).toBe("image/png");
    await shot(admin, "1-org");

    // This instance has no SMTP: the admin trusts local accounts' addresses so e-mail invites work in-app.
    await admin.goto(`${base}/admin/settings`);
    await admin.locator('select[name="auth.trustLocalEmails"]').selectOption("true");
    await admin.getByRole("button", { name: "Save settings" }).click();
    expect(await admin.getByText("Settings saved.").isVisible()).toBe(true);

    // Invite a member by e-mail.
    await admin.goto(`${base}/orgs/${orgId}/invites`);
    await admin.getByLabel("E-mail").fill("bea@example.test");
    await admin.getByLabel("Role").selectOption("MAINTAINER");
    await admin.getByLabel(/Message/).fill("Welcome aboard <b>Bea</b>!");
    await admin.getByRole("button", { name: "Send invite" }).click();
    // no mail server: the page says nothing was sent and shows the link to pass on (accepting in-app still works)
    expect(await admin.locator(".invite-link").textContent()).toContain("no e-mail was sent");
    expect(await admin.getByRole("cell", { name: "bea@example.test" }).isVisible()).toBe(true);
    const invitesShot = await shot(admin, "2-invites");

    // The invitee signs up, sees the invite on the dashboard, and accepts it.
    const bea = await (await browser.newContext()).newPage();
    await bea.goto(`${base}/signup`);
    await bea.getByLabel("Your name").fill("Bea Builder");
    await bea.getByLabel("E-mail").fill("bea@example.test");
    await bea.getByLabel(/^Password/).fill("another good password");
    await bea.getByRole("button", { name: "Create account" }).click();
    await bea.waitForURL(/\/onboarding/);
    await bea.getByLabel(/Contributor/).check();
    await bea.getByRole("button", { name: "Continue" }).click();
    await bea.waitForURL(`${base}/`);
    await bea.getByRole("link", { name: "Answer them" }).click();
    expect(await bea.getByText("Welcome aboard <b>Bea</b>!").isVisible()).toBe(true); // shown as text, not markup
    await shot(bea, "3-invite-received");
    await bea.getByRole("button", { name: "Accept" }).click();
    await bea.waitForURL(`${base}/orgs/${orgId}`);
    expect(await bea.getByText("your role: Maintainer").isVisible()).toBe(true);

    // The admin sees the new member; the bell shows the acceptance.
    await admin.goto(`${base}/orgs/${orgId}/members`);
    expect(await admin.getByRole("cell", { name: "Bea Builder", exact: true }).isVisible()).toBe(true);
    await admin.waitForFunction(() => document.querySelector("#bell .count")?.textContent === "1 unread");
    await shot(admin, "4-members");
    await admin.goto(`${base}/profile`);
    await shot(admin, "5-profile");

    // Keyboard: the skip link is the first stop and leads to the content.
    await admin.keyboard.press("Tab");
    expect(await admin.evaluate(() => document.activeElement?.textContent?.trim())).toBe("Skip to content");
    console.log(`screenshots: ${shots} (e.g. ${invitesShot})`);
  }, 90_000);
});
