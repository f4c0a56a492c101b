// Browser test of outgoing webhooks with the real server process and Debian's Chromium: the org's owner reaches the
// Webhooks tab from the org page, adds a generic webhook pointing at a local receiver (loopback allowed by the admin's
// setting, as for a local git host), sees the secret once, sends a test event from the webhook's page, and finds the
// receiver's 200 in the delivery log and on the delivery's page. The receiver checks the signature with the secret
// the page showed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";
import { type ServerProcess, startServerProcess } from "../support/server-process";

const CHROMIUM = chromiumPath();

describe("outgoing webhooks in a browser [pglite]", () => {
  const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "e2e-webhooks-"));
  const shots = join(dir, "shots");
  mkdirSync(shots, { recursive: true });
  let server: ServerProcess;
  let browser: Browser;
  const errors: string[] = [];
  const received: { headers: Headers; body: string }[] = [];
  const receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      received.push({ headers: req.headers, body: await req.text() });
      return new Response("ok");
    },
  });

  beforeAll(async () => {
    server = await startServerProcess({
      dataDir: join(dir, "data"),
      env: {
        DATABASE_URL: "",
        DEVSPONSOR_MASTER_KEY: "78".repeat(32),
        DEVSPONSOR_AI_PROVIDER: "none",
        DEVSPONSOR_SECURITY_ALLOWED_REPO_HOSTS: '["127.0.0.1"]',
        LOG_LEVEL: "warn",
      },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    receiver.stop(true);
  });

  test("the owner adds a webhook, sends a test event and sees the 200 in the delivery log", async () => {
    const base = server.base;
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${base}/`);
    const token = (await Bun.file(join(dir, "data", "setup-token")).text()).trim();
    await page.getByLabel(/Setup token/).fill(token);
    await page.getByLabel("Your name").fill("Olga Owner");
    await page.getByLabel("E-mail").fill("olga@example.test");
    await page.getByLabel(/^Password/).fill("correct horse battery");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/onboarding/);
    await page.getByLabel(/Sponsor/).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(`${base}/`);
    await page.getByRole("link", { name: "Create an organization" }).first().click();
    await page.getByLabel("Name").fill("Hook Guild");
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]{36}\?done=created/);
    const orgId = new URL(page.url()).pathname.split("/")[2];

    await page.getByRole("navigation", { name: "Organization" }).getByRole("link", { name: "Webhooks" }).click();
    await page.waitForURL(`${base}/orgs/${orgId}/webhooks`);
    await page.getByLabel("Name", { exact: true }).fill("Automation");
    await page.getByLabel(/^URL/).fill(`http://127.0.0.1:${receiver.port}/hook`);
    await page.getByLabel(/^Events/).fill("task.*, webhook.test");
    await page.getByRole("button", { name: "Add webhook" }).click();
    const secret = (await page.locator("#webhook-secret").textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await page.screenshot({ path: join(shots, "added.png"), fullPage: true });
    await page.getByRole("link", { name: "Open the webhook" }).click();
    await page.waitForURL(/\/webhooks\/[0-9a-f-]{36}$/);
    expect(await page.content()).not.toContain(secret); // shown once

    await page.getByRole("button", { name: "Send test event" }).click();
    await page.waitForURL(/\?done=test/);
    const deadline = Date.now() + 15_000;
    while (received.length === 0 && Date.now() < deadline) await Bun.sleep(100);
    expect(received).toHaveLength(1);
    const sig = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(received[0]!.headers.get("x-devsponsor-signature") ?? "")!;
    expect(createHmac("sha256", secret).update(`${sig[1]}.${received[0]!.body}`).digest("hex")).toBe(sig[2]);
    expect(JSON.parse(received[0]!.body)).toMatchObject({
      type: "webhook.test",
      org: { id: orgId, name: "Hook Guild" },
    });

    // the log shows the answer once the attempt is recorded
    let row = "";
    for (let i = 0; i < 50 && !row.includes("succeeded"); i++) {
      await page.reload();
      row = (await page.getByRole("row").filter({ hasText: "webhook.test" }).first().textContent()) ?? "";
      if (!row.includes("succeeded")) await Bun.sleep(200);
    }
    expect(row).toContain("succeeded");
    expect(row).toContain("200");
    await page.screenshot({ path: join(shots, "log.png"), fullPage: true });
    await page.getByRole("link", { name: "webhook.test" }).click();
    await page.waitForURL(/\/deliveries\/[0-9a-f-]{36}$/);
    const attempt = await page.getByRole("row").nth(1).textContent();
    expect(attempt).toContain("200");
    expect(attempt).toContain("ok");
    expect(errors).toEqual([]);
  }, 120_000);
});
