// Browser check of the task page's acceptance tests and verdict details, as the contributor and the sponsor see
// them, at a phone's 390 × 844 and a laptop's 1280 × 900 in Debian's Chromium: nothing wider than the screen, the
// named tests, the pinned commit linked to GitHub and the rule in words; a hidden bundle as a count for the
// contributor and by name for the sponsor; a flaky verdict with its per-test results and the approve button that
// explains why it cannot pay. Screenshots go to test-artifacts/acceptance/ (ignored by git).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { type Browser, chromium } from "playwright-core";
import { milestones, tasks } from "../../src/milestones/schema";
import { projects } from "../../src/projects/schema";
import { taskClaims, taskTestBundles, taskVerifications, taskWorkLinks } from "../../src/tasks/schema";
import { createTestApp, type TestApp } from "../support/app";
import { createOrgAs, createUser, type TestUser } from "../support/auth";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";

const CHROMIUM = chromiumPath();
const SHOTS = join(import.meta.dir, "../../test-artifacts/acceptance");
const VIEWPORTS = [
  { name: "phone", width: 390, height: 844 },
  { name: "laptop", width: 1280, height: 900 },
] as const;
const BASE = "4f1c2a9be3d07c55e21b0a6f8d93c4e7b1a2f3d4";
const NAMED = [
  "test > test/report.test.ts > exports the monthly report as CSV with a header row",
  "test > test/report.test.ts > quotes fields that contain commas, quotes or very_long_identifiers_without_spaces_0123456789",
  "test > test/report.test.ts > sums every account",
];

describe("the task page's acceptance tests in a browser", () => {
  let t: TestApp;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let base: string;
  let sponsor: TestUser;
  let contributor: TestUser;
  let taskId = "";
  let openTaskId = "";

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    t = await createTestApp("pglite");
    sponsor = await createUser(t, { name: "Sam Sponsor" });
    contributor = await createUser(t, { name: "Cleo Contributor" });
    const orgId = await createOrgAs(sponsor, "Ledger Works");
    const db = t.ctx.db;
    const [p] = await db
      .insert(projects)
      .values({
        orgId,
        title: "Ledger",
        state: "ACTIVE",
        repoUrl: "https://github.com/ledger-works/ledger",
        repoProvider: "github",
        repoHost: "github.com",
        repoFullName: "ledger-works/ledger",
        verificationRuns: 2,
        totalPoints: 5,
      })
      .returning();
    const [m] = await db
      .insert(milestones)
      .values({ projectId: p!.id, title: "Reports", position: 0, points: 5, status: "ACTIVE" })
      .returning();
    const [task] = await db
      .insert(tasks)
      .values({
        milestoneId: m!.id,
        projectId: p!.id,
        title: "Export the monthly report as CSV",
        description: "A CSV export of every account's monthly totals.",
        points: 5,
        position: 0,
        payoutAmount: (10n ** 17n).toString(),
        verification: {
          minPassingTests: 3,
          testCommand: "bun test",
          rules: [],
          acceptanceTests: NAMED,
          testFiles: ["test/report.test.ts", "test/fixtures/accounts-with-a-rather-long-directory-name/march.csv"],
        },
        acceptancePin: { kind: "commit", commit: BASE, ref: "refs/heads/main", pinnedAt: new Date().toISOString() },
      })
      .returning();
    taskId = task!.id;
    const [open] = await db
      .insert(tasks)
      .values({
        milestoneId: m!.id,
        projectId: p!.id,
        title: "Retry failed transfers three times",
        points: 3,
        position: 1,
        payoutAmount: (10n ** 17n).toString(),
        acceptancePin: { kind: "commit", commit: BASE, ref: "refs/heads/main", pinnedAt: new Date().toISOString() },
      })
      .returning();
    openTaskId = open!.id;
    // the hidden bundle goes through the real upload before approval (no base commit to read yet)
    const form = new FormData();
    form.set("bundle", new File([ustar("hidden/report-edge-cases.test.ts", "test('edge', () => {});\n")], "b.tar"));
    const up = await sponsor.request("POST", `/api/tasks/${taskId}/test-bundle`, { body: form });
    expect(up.status).toBe(201);
    const [bundle] = await db.select().from(taskTestBundles).where(eq(taskTestBundles.taskId, taskId));
    await db.update(projects).set({ structureApprovedAt: new Date() }).where(eq(projects.id, p!.id));
    await db
      .update(tasks)
      .set({
        status: "VERIFIED",
        claimedById: contributor.id,
        acceptancePin: {
          kind: "bundle",
          bundleId: bundle!.id,
          sha256: bundle!.sha256,
          pinnedAt: new Date().toISOString(),
          baseCommit: BASE,
        },
      })
      .where(eq(tasks.id, taskId));
    const [claim] = await db
      .insert(taskClaims)
      .values({ taskId, userId: contributor.id, expiresAt: new Date(Date.now() + 7 * 86_400_000) })
      .returning();
    const commit = "9a8b7c6d5e4f30211a2b3c4d5e6f708192a3b4c5";
    const [link] = await db
      .insert(taskWorkLinks)
      .values({
        taskId,
        claimId: claim!.id,
        kind: "branch",
        repoUrl: "https://github.com/cleo/ledger",
        branch: "csv-export",
        commit,
        committedAt: new Date(),
      })
      .returning();
    const run = { taskId, claimId: claim!.id, workLinkId: link!.id, commit, baseCommit: BASE, finishedAt: new Date() };
    await db.insert(taskVerifications).values([
      {
        ...run,
        attempt: 1,
        status: "FAILED",
        passedCount: 40,
        failedCount: 2,
        reason: "The work changed protected paths.",
        named: [
          { id: NAMED[0]!, status: "passed" },
          { id: NAMED[1]!, status: "missing" },
          { id: NAMED[2]!, status: "failed" },
        ],
        newFailures: 1,
        protectedChanges: ["test/report.test.ts", ".github/workflows/ci-with-a-long-workflow-file-name.yml"],
        createdAt: new Date(Date.now() - 60_000),
      },
      {
        ...run,
        attempt: 2,
        status: "FLAKY",
        passedCount: 42,
        failedCount: 0,
        reason: `flaky: ${NAMED[2]}`,
        named: [
          { id: NAMED[0]!, status: "passed" },
          { id: NAMED[1]!, status: "passed" },
          { id: NAMED[2]!, status: "flaky" },
        ],
        newFailures: 0,
        flaky: [NAMED[2]!],
        protectedChanges: [],
      },
    ]);
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => t.app.handle(req) });
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await t?.close();
  });

  for (const vp of VIEWPORTS) {
    for (const who of ["contributor", "sponsor"] as const) {
      test(`${who} at ${vp.width}px: the acceptance tests and the verdicts fit and say what they must`, async () => {
        const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
        try {
          const person = who === "sponsor" ? sponsor : contributor;
          await ctx.addCookies([{ name: "ds_session", value: person.session, url: base }]);
          const page = await ctx.newPage();
          const res = await page.goto(`${base}/tasks/${taskId}`, { waitUntil: "load" });
          expect(res?.status()).toBe(200);
          // open every folded part, so the widest content is measured and seen
          await page.evaluate(() => {
            for (const d of Array.from(document.querySelectorAll("main details")))
              (d as HTMLDetailsElement).open = true;
          });
          const { scroll, inner } = await page.evaluate(() => ({
            scroll: document.documentElement.scrollWidth,
            inner: window.innerWidth,
          }));
          await page.screenshot({ path: join(SHOTS, `${who}-${vp.name}.png`), fullPage: true });
          expect(scroll).toBeLessThanOrEqual(inner);
          const text = (await page.locator("main").textContent()) ?? "";
          for (const id of NAMED) expect(text).toContain(id);
          expect(text).toContain("These 3 tests must run and pass; no test that passed at 4f1c2a9be3d0 may fail.");
          expect(await page.locator(`#acceptance a[href$="/commit/${BASE}"]`).count()).toBe(1);
          expect(text).toContain("Plus 1 hidden acceptance test file");
          expect(text).toContain("Refused: the work changed 2 protected paths");
          expect(text).toContain("1 test that passed at the base commit 4f1c2a9be3d0 fails now.");
          expect(text).toContain("Report not signed by the harness");
          if (who === "contributor") {
            expect(text).not.toContain("report-edge-cases");
            expect(text).not.toContain("Approve and pay");
          } else {
            expect(text).toContain("hidden/report-edge-cases.test.ts");
            expect(await page.locator("button[disabled]", { hasText: "Approve and pay" }).count()).toBe(1);
            expect(text).toContain("did not sign");
          }
        } finally {
          await ctx.close();
        }
      }, 60_000);
    }
  }

  for (const vp of VIEWPORTS) {
    test(`an open task at ${vp.width}px: every test must pass, and the sponsor's forms fit`, async () => {
      const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height } });
      try {
        await ctx.addCookies([{ name: "ds_session", value: sponsor.session, url: base }]);
        const page = await ctx.newPage();
        expect((await page.goto(`${base}/tasks/${openTaskId}`, { waitUntil: "load" }))?.status()).toBe(200);
        await page.click("#acceptance summary");
        const { scroll, inner } = await page.evaluate(() => ({
          scroll: document.documentElement.scrollWidth,
          inner: window.innerWidth,
        }));
        await page.screenshot({ path: join(SHOTS, `sponsor-open-task-${vp.name}.png`), fullPage: true });
        expect(scroll).toBeLessThanOrEqual(inner);
        const text = (await page.locator("#acceptance").textContent()) ?? "";
        expect(text).toContain(
          "No tests are named: every test must pass; no test that passed at 4f1c2a9be3d0 may fail.",
        );
        expect(await page.locator('#acceptance textarea[name="acceptanceTests"]').isVisible()).toBe(true);
        expect(await page.locator('#acceptance input[type="file"][name="bundle"]').isVisible()).toBe(true);
      } finally {
        await ctx.close();
      }
    }, 60_000);
  }
});

/** A one-file tar archive (ustar). */
function ustar(name: string, text: string): Uint8Array<ArrayBuffer> {
  const enc = new TextEncoder();
  const content = enc.encode(text);
  const header = new Uint8Array(512);
  const put = (s: string, at: number) => header.set(enc.encode(s), at);
  put(name, 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(`${content.length.toString(8).padStart(11, "0")}\0`, 124);
  put("00000000000\0", 136);
  put("        ", 148);
  put("0", 156);
  put("ustar\u000000", 257);
  put(
    `${header
      .reduce((a, b) => a + b, 0)
      .toString(8)
      .padStart(6, "0")}\0 `,
    148,
  );
  const out = new Uint8Array(512 + Math.ceil(content.length / 512) * 512 + 1024);
  out.set(header, 0);
  out.set(content, 512);
  return out;
}
