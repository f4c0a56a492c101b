// The GitHub App end to end, on each database (PGlite, and PostgreSQL when TEST_DATABASE_URL is set): the real
// octokit client against a local server speaking GitHub's REST wire format (test/support/github-server.ts), webhook
// payloads recorded from GitHub (test/fixtures/github/) signed with the secret the manifest conversion returned,
// a git host serving the private repository only to the App's installation tokens, the Docker harness and the
// embedded dev chain. App configured through the manifest callback → installation → project on a private
// repository → /claim in an issue → collaborator invite → member webhook → pull request → harness → check run →
// paid → comment → access removed; replays, reordered and forged deliveries change nothing; a renamed or
// transferred repository keeps its project.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import type { ChainRuntime } from "../../src/chain/service";
import { settings as settingsTable } from "../../src/core/settings/schema";
import { checkGitHubApp } from "../../src/doctor/github-app";
import { githubClient } from "../../src/github/client";
import {
  githubAccess,
  githubCheckRuns,
  githubDeliveries,
  githubPulls,
  githubRepositories,
} from "../../src/github/schema";
import { milestones, tasks } from "../../src/milestones/schema";
import { orgMembers, orgs } from "../../src/orgs/schema";
import { projects } from "../../src/projects/schema";
import { taskClaims, taskVerifications } from "../../src/tasks/schema";
import { users, wallets } from "../../src/users/schema";
import { createTestApp, type TestApp } from "../support/app";
import { createUser, type TestUser } from "../support/auth";
import { dbKinds } from "../support/db";
import { ensureSandboxImages } from "../support/docker";
import { type GitHost, git, startGitHost } from "../support/git-host";
import { type GitHubServer, startGitHubServer } from "../support/github-server";

const FIXTURES = join(import.meta.dir, "..", "fixtures", "github");
const fixture = (name: string) => JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as Record<string, any>;

const PAYEE = "0x00000000000000000000000000000000000b0b07";
const PUBLIC_URL = "https://devsponsor.example";
const INSTALLATION = 957387; // installation.created.payload.json's installation id
const REPO_ID = 186853002; // the recorded payloads' repository id (Codertocat/Hello-World)
const OWNER = "octo-org";
const NAME = "widgets";
// member.added.with-installation.payload.json's member: the contributor's linked GitHub account.
const LOGIN = "hacktocat";
const GITHUB_ID = 39652351;

const testFile = (second: string) =>
  `import { expect, test } from "bun:test";\ntest("adds", () => expect(1 + 1).toBe(2));\ntest("doubles", () => expect(2 * 2).toBe(${second}));\n`;

// Key generation and signing share two busy cores here: steps get a minute, the paid path more.
setDefaultTimeout(60_000);
beforeAll(() => ensureSandboxImages(), 900_000);

/** Attribute text back to the value (entities by number and the five named ones). */
const unescapeHtml = (s: string) =>
  s
    .replace(/&#(\d+);/g, (_m, n) => String.fromCharCode(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_m, n) => String.fromCharCode(Number.parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");

async function until<T>(fn: () => Promise<T | undefined | null | false>, what: string, ms = 60_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(100);
  }
}

for (const kind of dbKinds()) {
  describe(`the GitHub App end to end [${kind}]`, () => {
    let t: TestApp;
    let gh: GitHubServer;
    let host: GitHost;
    let rt: ChainRuntime;
    let admin: TestUser;
    let sponsor: TestUser;
    let contributor: TestUser;
    let projectId: string;
    let taskId: string;
    let deliveries = 0;
    const repoPath = `${OWNER}/${NAME}`;

    /** Sends a delivery the way GitHub does: raw JSON body, event and delivery headers, HMAC-SHA256 signature. */
    const deliver = async (event: string, payload: unknown, opts: { id?: string; secret?: string } = {}) => {
      const id = opts.id ?? `delivery-${kind}-${++deliveries}-${crypto.randomUUID()}`;
      const body = JSON.stringify(payload);
      const secret = opts.secret ?? gh.app!.webhookSecret;
      const res = await t.request("POST", "/webhooks/github", {
        body,
        headers: {
          "content-type": "application/json",
          "x-github-event": event,
          "x-github-delivery": id,
          "x-github-hook-id": "109948940",
          "user-agent": "GitHub-Hookshot/044aadd",
          "x-hub-signature-256": `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`,
        },
      });
      return { id, res };
    };
    /** Waits until a stored delivery is processed; returns what it did. */
    const processed = (id: string) =>
      until(async () => {
        const [d] = await t.ctx.db.select().from(githubDeliveries).where(eq(githubDeliveries.deliveryId, id));
        return d?.processedAt ? (d.outcome ?? "") : null;
      }, `delivery ${id}`);
    const repoRef = () => ({
      ...fixture("member.added.with-installation.payload.json").repository,
      id: REPO_ID,
      name: NAME,
      full_name: repoPath,
      private: true,
      owner: { login: OWNER, id: 1001, type: "Organization" },
    });
    const taskRow = async () => (await t.ctx.db.select().from(tasks).where(eq(tasks.id, taskId)))[0]!;

    beforeAll(async () => {
      gh = startGitHubServer();
      // The private repository answers git only with an installation token of the App (as github.com does): the
      // link check and the harness must fetch it with one.
      host = startGitHost({ authorize: (name, authorization) => gh.gitAuthorized(name, authorization) });
      await host.createRepo(repoPath, {
        "package.json": '{ "name": "widgets", "private": true }\n',
        "math.test.ts": testFile("4"),
      });
      t = await createTestApp(kind);
      await t.ctx.settings.update(
        {
          "security.allowedRepoHosts": ["127.0.0.1"],
          "instance.publicUrl": PUBLIC_URL,
          // The git host plays github.com (clone URLs), the fake API a GitHub Enterprise Server's /api/v3.
          "github.baseUrl": host.origin,
          "github.apiUrl": gh.apiUrl,
        },
        null,
      );
      admin = await createUser(t, { admin: true });
      sponsor = await createUser(t);
      contributor = await createUser(t);
      await t.ctx.db
        .update(users)
        .set({ githubId: String(GITHUB_ID), githubLogin: LOGIN })
        .where(eq(users.id, contributor.id));
      await t.ctx.db.insert(wallets).values({
        userId: contributor.id,
        address: PAYEE,
        chainId: "31337",
        isPayout: true,
        siweMessage: "test",
        signature: "0x",
      });
      const [org] = await t.ctx.db
        .insert(orgs)
        .values({ name: `GitHub ${kind}` })
        .returning();
      await t.ctx.db.insert(orgMembers).values([
        { orgId: org!.id, userId: sponsor.id, role: "OWNER" },
        { orgId: org!.id, userId: contributor.id, role: "CONTRIBUTOR" },
      ]);
      const [project] = await t.ctx.db
        .insert(projects)
        .values({
          orgId: org!.id,
          title: "Widgets",
          repoUrl: host.url(repoPath),
          repoProvider: "git",
          tokenDecimals: 18,
          structureApprovedAt: new Date(),
        })
        .returning();
      projectId = project!.id;
      const [m] = await t.ctx.db
        .insert(milestones)
        .values({ projectId, title: "M", points: 5, position: 0 })
        .returning();
      const [task] = await t.ctx.db
        .insert(tasks)
        .values({
          milestoneId: m!.id,
          projectId,
          title: "Doubling",
          points: 5,
          position: 0,
          verification: { minPassingTests: 2, testCommand: "", rules: [] },
        })
        .returning();
      taskId = task!.id;
      rt = await t.ctx.openChain!();
      t.ctx.jobs.start();
    }, 300_000);

    afterAll(async () => {
      await t?.ctx.jobs.stop(5_000);
      await rt?.close();
      await t?.close();
      await host?.stop();
      gh?.stop();
    });

    test("the App is created through the manifest flow; the callback's state is one-time and the admin's", async () => {
      const page = await admin.request("POST", "/admin/github/manifest", {
        body: new URLSearchParams({ _csrf: admin.csrf, github_org: OWNER }),
      });
      expect(page.status).toBe(200);
      expect(page.headers.get("content-security-policy")).toContain(`form-action 'self' ${host.origin}`);
      const html = await page.text();
      const action = unescapeHtml(/action="([^"]*settings\/apps\/new[^"]*)"/.exec(html)![1]!);
      expect(action).toStartWith(`${host.origin}/organizations/${OWNER}/settings/apps/new?state=`);
      const state = new URL(action).searchParams.get("state")!;
      const manifest = JSON.parse(unescapeHtml(/name="manifest" value="([^"]+)"/.exec(html)![1]!));
      expect(manifest.hook_attributes.url).toBe(`${PUBLIC_URL}/webhooks/github`);
      expect(manifest.redirect_url).toBe(`${PUBLIC_URL}/admin/github/callback`);
      expect(manifest.default_permissions).toMatchObject({
        contents: "read",
        pull_requests: "write",
        checks: "write",
        issues: "write",
        administration: "write",
        members: "read",
      });
      expect(manifest.default_events).toEqual(
        expect.arrayContaining(["pull_request", "push", "repository", "member", "membership", "issue_comment"]),
      );

      // A state nobody issued, or the right state presented by another signed-in person, is refused.
      const forged = await admin.request("GET", `/admin/github/callback?code=${gh.issueManifestCode()}&state=forged`);
      expect(forged.status).toBe(403);
      const other = await createUser(t, { admin: true });
      const stolen = await other.request("GET", `/admin/github/callback?code=${gh.issueManifestCode()}&state=${state}`);
      expect(stolen.status).toBe(403);
      expect(t.ctx.settings.get("github.appId")).toBe("");

      const done = await admin.request("GET", `/admin/github/callback?code=${gh.issueManifestCode()}&state=${state}`);
      expect(done.status).toBe(200);
      expect(await done.text()).toContain(`${host.origin}/apps/devsponsor-test/installations/new`);
      expect(gh.callsTo("POST /app-manifests/*/conversions").length).toBe(1);
      expect(t.ctx.settings.get("github.appId")).toBe("424242");
      expect(t.ctx.settings.get("github.webhookSecret")).toBe(gh.app!.webhookSecret);
      // Secrets are stored encrypted: the key's PEM is nowhere in the table.
      const rows = await t.ctx.db.select().from(settingsTable).where(eq(settingsTable.key, "github.privateKey"));
      expect(rows[0]!.secret).toBeTruthy();
      expect(JSON.stringify(rows)).not.toContain("PRIVATE KEY");
      const again = await admin.request("GET", `/admin/github/callback?code=${gh.issueManifestCode()}&state=${state}`);
      expect(again.status).toBe(403);
    });

    test("a forged signature is 401 in the error envelope and nothing is stored", async () => {
      const { id, res } = await deliver("ping", fixture("ping.with-app_id.payload.json"), { secret: "not-the-secret" });
      expect(res.status).toBe(401);
      expect(((await res.json()) as any).error.code).toBe("WEBHOOK_SIGNATURE_INVALID");
      const unsigned = await t.request("POST", "/webhooks/github", {
        body: "{}",
        headers: { "x-github-event": "ping", "x-github-delivery": "unsigned-1", "content-type": "application/json" },
      });
      expect(unsigned.status).toBe(401);
      const stored = await t.ctx.db.select().from(githubDeliveries);
      expect(stored.map((d) => d.deliveryId)).not.toContain(id);
      expect(stored.map((d) => d.deliveryId)).not.toContain("unsigned-1");
      const ping = await deliver("ping", {
        ...fixture("ping.with-app_id.payload.json"),
        hook: { ...fixture("ping.with-app_id.payload.json").hook, app_id: 424242 },
      });
      expect(ping.res.status).toBe(202);
      expect(await processed(ping.id)).toContain("pong");
    });

    test("the installation links the private repository to its project by id; a replay changes nothing", async () => {
      gh.installations.set(INSTALLATION, {
        id: INSTALLATION,
        account: { login: OWNER, id: 1001, type: "Organization" },
      });
      gh.addRepo({ id: REPO_ID, owner: OWNER, name: NAME, private: true, installationId: INSTALLATION });
      const payload = fixture("installation.created.payload.json");
      payload.installation.account = { ...payload.installation.account, login: OWNER, id: 1001, type: "Organization" };
      payload.repositories = [
        { ...payload.repositories[0], id: REPO_ID, name: NAME, full_name: repoPath, private: true },
      ];
      const first = await deliver("installation", payload);
      expect(first.res.status).toBe(202);
      expect(await processed(first.id)).toContain("1 linked");
      const [link] = await t.ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, REPO_ID));
      expect(link).toMatchObject({ projectId, private: true, installationId: INSTALLATION, fullName: repoPath });
      const [p] = await t.ctx.db.select().from(projects).where(eq(projects.id, projectId));
      expect(p!.repoVisibility).toBe("PRIVATE");

      const before = await t.ctx.db.select().from(githubDeliveries);
      const replay = await deliver("installation", payload, { id: first.id });
      expect(replay.res.status).toBe(200);
      expect(((await replay.res.json()) as any).duplicate).toBe(true);
      expect(await t.ctx.db.select().from(githubDeliveries)).toHaveLength(before.length);

      const doctor = await checkGitHubApp(t.ctx, async () => ({ status: "warn", detail: "unused" }));
      expect(doctor).toMatchObject({ status: "ok" });
      expect(doctor.detail).toContain("1 installation");
      expect(gh.callsTo("GET /app")[0]!.auth).toBe("app");
    });

    test("funded; /claim in an issue claims the task, answers, and invites the claimer to the private repository", async () => {
      expect(
        (
          await sponsor.request("POST", `/projects/${projectId}/fund/quote`, {
            body: new URLSearchParams({ _csrf: sponsor.csrf }),
          })
        ).status,
      ).toBe(303);
      const dep = await sponsor.request("POST", `/projects/${projectId}/fund/dev-deposit`, {
        body: new URLSearchParams({ _csrf: sponsor.csrf }),
      });
      expect(dep.headers.get("location")).toContain("funding=funded");

      // A maintainer links issue 7 to the task; an issue of another repository is refused.
      const foreign = await sponsor.request("POST", `/api/tasks/${taskId}/github/issue`, {
        body: { url: `${host.origin}/someone/else/issues/7` },
      });
      expect(foreign.status).toBe(400);
      const notReviewer = await contributor.request("POST", `/api/tasks/${taskId}/github/issue`, {
        body: { url: `${host.origin}/${repoPath}/issues/7` },
      });
      expect(notReviewer.status).toBe(403);
      const linked = await sponsor.request("POST", `/api/tasks/${taskId}/github/issue`, {
        body: { url: `${host.origin}/${repoPath}/issues/7` },
      });
      expect(linked.status).toBe(201);

      const comment = fixture("issue_comment.created.with-installation.payload.json");
      comment.repository = repoRef();
      comment.installation = { ...comment.installation, id: INSTALLATION };
      comment.issue = { ...comment.issue, number: 7, pull_request: undefined };
      comment.comment = {
        ...comment.comment,
        body: "Taking this one.\r\n/claim",
        user: { ...comment.comment.user, login: LOGIN, id: GITHUB_ID, type: "User" },
      };
      comment.sender = comment.comment.user;
      const d = await deliver("issue_comment", comment);
      expect(await processed(d.id)).toContain("/claim by hacktocat");
      expect((await taskRow()).status).toBe("CLAIMED");
      expect((await taskRow()).claimedById).toBe(contributor.id);
      const answer = gh.callsTo(`POST /repos/${repoPath}/issues/7/comments`);
      expect(answer).toHaveLength(1);
      expect(answer[0]!.auth).toBe(`installation:${INSTALLATION}`);
      expect(answer[0]!.body.body).toContain("claimed");

      const invite = await until(
        async () => gh.callsTo(`PUT /repos/${repoPath}/collaborators/${LOGIN}`)[0],
        "the invite",
      );
      expect(invite.auth).toBe(`installation:${INSTALLATION}`);
      expect(invite.body).toEqual({ permission: "push" });
      const state = await until(async () => {
        const r = await contributor.request("GET", `/api/tasks/${taskId}/github`);
        const j = (await r.json()) as any;
        return j.access ? j : null;
      }, "the access state");
      expect(state.access).toEqual({ state: "GITHUB_INVITE_PENDING", login: LOGIN });

      // Someone who took the claimer's login on GitHub (another user id) is not the claimer: answered, nothing changes.
      const stranger: Record<string, any> = {
        ...comment,
        comment: { ...comment.comment, body: "/unclaim", user: { login: LOGIN, id: 1, type: "User" } },
      };
      stranger.sender = stranger.comment.user;
      expect(await processed((await deliver("issue_comment", stranger)).id)).toContain("/unclaim by hacktocat");
      expect((await taskRow()).status).toBe("CLAIMED");
      expect(gh.callsTo(`POST /repos/${repoPath}/issues/7/comments`).at(-1)!.body.body).toContain("not linked");
    });

    test("the member webhook marks the invite accepted", async () => {
      const payload = fixture("member.added.with-installation.payload.json");
      payload.repository = repoRef();
      payload.installation = { ...payload.installation, id: INSTALLATION };
      expect(payload.member.login).toBe(LOGIN);
      gh.repos.get(repoPath)!.collaborators.add(LOGIN);
      expect(await processed((await deliver("member", payload)).id)).toContain("now ACTIVE");
      const [a] = await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskId));
      expect(a!.state).toBe("ACTIVE");
    });

    test("the claimer's pull request: a failing head fails its check; synchronize re-verifies; paid: a comment, and access is removed", async () => {
      const broken = await host.push(
        repoPath,
        { "math.test.ts": testFile("5"), "math.ts": "export const double = (x: number) => 2 * x;\n" },
        { branch: "feature" },
      );
      // GitHub keeps every pull request's head at refs/pull/N/head.
      const bare = join(host.root, `${repoPath}.git`);
      await git(["update-ref", "refs/pull/12/head", broken], bare);
      const opened = fixture("pull_request.opened.payload.json");
      opened.repository = repoRef();
      opened.installation = { ...opened.installation, id: INSTALLATION };
      opened.number = 12;
      opened.pull_request = {
        ...opened.pull_request,
        number: 12,
        html_url: `${host.origin}/${repoPath}/pull/12`,
        updated_at: new Date(Date.now() - 60_000).toISOString(),
        body: `Doubling, for ${PUBLIC_URL}/tasks/${taskId}`,
        user: { ...opened.pull_request.user, login: LOGIN, id: GITHUB_ID },
        head: { ...opened.pull_request.head, ref: "feature", sha: broken },
      };
      opened.sender = opened.pull_request.user;
      const d = await deliver("pull_request", opened);
      expect(await processed(d.id)).toContain(`verification 1 of ${broken.slice(0, 7)}`);
      const created = await until(async () => gh.callsTo(`POST /repos/${repoPath}/check-runs`)[0], "the check run");
      expect(created.body).toMatchObject({ name: "DevSponsor verification", head_sha: broken, status: "in_progress" });
      expect(created.body.details_url).toBe(`${PUBLIC_URL}/tasks/${taskId}`);
      const failed = await until(
        async () => gh.callsTo(`PATCH /repos/${repoPath}/check-runs/*`).find((c) => c.body.status === "completed"),
        "the failed check run",
        240_000,
      );
      expect(failed.body.conclusion).toBe("failure");
      expect(failed.body.output.summary).toContain("| test > math.test.ts > doubles | **failed** |");
      await until(async () => (await taskRow()).status === "CLAIMED", "the task back to CLAIMED");

      // The contributor pushes the fix: `synchronize` with the new head verifies it.
      const head = await host.push(repoPath, { "math.test.ts": testFile("4") }, { branch: "feature" });
      await git(["update-ref", "refs/pull/12/head", head], bare);
      const sync = structuredClone(opened);
      sync.action = "synchronize";
      sync.before = broken;
      sync.after = head;
      sync.pull_request.updated_at = new Date().toISOString();
      sync.pull_request.head.sha = head;
      expect(await processed((await deliver("pull_request", sync)).id)).toContain(
        `verification 1 of ${head.slice(0, 7)}`,
      );

      // The older `opened` delivered again under a new delivery id (GitHub's redelivery) is ignored.
      expect(await processed((await deliver("pull_request", opened)).id)).toContain("older than what is stored");
      const [pull] = await t.ctx.db
        .select()
        .from(githubPulls)
        .where(and(eq(githubPulls.repoId, REPO_ID), eq(githubPulls.number, 12)));
      expect(pull).toMatchObject({ headSha: head, taskId });
      expect(await t.ctx.db.select().from(taskVerifications).where(eq(taskVerifications.taskId, taskId))).toHaveLength(
        2,
      );

      // The verdict completes the new head's check run with the per-test summary.
      const completed = await until(
        async () =>
          gh
            .callsTo(`PATCH /repos/${repoPath}/check-runs/*`)
            .find((c) => c.body.status === "completed" && c.body.conclusion === "success"),
        "the completed check run",
        240_000,
      );
      expect(completed.body.output.summary).toContain("| test > math.test.ts > doubles | passed |");
      const run = await until(async () => {
        const [r] = await t.ctx.db
          .select()
          .from(githubCheckRuns)
          .where(and(eq(githubCheckRuns.taskId, taskId), eq(githubCheckRuns.headSha, head)));
        return r?.status === "completed" ? r : null;
      }, "the stored check run's completion");
      expect(run.headSha).toBe(head);
      expect(gh.callsTo(`POST /repos/${repoPath}/check-runs`).map((c) => c.body.head_sha)).toEqual([broken, head]);

      let last = "";
      await until(
        async () => {
          last = (await taskRow()).status;
          return last === "PAID";
        },
        "the payment",
        240_000,
      ).catch(async (err) => {
        const jobs = await t.ctx.jobs.list({ limit: 30 });
        const failed = jobs
          .filter((j) => j.lastError)
          .map((j) => `${j.name} ${j.state}: ${String(j.lastError).slice(0, 200)}`);
        throw new Error(`${(err as Error).message}; the task is ${last}; ${failed.join("; ")}`);
      });
      const paidComment = await until(
        async () =>
          gh.callsTo(`POST /repos/${repoPath}/issues/12/comments`).find((c) => String(c.body.body).startsWith("Paid")),
        "the paid comment",
      );
      expect(paidComment.body.body).toMatch(/Transaction: `0x[0-9a-f]{64}`/);
      const removed = await until(
        async () => gh.callsTo(`DELETE /repos/${repoPath}/collaborators/${LOGIN}`)[0],
        "access removal",
      );
      expect(removed.auth).toBe(`installation:${INSTALLATION}`);
      expect(gh.repos.get(repoPath)!.collaborators.has(LOGIN)).toBe(false);
      const [a] = await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskId));
      expect(a!.state).toBe("REMOVED");
      const [claim] = await t.ctx.db.select().from(taskClaims).where(eq(taskClaims.taskId, taskId));
      expect(claim!.state).toBe("PAID");
      // One installation token served every call so far: it is cached until shortly before it expires.
      expect(gh.tokensIssued).toBe(1);
      expect(githubClient(t.ctx).tokenFetches).toBe(1);
    }, 300_000);

    test("a renamed, then transferred repository keeps its project; an older rename delivered late is ignored", async () => {
      const renamed = fixture("repository.renamed.payload.json");
      renamed.repository = {
        ...renamed.repository,
        ...repoRef(),
        name: "gadgets",
        full_name: `${OWNER}/gadgets`,
        updated_at: "2030-01-01T00:00:00Z",
      };
      renamed.changes = { repository: { name: { from: NAME } } };
      renamed.installation = { ...renamed.installation, id: INSTALLATION };
      const transferred = fixture("repository.transferred.payload.json");
      transferred.repository = {
        ...transferred.repository,
        ...repoRef(),
        name: "gadgets",
        full_name: "new-owner/gadgets",
        owner: { login: "new-owner", id: 2002, type: "Organization" },
        updated_at: "2030-01-02T00:00:00Z",
      };
      // Delivered out of order: the transfer first, then the older rename.
      expect(await processed((await deliver("repository", transferred)).id)).toContain("project kept");
      expect(await processed((await deliver("repository", renamed)).id)).toContain("older than what is stored");
      const [link] = await t.ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, REPO_ID));
      expect(link).toMatchObject({ projectId, fullName: "new-owner/gadgets" });
      const [p] = await t.ctx.db.select().from(projects).where(eq(projects.id, projectId));
      expect(p!.repoUrl).toBe(`${host.origin}/new-owner/gadgets.git`);
      const publicized = fixture("repository.publicized.payload.json");
      publicized.repository = {
        ...publicized.repository,
        ...transferred.repository,
        private: false,
        updated_at: "2030-01-03T00:00:00Z",
      };
      expect(await processed((await deliver("repository", publicized)).id)).toContain("publicized");
      const [after] = await t.ctx.db.select().from(projects).where(eq(projects.id, projectId));
      expect(after!.repoVisibility).toBe("PUBLIC");
    });

    test("a suspended, then deleted installation: its repositories are no longer reached; late commands are ignored", async () => {
      const suspend = fixture("installation.suspend.payload.json");
      suspend.installation = { ...suspend.installation, id: INSTALLATION, updated_at: "2030-02-01T00:00:00Z" };
      expect(await processed((await deliver("installation", suspend)).id)).toContain("suspended");
      const deleted = fixture("installation.deleted.payload.json");
      deleted.installation = { ...deleted.installation, id: INSTALLATION, updated_at: "2030-02-02T00:00:00Z" };
      expect(await processed((await deliver("installation", deleted)).id)).toContain("deleted");
      const [link] = await t.ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, REPO_ID));
      expect(link!.removedAt).not.toBeNull();
      const before = gh.calls.length;
      const comment = fixture("issue_comment.created.with-installation.payload.json");
      comment.repository = { ...repoRef(), full_name: "new-owner/gadgets" };
      comment.comment = { ...comment.comment, body: "/status", user: { login: LOGIN, id: GITHUB_ID, type: "User" } };
      const late = await deliver("issue_comment", comment);
      expect(late.res.status).toBe(202);
      expect(await processed(late.id)).toContain("no longer reaches");
      expect(gh.calls.slice(before)).toEqual([]);
    });
  });
}
