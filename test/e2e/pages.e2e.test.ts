// Browser test of the main pages as four kinds of people see them (signed out, contributor, sponsor, admin), at a
// phone's 390 × 844 and a laptop's 1280 × 900, in Debian's Chromium driven through playwright-core. No page may be
// wider than the screen; the phone header opens as a menu; the explore board filters by query parameters (with and
// without JavaScript); an e-mail invite without a mail server shows its link once and the invitee accepts through
// it; deletes and approval ask first; a failed save shows an error summary, marks the field and keeps what was
// typed (a stale CSRF token included); signed-out visitors read public projects and tasks. The app runs in this
// process on a fresh PGlite database with a funded public project, a private one, a draft and a claim.
// Screenshots of every page go to test-artifacts/pages/ (ignored by git).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium } from "playwright-core";
import { and, eq } from "drizzle-orm";
import { fundingRecords } from "../../src/funding/schema";
import { milestones, tasks } from "../../src/milestones/schema";
import { sessions } from "../../src/auth/schema";
import { orgMembers } from "../../src/orgs/schema";
import { projects } from "../../src/projects/schema";
import { taskClaims } from "../../src/tasks/schema";
import { createTestApp, type TestApp } from "../support/app";
import { createOrgAs, createUser, type TestUser } from "../support/auth";
import { CHROMIUM_ARGS as ARGS, chromiumPath } from "../support/browser";

const CHROMIUM = chromiumPath();
const SHOTS = join(import.meta.dir, "../../test-artifacts/pages");
const VIEWPORTS = [
  { name: "phone", width: 390, height: 844 },
  { name: "laptop", width: 1280, height: 900 },
] as const;

describe("main pages in a browser", () => {
  let t: TestApp;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let base: string;
  const people = {} as Record<"contributor" | "sponsor" | "admin", TestUser>;
  const ids = { org: "", project: "", privateProject: "", task: "", draftProject: "", privateTask: "" };

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    t = await createTestApp("pglite");
    people.admin = await createUser(t, { admin: true, name: "Ada Admin" });
    people.sponsor = await createUser(t, { name: "Sam Sponsor" });
    people.contributor = await createUser(t, { name: "Cleo Contributor" });
    ids.org = await createOrgAs(people.sponsor, "Ledger Works");
    const db = t.ctx.db;
    const project = async (title: string, visibility: "PUBLIC" | "PRIVATE", n: number) => {
      const [p] = await db
        .insert(projects)
        .values({
          orgId: ids.org,
          title,
          description: "A double-entry ledger with nightly settlement and CSV reports.",
          repoVisibility: visibility,
          state: "ACTIVE",
          repoUrl: `https://github.com/ledger-works/${title.toLowerCase().replace(/\W+/g, "-")}`,
          repoFullName: `ledger-works/${title.toLowerCase().replace(/\W+/g, "-")}`,
          totalPoints: n * 3,
          structureApprovedAt: new Date(),
        })
        .returning();
      const [m] = await db
        .insert(milestones)
        .values({ projectId: p!.id, title: "Settlement", position: 0, points: n * 3, status: "ACTIVE" })
        .returning();
      const made: string[] = [];
      for (let i = 0; i < n; i++) {
        const [task] = await db
          .insert(tasks)
          .values({
            milestoneId: m!.id,
            projectId: p!.id,
            title: `${title}: ${["Export the monthly report as CSV", "Retry failed transfers three times", "Sign reports with the operator key", "Add a reconciliation view for very long account identifiers"][i % 4]}`,
            points: 2 + i,
            position: i,
            // funded as the quote does it: points × $50 ÷ $2,500 per ETH
            payoutAmount: (BigInt(2 + i) * 2n * 10n ** 16n).toString(),
            verification: { minPassingTests: 1, testCommand: i % 2 ? "pytest -q" : "bun test", rules: [] },
          })
          .returning();
        made.push(task!.id);
      }
      await db.insert(fundingRecords).values({
        projectId: p!.id,
        amount: (10n ** 18n).toString(),
        token: "native",
        mode: "ESCROW",
        depositTxHash: `0x${crypto.randomUUID().replace(/-/g, "").padEnd(64, "0")}`,
        blockNumber: "7",
        depositor: "0x00000000000000000000000000000000000000aa",
        oracleRate: (2500n * 10n ** 8n).toString(),
        oracleDecimals: 8,
      });
      return { id: p!.id, tasks: made };
    };
    const pub = await project("Ledger", "PUBLIC", 4);
    const priv = await project("Vault internals", "PRIVATE", 2);
    ids.project = pub.id;
    ids.privateProject = priv.id;
    ids.privateTask = priv.tasks[0]!;
    ids.task = pub.tasks[3]!;
    // the contributor holds a claim on one public task
    await db.insert(taskClaims).values({
      taskId: pub.tasks[0]!,
      userId: people.contributor.id,
      expiresAt: new Date(Date.now() + 7 * 86_400_000),
    });
    await db
      .update(tasks)
      .set({ status: "CLAIMED", claimedById: people.contributor.id })
      .where(eq(tasks.id, pub.tasks[0]!));
    // a draft the sponsor is still shaping: one milestone, two tasks, structure not approved
    const [draft] = await db
      .insert(projects)
      .values({ orgId: ids.org, title: "Report drafts", description: "Reports.", repoVisibility: "PRIVATE" })
      .returning();
    const [dm] = await db
      .insert(milestones)
      .values({ projectId: draft!.id, title: "Monthly reports", position: 0, points: 5 })
      .returning();
    await db.insert(tasks).values(
      ["Render the PDF report", "Mail the report to the operator", "Archive last year's reports"].map((title, i) => ({
        milestoneId: dm!.id,
        projectId: draft!.id,
        title,
        points: 2 + i,
        position: i,
        verification: { minPassingTests: 1, testCommand: "bun test", rules: [] },
      })),
    );
    ids.draftProject = draft!.id;
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (req) => t.app.handle(req) });
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await t?.close();
  });

  /** A browser context for a person (their session cookie) at a viewport. */
  async function contextFor(who: TestUser | null, vp: (typeof VIEWPORTS)[number], js = true) {
    const ctx = await browser.newContext({ viewport: { width: vp.width, height: vp.height }, javaScriptEnabled: js });
    if (who) await ctx.addCookies([{ name: "ds_session", value: who.session, url: base }]);
    return ctx;
  }

  /** Opens each page, checks nothing is wider than the viewport, and writes a screenshot. */
  async function walk(ctx: BrowserContext, label: string, vp: (typeof VIEWPORTS)[number], paths: string[]) {
    const page = await ctx.newPage();
    const wide: string[] = [];
    for (const path of paths) {
      const res = await page.goto(base + path, { waitUntil: "load" });
      expect(res?.status(), `${label} ${path}`).toBeLessThan(500);
      const { scroll, inner, culprit } = await page.evaluate(() => {
        const inner = window.innerWidth;
        let culprit = "";
        // the first element past the right edge that no scrolling box of its own contains
        const clipped = (el: Element) => {
          for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
            const o = getComputedStyle(p).overflowX;
            if (o === "auto" || o === "scroll" || o === "hidden") return true;
          }
          return false;
        };
        for (const el of Array.from(document.querySelectorAll("body *"))) {
          const r = el.getBoundingClientRect();
          if (r.right > inner + 1 && getComputedStyle(el).position !== "absolute" && !clipped(el)) {
            culprit = `${el.tagName.toLowerCase()}.${el.className} (${Math.round(r.right)}px)`;
            break;
          }
        }
        return { scroll: document.documentElement.scrollWidth, inner, culprit };
      });
      if (scroll > inner) wide.push(`${path}: ${scroll}px > ${inner}px; first too wide: ${culprit}`);
      const named = path
        .replace(ids.privateProject, "private-project")
        .replace(ids.draftProject, "draft-project")
        .replace(ids.project, "project")
        .replace(ids.org, "org")
        .replace(ids.privateTask, "private-task")
        .replace(ids.task, "task");
      const name = `${label}-${vp.name}-${named.replace(/[^a-z0-9-]+/gi, "_").replace(/^_|_$/g, "") || "home"}`;
      await page.screenshot({ path: join(SHOTS, `${name.slice(0, 100)}.png`), fullPage: true });
    }
    await page.close();
    expect(wide, `${label} at ${vp.width}px`).toEqual([]);
  }

  const pagesOf = () => ({
    "signed-out": [
      "/",
      "/explore",
      `/projects/${ids.project}`,
      `/tasks/${ids.task}`,
      "/status",
      "/signin",
      "/api/docs",
      "/no-such-page",
    ],
    contributor: [
      "/",
      "/explore",
      "/me/tasks",
      "/me/earnings",
      "/projects",
      `/projects/${ids.project}`,
      `/tasks/${ids.task}`,
      "/orgs",
      "/profile",
      "/notifications",
    ],
    sponsor: [
      "/",
      `/orgs/${ids.org}`,
      `/orgs/${ids.org}/members`,
      `/orgs/${ids.org}/invites`,
      `/orgs/${ids.org}/audit`,
      `/projects/${ids.project}`,
      `/projects/${ids.project}/milestones`,
      `/projects/${ids.draftProject}/milestones`,
      `/projects/${ids.project}/tasks`,
      `/projects/${ids.privateProject}`,
      `/tasks/${ids.task}`,
    ],
    admin: ["/", "/admin/settings", "/admin/audit", "/orgs?all=1", "/api/docs", "/status"],
  });

  for (const vp of VIEWPORTS) {
    for (const who of ["signed-out", "contributor", "sponsor", "admin"] as const) {
      test(`${who} at ${vp.width}×${vp.height}: no page wider than the screen`, async () => {
        const ctx = await contextFor(who === "signed-out" ? null : people[who], vp);
        try {
          await walk(ctx, who, vp, pagesOf()[who]);
        } finally {
          await ctx.close();
        }
      }, 120_000);
    }
  }

  test("phone: the header is a menu that opens without JavaScript and marks the current page", async () => {
    const ctx = await contextFor(people.admin, VIEWPORTS[0], false);
    try {
      const page = await ctx.newPage();
      await page.goto(`${base}/admin/audit`);
      const audit = page.locator("details.menu nav a", { hasText: "Admin" }); // every admin page, the audit too
      expect(await audit.isVisible()).toBe(false);
      await page.locator("details.menu summary").click();
      expect(await audit.isVisible()).toBe(true);
      expect(await audit.getAttribute("aria-current")).toBe("page");
      expect(await page.locator("details.menu button", { hasText: "Sign out" }).isVisible()).toBe(true);
      await page.screenshot({ path: join(SHOTS, "admin-phone-menu-open.png") });
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    } finally {
      await ctx.close();
    }
  }, 60_000);

  for (const vp of VIEWPORTS) {
    test(`${vp.name}: an e-mail invite without a mail server shows its link once; the invitee accepts it`, async () => {
      // the invitee signed up with another address than the one invited: the link alone lets them in
      const invitee = await createUser(t, { name: `Ines Invitee ${vp.name}` });
      const address = `ines.${vp.name}@home.example`;
      const sponsor = await contextFor(people.sponsor, vp);
      const guest = await contextFor(invitee, vp);
      try {
        await sponsor.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
        const page = await sponsor.newPage();
        await page.goto(`${base}/orgs/${ids.org}/invites`);
        await page.fill("input[name=email]", address);
        await page.click("form button[type=submit]:has-text('Send invite')");
        const card = page.locator(".invite-link");
        expect(await card.textContent()).toContain("no e-mail was sent");
        expect(await card.textContent()).toContain(address);
        expect(await page.content()).not.toContain("Invite sent");
        const link = await page.inputValue("#invite-link");
        expect(link).toStartWith(`${base}/invites/accept?token=`);
        await page.click("button[data-copy]");
        await page.waitForFunction(() => document.querySelector("button[data-copy]")?.textContent === "Copied");
        expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(link);
        expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(vp.width);
        await page.screenshot({ path: join(SHOTS, `invite-link-${vp.name}.png`), fullPage: true });
        // the token is a secret: the invites page never shows it again
        await page.goto(`${base}/orgs/${ids.org}/invites`);
        expect(await page.content()).not.toContain(new URL(link).searchParams.get("token")!);
        expect(await page.locator(".invite-link").count()).toBe(0);

        const other = await guest.newPage();
        await other.goto(link);
        expect(await other.textContent("main")).toContain("invited you to Ledger Works");
        await other.screenshot({ path: join(SHOTS, `invite-accept-${vp.name}.png`), fullPage: true });
        await other.click("button:has-text('Accept')");
        await other.waitForURL(`${base}/orgs/${ids.org}`);
        const [member] = await t.ctx.db
          .select({ role: orgMembers.role })
          .from(orgMembers)
          .where(and(eq(orgMembers.orgId, ids.org), eq(orgMembers.userId, invitee.id)));
        expect(member?.role).toBe("CONTRIBUTOR");
      } finally {
        await sponsor.close();
        await guest.close();
      }
    }, 60_000);
  }

  for (const vp of VIEWPORTS) {
    test(`${vp.name}: deleting and approving ask first, saying what happens; cancel keeps, OK does it`, async () => {
      const ctx = await contextFor(people.sponsor, vp);
      const taskTitles = async () =>
        (await t.ctx.db.select({ title: tasks.title }).from(tasks).where(eq(tasks.projectId, ids.draftProject))).map(
          (r) => r.title,
        );
      try {
        const page = await ctx.newPage();
        const asked: string[] = [];
        let answer = false;
        page.on("dialog", async (d) => {
          asked.push(d.message());
          await (answer ? d.accept() : d.dismiss());
        });
        await page.goto(`${base}/projects/${ids.draftProject}/milestones`);
        const title = vp.name === "phone" ? "Render the PDF report" : "Mail the report to the operator";
        const del = page.locator(`button[title="Delete task ${title}"]`);
        expect(await taskTitles()).toContain(title);

        // cancelled: nothing is sent, the task stays
        await del.click();
        expect(asked.at(-1)).toContain(`Delete the task "${title}"`);
        expect(asked.at(-1)).toContain("Only restoring an earlier version");
        await page.waitForTimeout(300);
        expect(page.url()).toBe(`${base}/projects/${ids.draftProject}/milestones`);
        expect(await taskTitles()).toContain(title);

        await page.click(`button[title="Delete milestone Monthly reports"]`);
        expect(asked.at(-1)).toMatch(/Delete the milestone "Monthly reports" and its \d tasks?/);
        await page.click("button:has-text('Approve structure')");
        expect(asked.at(-1)).toContain("points are frozen");
        await page.waitForTimeout(300);
        const [draft] = await t.ctx.db
          .select({ approved: projects.structureApprovedAt })
          .from(projects)
          .where(eq(projects.id, ids.draftProject));
        expect(draft?.approved).toBeNull();
        expect(
          (await t.ctx.db.select().from(milestones).where(eq(milestones.projectId, ids.draftProject))).length,
        ).toBe(1);
        await page.screenshot({ path: join(SHOTS, `confirm-cancelled-${vp.name}.png`), fullPage: true });

        // accepted: the task is deleted and the page says so
        answer = true;
        await Promise.all([page.waitForNavigation(), del.click()]);
        expect(asked).toHaveLength(4);
        expect(await taskTitles()).not.toContain(title);
        expect(await page.locator(`button[title="Delete task ${title}"]`).count()).toBe(0);
        expect(await page.textContent("main")).toContain("Task deleted.");
        await page.screenshot({ path: join(SHOTS, `confirm-deleted-${vp.name}.png`), fullPage: true });
      } finally {
        await ctx.close();
      }
    }, 60_000);
  }

  for (const vp of VIEWPORTS) {
    test(`${vp.name}: a failed save shows an error summary, marks the field and keeps what was typed`, async () => {
      const admin = await contextFor(people.admin, vp);
      const sponsor = await contextFor(people.sponsor, vp);
      try {
        // the admin's settings: a number field given words, a text field and a select changed alongside
        const page = await admin.newPage();
        await page.goto(`${base}/admin/settings`);
        expect(await page.locator("select[name='ai.provider'] option").allTextContents()).toEqual([
          "none",
          "ollama",
          "openai-compatible",
        ]);
        expect(await page.locator("select[name='sandbox.backend']").count()).toBe(1);
        await page.fill("input[name='instance.name']", `Ledger ${vp.name} appliance`);
        await page.fill("input[name='ai.temperature']", "quite warm");
        await page.selectOption("select[name='chain.mode']", "rpc");
        await page.click("button:has-text('Save settings')");
        const summary = page.locator("form .flash.error");
        expect(await summary.textContent()).toContain("Nothing was saved");
        expect(await summary.locator("a").allTextContents()).toEqual(["Enter a number."]);
        const temperature = page.locator("input[name='ai.temperature']");
        expect(await temperature.getAttribute("aria-invalid")).toBe("true");
        expect(await temperature.inputValue()).toBe("quite warm");
        expect(await page.inputValue("input[name='instance.name']")).toBe(`Ledger ${vp.name} appliance`);
        expect(await page.inputValue("select[name='chain.mode']")).toBe("rpc");
        expect(await page.locator("input[name='instance.name']").getAttribute("aria-invalid")).toBeNull();
        // the summary's link takes the keyboard to the field's message
        await summary.locator("a").click();
        expect(page.url()).toEndWith("#ai.temperature-error");
        await page.screenshot({ path: join(SHOTS, `settings-error-${vp.name}.png`), fullPage: true });
        expect(t.ctx.settings.get("instance.name")).toBe("DevSponsor");
        expect(t.ctx.settings.get("chain.mode")).toBe("dev");

        // a long form: the new project
        const form = await sponsor.newPage();
        await form.goto(`${base}/orgs/${ids.org}/projects/new`);
        await form.fill("input[name=title]", `Nightly exports ${vp.name}`);
        await form.fill("textarea[name=description]", "Export every ledger nightly as CSV.");
        await form.fill("input[name=tokenAddress]", "not an address");
        await form.click("button:has-text('Create project')");
        expect(await form.locator("form .flash.error").textContent()).toContain("The project was not created");
        expect(await form.locator("input[name=tokenAddress]").getAttribute("aria-invalid")).toBe("true");
        expect(await form.inputValue("input[name=title]")).toBe(`Nightly exports ${vp.name}`);
        expect(await form.inputValue("input[name=tokenAddress]")).toBe("not an address");
        expect(await form.inputValue("textarea[name=description]")).toBe("Export every ledger nightly as CSV.");
        expect(await form.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(vp.width);
        await form.screenshot({ path: join(SHOTS, `new-project-error-${vp.name}.png`), fullPage: true });

        // a form among many on the milestones page: it comes back open, with what was typed
        await form.goto(`${base}/projects/${ids.draftProject}/milestones`);
        const add = form.locator("details:has(> summary:text-is('Add a task'))");
        await add.locator("summary").click();
        const criteria = Array.from({ length: 13 }, (_, i) => `Report ${i + 1} renders`).join("\n");
        await add.locator("input[name=title]").fill("   ");
        await add.locator("input[name=points]").fill("4");
        await add.locator("textarea[name=acceptanceCriteria]").fill(criteria);
        await add.locator("button:has-text('Add task')").click();
        const reopened = form.locator("details[open]:has(> summary:text-is('Add a task'))");
        expect(await reopened.locator(".flash.error").textContent()).toContain("The task was not added");
        expect(await reopened.locator("input[name=title]").getAttribute("aria-invalid")).toBe("true");
        expect(await reopened.locator("textarea[name=acceptanceCriteria]").getAttribute("aria-invalid")).toBe("true");
        expect(await reopened.locator("#acceptanceCriteria-error").textContent()).toBe(
          "Use at most 12 criteria, one per line.",
        );
        expect(await reopened.locator("input[name=points]").inputValue()).toBe("4");
        expect(await reopened.locator("textarea[name=acceptanceCriteria]").inputValue()).toBe(criteria);
        await form.screenshot({ path: join(SHOTS, `add-task-error-${vp.name}.png`), fullPage: true });
      } finally {
        await admin.close();
        await sponsor.close();
      }
    }, 60_000);
  }

  test("a form whose CSRF token went stale keeps what was typed and sends it again with one press", async () => {
    const admin = await createUser(t, { admin: true, name: "Ada Again" });
    const ctx = await contextFor(admin, VIEWPORTS[0]);
    try {
      const page = await ctx.newPage();
      await page.goto(`${base}/admin/settings`);
      await page.fill("input[name='instance.name']", "Ledger Works appliance");
      // the session's token changes meanwhile (as when another tab confirms the password)
      await t.ctx.db.update(sessions).set({ csrfToken: "rotated-meanwhile" }).where(eq(sessions.userId, admin.id));
      await page.click("button:has-text('Save settings')");
      expect(await page.textContent("main")).toContain("This form had expired, so nothing was saved.");
      expect(t.ctx.settings.get("instance.name")).toBe("DevSponsor");
      await page.screenshot({ path: join(SHOTS, "stale-form-resend-phone.png"), fullPage: true });
      await page.click("button:has-text('Send again')");
      expect(await page.textContent("main")).toContain("Settings saved.");
      expect(await page.inputValue("input[name='instance.name']")).toBe("Ledger Works appliance");
      expect(t.ctx.settings.get("instance.name")).toBe("Ledger Works appliance");
      // another site's post with a wrong token is refused as before, with nothing to send again
      const forged = await fetch(`${base}/admin/settings`, {
        method: "POST",
        headers: {
          cookie: `ds_session=${admin.session}`,
          "content-type": "application/x-www-form-urlencoded",
          accept: "text/html",
          origin: "https://evil.example",
          "sec-fetch-site": "cross-site",
        },
        body: new URLSearchParams({ _csrf: "wrong", "instance.name": "Evil" }),
      });
      expect(forged.status).toBe(403);
      expect(await forged.text()).not.toContain("Send again");
    } finally {
      await ctx.close();
      await t.ctx.settings.update({ "instance.name": null }, null);
    }
  }, 60_000);

  test("phone without JavaScript: the server asks on a page of its own; Cancel keeps, yes deletes", async () => {
    const ctx = await contextFor(people.sponsor, VIEWPORTS[0], false);
    const titles = async () =>
      (await t.ctx.db.select({ title: tasks.title }).from(tasks).where(eq(tasks.projectId, ids.draftProject))).map(
        (r) => r.title,
      );
    try {
      const page = await ctx.newPage();
      const milestonesPage = `${base}/projects/${ids.draftProject}/milestones`;
      await page.goto(milestonesPage);
      await page.click(`button[title="Delete milestone Monthly reports"]`);
      expect(await page.locator("main h1").textContent()).toBe("Are you sure?");
      expect(await page.textContent("main")).toMatch(/Delete the milestone "Monthly reports" and its \d tasks?/);
      await page.screenshot({ path: join(SHOTS, "confirm-nojs-phone.png"), fullPage: true });
      await page.click("main a:has-text('Cancel')");
      expect(page.url()).toBe(milestonesPage);
      expect((await t.ctx.db.select().from(milestones).where(eq(milestones.projectId, ids.draftProject))).length).toBe(
        1,
      );

      const title = "Archive last year's reports";
      await page.click(`button[title="Delete task ${title}"]`);
      expect(await page.textContent("main")).toContain(`Delete the task "${title}"`);
      expect(await titles()).toContain(title);
      await page.click("button:has-text('Yes, go ahead')");
      expect(await page.textContent("main")).toContain("Task deleted.");
      expect(await titles()).not.toContain(title);
    } finally {
      await ctx.close();
    }
  }, 60_000);

  test("signed out: the front page is the board; a public project and its task are readable, private ones ask to sign in", async () => {
    const ctx = await contextFor(null, VIEWPORTS[0]);
    try {
      const page = await ctx.newPage();
      await page.goto(`${base}/`);
      expect(new URL(page.url()).pathname).toBe("/explore");
      await page.click("#explore-results a:has-text('reconciliation view')");
      await page.waitForURL(`${base}/tasks/${ids.task}`);
      const main = page.locator("main");
      expect(await main.textContent()).toContain("0.1 ETH");
      expect(await main.textContent()).toContain("≈ $250.00");
      expect(await main.textContent()).toContain("Open: anyone signed in can claim it.");
      await page.screenshot({ path: join(SHOTS, "signed-out-public-task.png"), fullPage: true });
      await page.click("a:has-text('Sign in to claim this task')");
      expect(page.url()).toBe(`${base}/signin?next=${encodeURIComponent(`/tasks/${ids.task}`)}`);

      await page.goto(`${base}/projects/${ids.project}`);
      expect(await page.locator("main h1").textContent()).toContain("Ledger");
      expect(await page.locator("nav.ptabs a").allTextContents()).toEqual(["Overview"]);
      await page.click('a:has-text("See this project\'s open tasks")');
      await page.waitForFunction(() => document.querySelectorAll("#explore-results tbody tr").length === 3);

      for (const path of [
        `/projects/${ids.privateProject}`,
        `/tasks/${ids.privateTask}`,
        `/tasks/${crypto.randomUUID()}`,
      ]) {
        const res = await page.goto(base + path);
        expect(new URL(page.url()).pathname, path).toBe("/signin");
        expect(await res!.text()).not.toContain("Vault internals");
      }
    } finally {
      await ctx.close();
    }
  }, 60_000);

  test("the explore board filters with JavaScript (in place) and without (plain GET form)", async () => {
    for (const js of [true, false]) {
      const ctx = await contextFor(null, VIEWPORTS[js ? 1 : 0], js);
      try {
        const page = await ctx.newPage();
        await page.goto(`${base}/explore`);
        const rows = page.locator("#explore-results tbody tr");
        expect(await rows.count()).toBe(3); // four public tasks, one claimed; the private project's never
        expect(await page.content()).not.toContain("Vault internals");
        // highest payout first: 5 points, 0.1 ETH ≈ $250
        expect(await rows.first().textContent()).toContain("0.1 ETH");
        expect(await rows.first().textContent()).toContain("≈ $250.00");
        await page.selectOption("select[name=language]", "Python");
        if (!js) await page.click("form.filters button[type=submit]");
        await page.waitForURL(/language=Python/);
        await page.waitForFunction(() => document.querySelectorAll("#explore-results tbody tr").length === 2);
        const titles = await rows.allTextContents();
        expect(titles.every((x) => /Retry failed transfers|reconciliation view/.test(x))).toBe(true);
        await page.fill("input[name=minPoints]", "5");
        await page.click("form.filters button[type=submit]");
        await page.waitForURL(/minPoints=5/);
        await page.waitForFunction(() => document.querySelectorAll("#explore-results tbody tr").length === 1);
        expect(await rows.first().textContent()).toContain("reconciliation view");
        await page.screenshot({ path: join(SHOTS, `explore-filtered-${js ? "js" : "nojs"}.png`), fullPage: true });
      } finally {
        await ctx.close();
      }
    }
  }, 60_000);
});
