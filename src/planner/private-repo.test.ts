// The planner reads a private GitHub repository with the App's installation token: the real octokit client gets
// the token from the local GitHub wire server, and the git host answers only Basic auth carrying a live token of
// the installation that holds the repository (as github.com does). Without the App nothing is read, and the run's
// log never holds the token.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { dbKinds } from "../../test/support/db";
import { type GitHost, startGitHost } from "../../test/support/git-host";
import { type GitHubServer, startGitHubServer } from "../../test/support/github-server";
import { githubInstallations, githubRepositories } from "../github/schema";
import { orgs } from "../orgs/schema";
import { type Project, projects } from "../projects/schema";
import { gatherContext, type PlannerRun } from "./service";

const INSTALLATION = 8181;

for (const kind of dbKinds()) {
  describe(`planner on a private GitHub repository [${kind}]`, () => {
    let t: TestApp;
    let gh: GitHubServer;
    let host: GitHost;
    let project: Project;
    const seen: (string | null)[] = [];

    const run = () => {
      const lines: string[] = [];
      const r: PlannerRun = { id: null, progress: () => {}, log: (l) => lines.push(l) };
      return { r, lines };
    };

    beforeAll(async () => {
      gh = startGitHubServer();
      host = startGitHost({
        authorize: (name, authorization) => {
          seen.push(authorization);
          return gh.gitAuthorized(name, authorization);
        },
      });
      await host.createRepo("acme/ledger", { "README.md": "# Ledger\n\nPrivate ledger service.\n", "src/a.ts": "1\n" });
      t = await createTestApp(kind);
      await t.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"], "github.baseUrl": host.origin }, null);
      gh.installations.set(INSTALLATION, { id: INSTALLATION, account: { login: "acme", id: 5, type: "Organization" } });
      gh.addRepo({ id: 99, owner: "acme", name: "ledger", private: true, installationId: INSTALLATION });
      const [org] = await t.ctx.db.insert(orgs).values({ name: "Acme" }).returning();
      [project] = (await t.ctx.db
        .insert(projects)
        .values({ orgId: org!.id, title: "Ledger", repoUrl: host.url("acme/ledger"), repoVisibility: "PRIVATE" })
        .returning()) as [Project];
      const now = new Date();
      await t.ctx.db.insert(githubInstallations).values({
        installationId: INSTALLATION,
        accountLogin: "acme",
        accountId: 5,
        accountType: "Organization",
        eventAt: now,
      });
      await t.ctx.db.insert(githubRepositories).values({
        repoId: 99,
        installationId: INSTALLATION,
        fullName: "acme/ledger",
        private: true,
        projectId: project.id,
        eventAt: now,
      });
    }, 120_000);

    afterAll(async () => {
      await t?.close();
      await host?.stop();
      gh?.stop();
    });

    test("without the App the private repository is not read", async () => {
      const { r, lines } = run();
      const c = await gatherContext(t.ctx, project, r);
      expect(c.repo).toBeNull();
      expect(lines.join("\n")).toContain("repository not read");
      expect(seen.every((h) => h === null)).toBe(true);
    }, 60_000);

    test("with the App: cloned with the installation token, which is in no log line", async () => {
      const res = await fetch(`${gh.apiUrl}/app-manifests/${gh.issueManifestCode()}/conversions`, { method: "POST" });
      const app = (await res.json()) as { id: number; pem: string };
      await t.ctx.settings.update(
        { "github.apiUrl": gh.apiUrl, "github.appId": String(app.id), "github.privateKey": app.pem },
        null,
      );
      const { r, lines } = run();
      const c = await gatherContext(t.ctx, project, r);
      expect(c.repo?.readme).toContain("Private ledger service.");
      expect(c.repo?.files).toEqual(["README.md", "src/a.ts"]);
      expect(gh.callsTo(`POST /app/installations/${INSTALLATION}/access_tokens`)).toHaveLength(1);
      const basic = seen.filter((h) => h?.startsWith("Basic "));
      expect(basic.length).toBeGreaterThan(0);
      const token = Buffer.from(basic[0]!.slice(6), "base64").toString().split(":")[1]!;
      expect(token).toStartWith("ghs_");
      expect(lines.join("\n")).not.toContain(token);
    }, 60_000);
  });
}
