// Private repositories read on the host with the App's installation token, on each database: the real octokit
// client gets tokens from the local GitHub wire server, and a git smart-HTTP host answers a private repository
// only to Basic auth carrying a live token of the installation that holds it (as github.com does). The work link
// check, the pinning of acceptance tests, the harness fetch and its base comparison all go through; the token is
// in no file, URL or log. A claimer whose invitation is not accepted is told so (GITHUB_INVITE_PENDING); `push`
// deliveries re-verify the linked branch.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { type GitHost, git, startGitHost } from "../../test/support/git-host";
import { type GitHubServer, startGitHubServer } from "../../test/support/github-server";
import { AppError } from "../core/errors";
import { compareWithBase, fetchRepo } from "../harness/repo";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { resolveBaseCommit } from "../tasks/acceptance";
import { taskVerifications } from "../tasks/schema";
import { claimTask, linkWork } from "../tasks/service";
import { checkWork } from "../tasks/work-check";
import { users, wallets } from "../users/schema";
import { grantAccess } from "./access";
import { githubClient } from "./client";
import { projectGitToken } from "./api";
import { githubAccess, githubInstallations, githubRepositories } from "./schema";
import { processDelivery } from "./service";

const INSTALLATION = 4711;
const SECRET = "webhook secret";
const fixture = (name: string) =>
  JSON.parse(readFileSync(join(import.meta.dir, "..", "..", "test", "fixtures", "github", name), "utf8")) as Record<
    string,
    unknown
  >;
const OWNER = "octo-org";

const code = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e) => (e instanceof AppError ? e.code : String(e)),
  );

/** Every file under `dir` (a git mirror or checkout: config, refs, packs, logs) as text. */
function filesOf(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesOf(path));
    else out.push(readFileSync(path, "latin1"));
  }
  return out;
}

for (const kind of dbKinds()) {
  describe(`private GitHub repositories fetched with the App's installation token [${kind}]`, () => {
    let t: TestApp;
    let gh: GitHubServer;
    let host: GitHost;
    let contributor: TestUser;
    let projectId: string;
    let taskId: string;
    let head: string;
    let work: string;
    /** The Authorization header of every request the git host saw. */
    const seen: (string | null)[] = [];

    beforeAll(async () => {
      gh = startGitHubServer();
      host = startGitHost({
        authorize: (name, authorization) => {
          seen.push(authorization);
          return gh.gitAuthorized(name, authorization);
        },
      });
      head = await host.createRepo(`${OWNER}/widgets`, { "README.md": "widgets\n" });
      await host.createRepo(`${OWNER}/secret`, { "README.md": "not for contributors\n" });
      await host.createRepo(`${OWNER}/open`, { "README.md": "public\n" });
      t = await createTestApp(kind);
      // The App as GitHub's manifest conversion hands it out (its id and private key).
      const res = await fetch(`${gh.apiUrl}/app-manifests/${gh.issueManifestCode()}/conversions`, { method: "POST" });
      const app = (await res.json()) as { id: number; pem: string };
      await t.ctx.settings.update(
        {
          "security.allowedRepoHosts": ["127.0.0.1"],
          "github.baseUrl": host.origin,
          "github.apiUrl": gh.apiUrl,
          "github.appId": String(app.id),
          "github.privateKey": app.pem,
        },
        null,
      );
      gh.installations.set(INSTALLATION, {
        id: INSTALLATION,
        account: { login: OWNER, id: 1001, type: "Organization" },
      });
      gh.addRepo({ id: 1, owner: OWNER, name: "widgets", private: true, installationId: INSTALLATION });
      gh.addRepo({ id: 2, owner: OWNER, name: "secret", private: true, installationId: INSTALLATION });
      gh.addRepo({ id: 3, owner: OWNER, name: "open", private: false, installationId: INSTALLATION });

      contributor = await createUser(t);
      await t.ctx.db.insert(wallets).values({
        userId: contributor.id,
        address: "0x00000000000000000000000000000000000b0b07",
        chainId: "31337",
        isPayout: true,
        siweMessage: "m",
        signature: "0x",
      });
      const [org] = await t.ctx.db.insert(orgs).values({ name: "Private" }).returning();
      await t.ctx.db.insert(orgMembers).values({ orgId: org!.id, userId: contributor.id, role: "CONTRIBUTOR" });
      const [project] = await t.ctx.db
        .insert(projects)
        .values({
          orgId: org!.id,
          title: "Widgets",
          state: "ACTIVE",
          repoUrl: host.url(`${OWNER}/widgets`),
          repoVisibility: "PRIVATE",
        })
        .returning();
      projectId = project!.id;
      const [m] = await t.ctx.db.insert(milestones).values({ projectId, title: "M", position: 0 }).returning();
      const [task] = await t.ctx.db
        .insert(tasks)
        .values({ milestoneId: m!.id, projectId, title: "T", points: 3, position: 0, payoutAmount: "1000" })
        .returning();
      taskId = task!.id;
      // What the `installation` webhook stores: the installation and its repositories, widgets linked to the project.
      const now = new Date();
      await t.ctx.db.insert(githubInstallations).values({
        installationId: INSTALLATION,
        accountLogin: OWNER,
        accountId: 1001,
        accountType: "Organization",
        eventAt: now,
      });
      await t.ctx.db.insert(githubRepositories).values([
        {
          repoId: 1,
          installationId: INSTALLATION,
          fullName: `${OWNER}/widgets`,
          private: true,
          projectId,
          eventAt: now,
        },
        { repoId: 2, installationId: INSTALLATION, fullName: `${OWNER}/secret`, private: true, eventAt: now },
      ]);
      work = mkdtempSync(join(tmpdir(), "ds-private-"));
    }, 180_000);

    afterAll(async () => {
      await t?.close();
      await host?.stop();
      gh?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    test("a token only for the repository linked to the project, from the token cache", async () => {
      const token = await projectGitToken(t.ctx, projectId, host.url(`${OWNER}/widgets`));
      expect(token).toStartWith("ghs_");
      // The same repository however its URL is written.
      expect(await projectGitToken(t.ctx, projectId, `${host.origin}/Octo-Org/Widgets/`)).toBe(token!);
      // Another repository of the same installation, another host, another project: no token.
      expect(await projectGitToken(t.ctx, projectId, host.url(`${OWNER}/secret`))).toBeUndefined();
      expect(await projectGitToken(t.ctx, projectId, `http://localhost:1/${OWNER}/widgets.git`)).toBeUndefined();
      expect(await projectGitToken(t.ctx, crypto.randomUUID(), host.url(`${OWNER}/widgets`))).toBeUndefined();
      expect(gh.callsTo(`POST /app/installations/${INSTALLATION}/access_tokens`)).toHaveLength(1);
    });

    test("without the token the host refuses git: the fetch and the link check fail", async () => {
      const url = host.url(`${OWNER}/widgets`);
      expect(
        await code(fetchRepo({ repo: url, ref: "main", dest: join(work, "anon"), cacheDir: join(work, "anon-cache") })),
      ).toBe("REPO_FETCH_FAILED");
      expect(
        await code(checkWork({ projectRepoUrl: url, workRepoUrl: url, ref: "main", claimedAt: new Date(0) })),
      ).toBe("WORK_LINK_UNREACHABLE");
      expect(seen.at(-1)).toBeNull();
    });

    test("the claimer links a branch of the private repository: the check reads it with the token", async () => {
      const principal = { userId: contributor.id, name: contributor.name, isAdmin: false, via: "session" as const };
      await claimTask(t.ctx, principal, taskId);
      await Bun.sleep(1100); // commit times have one-second resolution: the work comes after the claim
      const commit = await host.push(
        `${OWNER}/widgets`,
        { "math.ts": "export const two = 2;\n" },
        { branch: "feature" },
      );
      seen.length = 0;
      const { link, verification } = await linkWork(t.ctx, principal, taskId, { branch: "feature" });
      expect(link).toMatchObject({ branch: "feature", commit, repoUrl: host.url(`${OWNER}/widgets`) });
      expect(verification.commit).toBe(commit);
      expect(seen.some((h) => h?.startsWith("Basic "))).toBe(true);
      // The App's access is not lent to another repository of its installation that a contributor names.
      expect(
        await code(linkWork(t.ctx, principal, taskId, { repoUrl: host.url(`${OWNER}/secret`), branch: "main" })),
      ).toBe("WORK_LINK_UNREACHABLE");
    });

    test("an invitation not accepted yet: linking is GITHUB_INVITE_PENDING with where to accept it; the page says so", async () => {
      await t.ctx.db.update(users).set({ githubLogin: "hacktocat" }).where(eq(users.id, contributor.id));
      expect(await grantAccess(t.ctx, taskId)).toBe("PENDING");
      const acceptUrl = `${host.origin}/${OWNER}/widgets/invitations`;
      // Work the claimer could not push yet: the refusal names the invitation, in the error envelope.
      const res = await contributor.request("POST", `/api/tasks/${taskId}/work`, { body: { branch: "not-pushed" } });
      expect(res.status).toBe(409);
      const { error } = (await res.json()) as { error: { code: string; message: string; details: object } };
      expect(error.code).toBe("GITHUB_INVITE_PENDING");
      expect(error.message).toContain(acceptUrl);
      expect(error.details).toMatchObject({ repo: `${OWNER}/widgets`, login: "hacktocat", acceptUrl });
      const github = (await (await contributor.request("GET", `/api/tasks/${taskId}/github`)).json()) as any;
      expect(github.invite).toMatchObject({ acceptUrl });
      const page = await (await contributor.request("GET", `/tasks/${taskId}`)).text();
      expect(page).toContain(`href="${acceptUrl}"`);
      expect(page).toContain("have not accepted yet");

      // Accepted (GitHub's `member` webhook): the branch's own refusal comes back and the notice is gone.
      await t.ctx.db.update(githubAccess).set({ state: "ACTIVE" }).where(eq(githubAccess.taskId, taskId));
      const after = await contributor.request("POST", `/api/tasks/${taskId}/work`, { body: { branch: "not-pushed" } });
      expect(after.status).toBe(422);
      expect(((await after.json()) as { error: { code: string } }).error.code).toBe("WORK_LINK_INVALID");
      expect(await (await contributor.request("GET", `/tasks/${taskId}`)).text()).not.toContain("have not accepted");
    });

    test("push webhooks: the linked branch's new head is verified once; other branches, deletions and other repositories are not", async () => {
      await t.ctx.settings.update({ "github.webhookSecret": SECRET }, null);
      let n = 0;
      /** Delivers `payload` as GitHub does (signed) and runs its processing job's handler; returns its outcome. */
      const push = async (over: Record<string, unknown>, id = `push-${kind}-${++n}`) => {
        const body = JSON.stringify({ ...fixture("push.with-installation.payload.json"), ...over });
        const res = await t.request("POST", "/webhooks/github", {
          body,
          headers: {
            "content-type": "application/json",
            "x-github-event": "push",
            "x-github-delivery": id,
            "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
          },
        });
        expect(res.status).toBeLessThan(300);
        return { id, outcome: await processDelivery(t.ctx, id) };
      };
      const verified = async () =>
        (await t.ctx.db.select().from(taskVerifications).where(eq(taskVerifications.taskId, taskId))).map(
          (v) => v.commit,
        );
      const widgets = { id: 1, name: "widgets", full_name: `${OWNER}/widgets`, private: true };
      const installation = { id: INSTALLATION };
      const before = (await verified()).length;

      const next = await host.push(
        `${OWNER}/widgets`,
        { "math.ts": "export const two = 1 + 1;\n" },
        { branch: "feature" },
      );
      const first = await push({
        ref: "refs/heads/feature",
        after: next,
        deleted: false,
        repository: widgets,
        installation,
      });
      expect(first.outcome).toBe(`push to feature at ${next.slice(0, 7)}: 1 task re-verified`);
      expect(await verified()).toHaveLength(before + 1);
      expect((await verified()).filter((c) => c === next)).toHaveLength(1);
      // The job run again, and GitHub's redelivery under a new id: the same commit is not verified twice.
      expect(await processDelivery(t.ctx, first.id)).toBe(first.outcome);
      await push({ ref: "refs/heads/feature", after: next, deleted: false, repository: widgets, installation });
      expect(await verified()).toHaveLength(before + 1);

      const other = await host.push(`${OWNER}/widgets`, { "x.ts": "1\n" }, { branch: "other" });
      expect((await push({ ref: "refs/heads/other", after: other, repository: widgets, installation })).outcome).toBe(
        `push to other at ${other.slice(0, 7)}: 0 tasks re-verified`,
      );
      const gone = "0".repeat(40);
      expect(
        (await push({ ref: "refs/heads/feature", after: gone, deleted: true, repository: widgets, installation }))
          .outcome,
      ).toBe("push to feature: branch deleted or no commit");
      const secret = { id: 2, name: "secret", full_name: `${OWNER}/secret`, private: true };
      expect((await push({ ref: "refs/heads/feature", after: next, repository: secret, installation })).outcome).toBe(
        "push to feature: the repository is not linked to a project",
      );
      expect(await verified()).toHaveLength(before + 1);

      // The claimer's work on a fork's branch: a push to the same branch name here is someone else's, not theirs.
      const branch = "fork-feature";
      const forked = await host.push(`${OWNER}/widgets`, { "fork.ts": "1\n" }, { branch });
      await git([
        "clone",
        "--bare",
        "-q",
        join(host.root, `${OWNER}/widgets.git`),
        join(host.root, "hacktocat/widgets.git"),
      ]);
      gh.addRepo({ id: 5, owner: "hacktocat", name: "widgets", private: false, installationId: 0 });
      const principal = { userId: contributor.id, name: contributor.name, isAdmin: false, via: "session" as const };
      await linkWork(t.ctx, principal, taskId, { repoUrl: host.url("hacktocat/widgets"), branch });
      expect(await verified()).toContain(forked);
      const theirs = await host.push(`${OWNER}/widgets`, { "fork.ts": "2\n" }, { branch });
      expect(
        (await push({ ref: `refs/heads/${branch}`, after: theirs, repository: widgets, installation })).outcome,
      ).toBe(`push to ${branch} at ${theirs.slice(0, 7)}: 0 tasks re-verified`);
      expect(await verified()).not.toContain(theirs);
    });

    test("acceptance tests are pinned to the private repository's head", async () => {
      expect(await resolveBaseCommit(t.ctx, { id: projectId, repoUrl: host.url(`${OWNER}/widgets`) })).toEqual({
        commit: head,
        ref: "refs/heads/main",
      });
    });

    test("the harness fetch: checked out with the token, which is in no file of the mirror or checkout, nor the log", async () => {
      const repo = host.url(`${OWNER}/widgets`);
      const token = (await projectGitToken(t.ctx, projectId, repo))!;
      const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
      const lines: string[] = [];
      const started = performance.now();
      const info = await fetchRepo({
        repo,
        ref: head,
        dest: join(work, "src"),
        cacheDir: join(work, "cache"),
        token,
        onLog: (l) => lines.push(l),
      });
      const privateMs = performance.now() - started;
      expect(info.commit).toBe(head);
      expect(readFileSync(join(work, "src", "README.md"), "utf8")).toBe("widgets\n");
      // The acceptance comparison fetches a base the mirror lacks, with the same token.
      const feature = await git(["rev-parse", "refs/heads/feature"], join(host.root, `${OWNER}/widgets.git`));
      const cmp = await compareWithBase({ repo, cacheDir: join(work, "cache"), base: "feature", head, token });
      expect(cmp.base).toBe(feature);
      expect(cmp.changes).toContainEqual({ status: "D", path: "math.ts" });
      expect(await code(compareWithBase({ repo, cacheDir: join(work, "cache"), base: "other", head }))).toBe(
        "REPO_FETCH_FAILED",
      );
      for (const text of [...filesOf(join(work, "cache")), ...filesOf(join(work, "src")), ...lines]) {
        expect(text.includes(token) || text.includes(basic)).toBe(false);
      }
      // A public repository anonymously, for comparison of the cost of the token.
      const before = performance.now();
      await fetchRepo({
        repo: host.url(`${OWNER}/open`),
        ref: "main",
        dest: join(work, "open"),
        cacheDir: join(work, "cache"),
      });
      console.log(
        `fetch: private with token ${privateMs.toFixed(0)} ms, public without ${(performance.now() - before).toFixed(0)} ms`,
      );
      expect(githubClient(t.ctx).tokenFetches).toBe(1);
    });
  });
}
