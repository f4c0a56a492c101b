// The project members page in Chromium: an owner opens it from the project page, invites someone by GitHub login,
// the account linked to that login accepts, the private repository's collaborator invite goes out (the real octokit
// client against the local GitHub wire server, every call recorded), the page shows the member with a pending
// invite, and removing the member makes the recorded DELETE collaborator call.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { type Browser, chromium } from "playwright-core";
import { githubInstallations, githubRepositories } from "../../src/github/schema";
import { projects } from "../../src/projects/schema";
import { users } from "../../src/users/schema";
import { createTestApp, type TestApp } from "../support/app";
import { createOrgAs, createUser, type TestUser } from "../support/auth";
import { CHROMIUM_ARGS, chromiumPath } from "../support/browser";
import { type GitHubServer, startGitHubServer } from "../support/github-server";

const INSTALLATION = 6262;

async function until<T>(what: string, fn: () => T | undefined | null | false, ms = 20_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

describe("project members page in a browser", () => {
  let t: TestApp;
  let gh: GitHubServer;
  let server: ReturnType<typeof Bun.serve>;
  let browser: Browser;
  let base: string;
  let owner: TestUser;
  let dev: TestUser;
  let projectId: string;
  let orgId: string;

  beforeAll(async () => {
    gh = startGitHubServer();
    t = await createTestApp("pglite");
    const res = await fetch(`${gh.apiUrl}/app-manifests/${gh.issueManifestCode()}/conversions`, { method: "POST" });
    const app = (await res.json()) as { id: number; pem: string };
    await t.ctx.settings.update(
      { "github.apiUrl": gh.apiUrl, "github.appId": String(app.id), "github.privateKey": app.pem },
      null,
    );
    gh.installations.set(INSTALLATION, { id: INSTALLATION, account: { login: "acme", id: 7, type: "Organization" } });
    gh.addRepo({ id: 77, owner: "acme", name: "vault", private: true, installationId: INSTALLATION });
    owner = await createUser(t, { name: "Olga Owner" });
    dev = await createUser(t, { name: "Dana Dev" });
    await t.ctx.db.update(users).set({ githubLogin: "dana-gh" }).where(eq(users.id, dev.id));
    orgId = await createOrgAs(owner, "Acme");
    const [p] = await t.ctx.db
      .insert(projects)
      .values({ orgId, title: "Vault", state: "ACTIVE", repoVisibility: "PRIVATE", repoProvider: "github" })
      .returning();
    projectId = p!.id;
    const now = new Date();
    await t.ctx.db.insert(githubInstallations).values({
      installationId: INSTALLATION,
      accountLogin: "acme",
      accountId: 7,
      accountType: "Organization",
      eventAt: now,
    });
    await t.ctx.db
      .insert(githubRepositories)
      .values({
        repoId: 77,
        installationId: INSTALLATION,
        fullName: "acme/vault",
        private: true,
        projectId,
        eventAt: now,
      });
    t.ctx.jobs.start();
    // the bell's event stream stays open: no idle timeout
    server = Bun.serve({ port: 0, hostname: "127.0.0.1", idleTimeout: 0, fetch: (req) => t.app.handle(req) });
    base = `http://127.0.0.1:${server.port}`;
    browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.stop(true);
    await t?.close();
    gh?.stop();
  });

  test("invite by GitHub login, accepted, shown with a pending repository invite; removal deletes the collaborator", async () => {
    const ctx = await browser.newContext();
    await ctx.addCookies([{ name: "ds_session", value: owner.session, url: base }]);
    const page = await ctx.newPage();
    page.on("dialog", (d) => void d.accept()); // removing asks first
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    // reachable from the project page
    await page.goto(`${base}/projects/${projectId}`);
    await page.getByRole("navigation", { name: "Project" }).getByRole("link", { name: "Members" }).click();
    await page.waitForURL(`${base}/projects/${projectId}/members`);
    expect(await page.textContent("body")).toContain("Nobody was invited to this project yet.");

    await page.getByLabel("or GitHub username").fill("@Dana-GH");
    await page.locator('form[action$="/invites"] select[name="role"]').selectOption("CONTRIBUTOR");
    await page.getByRole("button", { name: "Send invite" }).click();
    await page.waitForURL(/done=sent/);
    expect(await page.textContent("body")).toContain("Invite created.");
    const inviteRow = page.locator("tr", { hasText: "@dana-gh" });
    expect(await inviteRow.textContent()).toContain("pending");

    // the account linked to that login accepts (its own invites page lists it)
    const mine = (await (await dev.request("GET", "/api/invites")).json()) as { invites: { id: string }[] };
    expect(mine.invites).toHaveLength(1);
    expect((await dev.request("POST", `/invites/${mine.invites[0]!.id}/accept`)).status).toBe(303);
    const put = await until("the collaborator invite", () => gh.callsTo("PUT /repos/acme/vault/collaborators/*")[0]);
    expect(put).toMatchObject({ path: "/repos/acme/vault/collaborators/dana-gh", body: { permission: "push" } });

    for (let i = 0; i < 100; i++) {
      await page.goto(`${base}/projects/${projectId}/members`);
      if ((await page.locator("tr", { hasText: "Dana Dev" }).textContent())?.includes("pending invite")) break;
      await Bun.sleep(100);
    }
    const row = page.locator("tr", { hasText: "Dana Dev" });
    expect(await row.textContent()).toContain("pending invite");
    expect(await row.textContent()).toContain("@dana-gh");

    await row.getByRole("button", { name: "Remove" }).click();
    await page.waitForURL(/done=removed/);
    expect(await page.textContent("body")).toContain("Member removed");
    expect(await page.locator("tr", { hasText: "Dana Dev" }).count()).toBe(0);
    const del = await until(
      "the collaborator removal",
      () => gh.callsTo("DELETE /repos/acme/vault/collaborators/*")[0],
    );
    expect(del).toMatchObject({
      path: "/repos/acme/vault/collaborators/dana-gh",
      auth: `installation:${INSTALLATION}`,
    });
    // the invitation still open on GitHub is withdrawn too
    expect(gh.callsTo("DELETE /repos/acme/vault/invitations/*")).toHaveLength(1);
    expect((await dev.request("GET", `/api/projects/${projectId}`)).status).toBe(404);
    expect(errors).toEqual([]);
    await ctx.close();
  }, 120_000);
});
