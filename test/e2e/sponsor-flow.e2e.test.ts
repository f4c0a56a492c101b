// Browser test of the sponsor's path: the real server (`bun src/main.ts serve`) in a temp data dir with no model
// configured, driven with Debian's Chromium through playwright-core. The sponsor creates a project on a local git
// repository, uploads a document, generates milestones (the template planner), edits a task, approves the
// structure, and asks the sidebar a question whose streamed answer cites the document. Screenshots go to the
// temp dir (the last one's path is printed).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";

const CHROMIUM = chromiumPath();

const DOCUMENT = `# Settlement design

## Nightly batch

Ledger entries settle every night at 02:00 UTC through the clearing batch, which retries failed transfers three times.

## Reports

Monthly reports are exported as CSV files signed with the operator key.
`;

async function freePort(): Promise<number> {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** A small git repository the planner reads (a Bun project without tests yet). */
function makeRepo(dir: string) {
  mkdirSync(join(dir, "src"), { recursive: true });
  writeFileSync(join(dir, "package.json"), '{ "name": "ledger" }\n');
  writeFileSync(join(dir, "bun.lock"), "{}\n");
  writeFileSync(join(dir, "README.md"), "# Ledger\n\nA tiny ledger service.\n");
  writeFileSync(join(dir, "src", "index.ts"), "export const entries: string[] = [];\n");
  const env = {
    ...process.env,
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@t",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@t",
  };
  for (const args of [
    ["init", "-q", "-b", "main"],
    ["add", "."],
    ["commit", "-q", "-m", "init"],
  ]) {
    const r = Bun.spawnSync(["git", "-C", dir, ...args], { env });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  }
}

describe("sponsor flow in a browser", () => {
  const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "e2e-sponsor-"));
  const shots = join(dir, "shots");
  const repo = join(dir, "repo");
  let server: ReturnType<typeof Bun.spawn>;
  let browser: Browser;
  let base: string;
  let serverLog = "";

  beforeAll(async () => {
    makeRepo(repo);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    server = Bun.spawn(
      ["bun", "src/main.ts", "serve", "--port", String(port), "--host", "127.0.0.1", "--data-dir", join(dir, "data")],
      {
        cwd: join(import.meta.dir, "../.."),
        env: {
          ...process.env,
          DATABASE_URL: "",
          DEVSPONSOR_MASTER_KEY: "33".repeat(32),
          DEVSPONSOR_AI_PROVIDER: "none",
          // the project's repository is a local path: web users' local paths need the admin's allow-list
          DEVSPONSOR_SECURITY_ALLOWED_REPO_HOSTS: dir,
          LOG_LEVEL: "warn",
        },
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

  test("create a project, upload a document, generate, edit and approve milestones, ask the sidebar", async () => {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    page.on("dialog", (d) => void d.accept()); // approving the structure asks first
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });

    // First run: the operator's one-time setup token (in the data dir) makes the sponsor the instance's first admin.
    await page.goto(`${base}/`);
    const token = (await Bun.file(join(dir, "data", "setup-token")).text()).trim();
    await page.getByLabel(/Setup token/).fill(token);
    await page.getByLabel("Your name").fill("Sam Sponsor");
    await page.getByLabel("E-mail").fill("sam@example.test");
    await page.getByLabel(/^Password/).fill("correct horse battery");
    await page.keyboard.press("Enter");
    await page.waitForURL(/\/onboarding/);
    await page.getByLabel(/Sponsor/).check();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.waitForURL(`${base}/`);
    await page.getByRole("link", { name: "Create an organization" }).first().click();
    await page.getByLabel("Name").fill("Ledger Labs");
    await page.getByRole("button", { name: "Create organization" }).click();
    await page.waitForURL(/\/orgs\/[0-9a-f-]{36}/);
    const orgId = new URL(page.url()).pathname.split("/")[2];
    errors.length = 0; // from here on, only this domain's pages

    // 1. Create the project.
    await page.goto(`${base}/orgs/${orgId}/projects`);
    await page.getByRole("link", { name: "New project" }).click();
    await page.getByLabel("Title").fill("Ledger");
    await page
      .getByLabel(/^Description/)
      .fill(
        "A ledger service.\n- Record entries with idempotency keys\n- Settle entries in a nightly batch\n- Export monthly CSV reports",
      );
    await page.getByLabel(/^Repository/).fill(repo);
    await page.getByRole("button", { name: "Create project" }).click();
    await page.waitForURL(/\/projects\/[0-9a-f-]{36}\/milestones\?created=1/);
    const projectId = new URL(page.url()).pathname.split("/")[2]!;
    expect(await page.getByRole("status").first().textContent()).toContain("Project created");

    // 2. Upload a document; its row refreshes itself until it is indexed.
    await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Documents" }).click();
    await page
      .getByLabel(/Upload a document/)
      .setInputFiles({ name: "settlement.md", mimeType: "text/plain", buffer: Buffer.from(DOCUMENT) });
    await page.getByRole("button", { name: "Upload", exact: true }).click();
    await page.waitForURL(`${base}/projects/${projectId}/documents`);
    await page.locator('tr[data-status="READY"]', { hasText: "settlement.md" }).waitFor({ timeout: 20_000 });
    expect(await page.locator("tr", { hasText: "settlement.md" }).textContent()).toContain("markdown");
    await shot(page, "1-documents");

    // 3. Generate milestones: no model is configured, so the template planner drafts (progress streams in).
    await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Milestones" }).click();
    await page.getByRole("button", { name: "Generate milestones" }).click();
    await page.waitForURL(/\?run=/);
    await page.waitForURL(`${base}/projects/${projectId}/milestones`, { timeout: 30_000 }); // the run finished
    expect(await page.locator("[data-template-draft]").textContent()).toContain("Template draft");
    const milestones = page.locator("section.milestone");
    expect(await milestones.count()).toBeGreaterThanOrEqual(3);
    const taskTitles = await page.locator("section.milestone tbody tr td:first-child > a").allTextContents();
    expect(taskTitles).toContain("Settle entries in a nightly batch");
    expect(taskTitles).toContain("Add an automated test harness"); // read from the repository: it has no tests
    expect(await page.locator("section.milestone").first().textContent()).toContain("bun test");
    await shot(page, "2-generated");

    // 4. Edit a task: 8 points and a stricter rule.
    const row = page.locator("tr", { has: page.getByRole("link", { name: "Settle entries in a nightly batch" }) });
    await row.getByText("Edit", { exact: true }).click();
    await row.getByLabel("Points").fill("8");
    await row.getByLabel("Minimum passing tests").fill("3");
    await row.getByRole("button", { name: "Save task" }).click();
    await page.waitForURL(/\/milestones#t-/);
    const edited = page.locator("tr", { has: page.getByRole("link", { name: "Settle entries in a nightly batch" }) });
    expect(await edited.locator("td[data-points]").textContent()).toBe("8");
    expect(await edited.textContent()).toContain("≥ 3 passing tests");

    // 5. Approve the structure: frozen, total points fixed.
    const approve = page.getByRole("button", { name: /^Approve structure \(\d+ points\)$/ });
    const total = Number((await approve.textContent())!.match(/\((\d+) points\)/)![1]);
    await approve.click();
    await page.waitForURL(/approved=1/);
    expect(await page.locator("#draft-status").textContent()).toContain(`frozen at ${total} points`);
    expect(await page.getByRole("button", { name: "Save task" }).count()).toBe(0);

    // 6. Ask the sidebar; the streamed answer quotes and cites the document.
    await page.getByLabel("Ask about this project").fill("When do ledger entries settle?");
    await page.getByRole("button", { name: "Ask", exact: true }).click();
    const answer = page.locator('.turn.assistant[data-answer="done"]').last();
    await answer.waitFor({ timeout: 15_000 });
    const text = (await answer.textContent()) ?? "";
    expect(text).toContain("02:00 UTC");
    expect(text).toContain("from documents, no model");
    expect(await answer.locator(".citations li").first().textContent()).toContain("settlement.md");
    const final = await shot(page, "3-sidebar");
    console.log(`sponsor flow screenshot: ${final}`);

    // The answer was stored: it is there after a reload.
    await page.reload();
    expect(await page.locator(".turn.assistant").last().textContent()).toContain("02:00 UTC");
    // No script errors and nothing blocked by the CSP on these pages.
    expect(errors).toEqual([]);
  }, 120_000);
});
