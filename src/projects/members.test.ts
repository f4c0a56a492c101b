// Project invites and members, on each database: an invite to one project (by GitHub login or e-mail) makes a
// member of that project only; the private repository's collaborator invite goes out through the real octokit
// client to a local server speaking GitHub's REST wire format (every call recorded); removing a member (from the
// project or from the org) gives their open claims back through the task state machine and removes the
// collaborator; the project's setting decides whether a paid claimer keeps the access.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createOrgAs, createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { type GitHubServer, startGitHubServer } from "../../test/support/github-server";
import { revokeAccess, syncAccess } from "../github/access";
import { githubAccess, githubDeliveries, githubInstallations, githubRepositories } from "../github/schema";
import { milestones, tasks } from "../milestones/schema";
import { jobs } from "../core/jobs/schema";
import { emailOutbox, notifications } from "../notifications/schema";
import { taskClaims } from "../tasks/schema";
import { markTaskPaid } from "../tasks/service";
import { users, wallets } from "../users/schema";
import { projectMembers, projectRepoAccess } from "./members-schema";
import { projects } from "./schema";

const INSTALLATION = 5151;
const OWNER = "acme";

async function until<T>(what: string, fn: () => Promise<T | undefined | null | false>, ms = 30_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

for (const kind of dbKinds()) {
  describe(`project invites and members [${kind}]`, () => {
    let t: TestApp;
    let gh: GitHubServer;
    let owner: TestUser;
    let dev: TestUser;
    let outsider: TestUser;
    let orgId: string;
    let projectId: string;
    let otherProjectId: string;
    const taskIds: string[] = [];

    const json = async (res: Response) => ({ status: res.status, body: (await res.json()) as any });
    const addWallet = (userId: string, n: number) =>
      t.ctx.db.insert(wallets).values({
        userId,
        address: `0x${n.toString(16).padStart(40, "0")}`,
        chainId: "31337",
        isPayout: true,
        siweMessage: "m",
        signature: "0x",
      });
    const status = async (taskId: string) =>
      (await t.ctx.db.select({ s: tasks.status }).from(tasks).where(eq(tasks.id, taskId)))[0]!.s;

    beforeAll(async () => {
      gh = startGitHubServer();
      t = await createTestApp(kind);
      const res = await fetch(`${gh.apiUrl}/app-manifests/${gh.issueManifestCode()}/conversions`, { method: "POST" });
      const app = (await res.json()) as { id: number; pem: string };
      await t.ctx.settings.update(
        { "github.apiUrl": gh.apiUrl, "github.appId": String(app.id), "github.privateKey": app.pem },
        null,
      );
      gh.installations.set(INSTALLATION, { id: INSTALLATION, account: { login: OWNER, id: 77, type: "Organization" } });
      gh.addRepo({ id: 41, owner: OWNER, name: "engine", private: true, installationId: INSTALLATION });

      owner = await createUser(t, { name: "Olga Owner" });
      dev = await createUser(t, { name: "Dev Eloper" });
      outsider = await createUser(t, { name: "Out Sider" });
      await t.ctx.db.update(users).set({ githubLogin: "DevHub" }).where(eq(users.id, dev.id));
      await addWallet(dev.id, 0xd1);
      orgId = await createOrgAs(owner, "Acme");
      const [p] = await t.ctx.db
        .insert(projects)
        .values({ orgId, title: "Engine", state: "ACTIVE", repoVisibility: "PRIVATE", repoProvider: "github" })
        .returning();
      projectId = p!.id;
      const [other] = await t.ctx.db
        .insert(projects)
        .values({ orgId, title: "Secret sibling", state: "ACTIVE", repoVisibility: "PRIVATE" })
        .returning();
      otherProjectId = other!.id;
      const [m] = await t.ctx.db.insert(milestones).values({ projectId, title: "M", position: 0 }).returning();
      for (let i = 0; i < 3; i++) {
        const [task] = await t.ctx.db
          .insert(tasks)
          .values({ milestoneId: m!.id, projectId, title: `T${i}`, points: 1, position: i, payoutAmount: "10" })
          .returning();
        taskIds.push(task!.id);
      }
      const now = new Date();
      await t.ctx.db.insert(githubInstallations).values({
        installationId: INSTALLATION,
        accountLogin: OWNER,
        accountId: 77,
        accountType: "Organization",
        eventAt: now,
      });
      await t.ctx.db.insert(githubRepositories).values({
        repoId: 41,
        installationId: INSTALLATION,
        fullName: `${OWNER}/engine`,
        private: true,
        projectId,
        eventAt: now,
      });
      t.ctx.jobs.start();
    }, 120_000);

    afterAll(async () => {
      await t?.close();
      gh?.stop();
    }, 60_000);

    test("a private project is hidden from someone not invited", async () => {
      expect((await dev.request("GET", `/api/projects/${projectId}`)).status).toBe(404);
      expect((await dev.request("POST", `/api/tasks/${taskIds[0]}/claim`)).status).toBe(404);
    }, 60_000);

    test("invite by GitHub login: accepted by the account linked to it, member of that project only", async () => {
      const created = await json(
        await owner.request("POST", `/api/projects/${projectId}/invite`, {
          body: { githubUsername: "@devhub", role: "contributor", message: "Welcome" },
        }),
      );
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject({
        projectId,
        githubUsername: "devhub",
        role: "CONTRIBUTOR",
        status: "PENDING",
      });
      // owners belong to the org: a project invite cannot make one
      const refused = await json(
        await owner.request("POST", `/api/projects/${projectId}/invite`, {
          body: { githubUsername: "x", role: "OWNER" },
        }),
      );
      expect(refused.status).toBe(400);
      expect(refused.body.error.code).toBe("INVALID_INPUT");
      // the invite shows up for the account with that GitHub login, not for someone else
      const mine = await json(await dev.request("GET", "/api/invites"));
      expect(mine.body.invites).toEqual([
        expect.objectContaining({ id: created.body.id, projectId, projectTitle: "Engine", orgName: "Acme" }),
      ]);
      expect((await json(await outsider.request("GET", "/api/invites"))).body.invites).toEqual([]);
      expect((await outsider.request("POST", `/invites/${created.body.id}/accept`)).status).toBe(404);

      const accepted = await json(
        await dev.request("POST", `/api/orgs/${orgId}/invite/${created.body.id}/accept`, { body: {} }),
      );
      expect(accepted.status).toBe(200);
      expect(accepted.body).toMatchObject({ projectId, role: "CONTRIBUTOR", alreadyMember: false });

      // This project only: not the org, not its other private project.
      expect((await dev.request("GET", `/api/projects/${projectId}`)).status).toBe(200);
      expect((await dev.request("GET", `/api/orgs/${orgId}`)).status).toBe(404);
      expect((await dev.request("GET", `/api/projects/${otherProjectId}`)).status).toBe(404);
      const listed = (await json(await dev.request("GET", "/api/projects"))).body.projects.map((p: any) => p.id);
      expect(listed).toContain(projectId);
      expect(listed).not.toContain(otherProjectId);
      // a contributor does not manage members
      expect((await dev.request("GET", `/api/projects/${projectId}/members`)).status).toBe(403);
      expect((await outsider.request("GET", `/api/projects/${projectId}/members`)).status).toBe(404);
    }, 60_000);

    test("accepting sends the collaborator invite with the role's permission; accepted on GitHub, the repair cron makes it active", async () => {
      const put = await until(
        "the collaborator invite",
        async () => gh.callsTo("PUT /repos/acme/engine/collaborators/*")[0],
      );
      expect(put.path).toBe("/repos/acme/engine/collaborators/DevHub");
      expect(put.body).toEqual({ permission: "push" });
      expect(put.auth).toBe(`installation:${INSTALLATION}`);
      const members = async () =>
        (await json(await owner.request("GET", `/api/projects/${projectId}/members`))).body.members;
      await until("the pending access", async () => (await members())[0]?.repoAccess === "PENDING_INVITE");
      expect(await members()).toEqual([
        expect.objectContaining({
          userId: dev.id,
          role: "CONTRIBUTOR",
          githubLogin: "DevHub",
          repoAccess: "PENDING_INVITE",
        }),
      ]);
      // accepted on GitHub; the repair cron sees it (GitHub answers 204 for a collaborator)
      gh.repos.get(`${OWNER}/engine`)!.collaborators.add("devhub");
      expect((await syncAccess(t.ctx)).accepted).toBeGreaterThanOrEqual(1);
      expect((await members())[0].repoAccess).toBe("COLLABORATOR");
      // a new role re-applies the permission
      const changed = await owner.request("PATCH", `/api/projects/${projectId}/members/${dev.id}`, {
        body: { role: "maintainer" },
      });
      expect(changed.status).toBe(200);
      await until("the maintain permission", async () =>
        gh.callsTo("PUT /repos/acme/engine/collaborators/*").find((c) => c.body?.permission === "maintain"),
      );
      await t.ctx.db
        .update(projectMembers)
        .set({ role: "CONTRIBUTOR" })
        .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, dev.id)));
    }, 60_000);

    test("the project member claims; removal gives the claims back and removes the collaborator", async () => {
      expect((await dev.request("POST", `/api/tasks/${taskIds[0]}/claim`)).status).toBeLessThan(300);
      expect((await dev.request("POST", `/api/tasks/${taskIds[1]}/claim`)).status).toBeLessThan(300);
      expect(await status(taskIds[0]!)).toBe("CLAIMED");
      // the claim's access: the member is a collaborator already (204), so nothing is pending
      await until("the claim's access record", async () => {
        const rows = await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskIds[0]!));
        return rows[0]?.state === "ACTIVE";
      });
      // giving up one claim keeps the membership's access: no collaborator removal
      expect((await dev.request("POST", `/api/tasks/${taskIds[1]}/unclaim`)).status).toBeLessThan(300);
      await until("the unclaimed task's access to end", async () => {
        const rows = await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskIds[1]!));
        return rows.every((r) => r.state === "REMOVED");
      });
      expect(gh.callsTo("DELETE /repos/acme/engine/collaborators/*")).toHaveLength(0);

      const removed = await json(await owner.request("DELETE", `/api/projects/${projectId}/members/${dev.id}`));
      expect(removed.status).toBe(200);
      expect(removed.body).toEqual({ released: 1 });
      expect(await status(taskIds[0]!)).toBe("OPEN");
      const [claim] = await t.ctx.db.select().from(taskClaims).where(eq(taskClaims.taskId, taskIds[0]!));
      expect(claim).toMatchObject({ state: "RELEASED", endReason: "the claimer was removed from the project" });
      const del = await until("the collaborator removal", async () =>
        gh.callsTo("DELETE /repos/acme/engine/collaborators/*").at(0),
      );
      expect(del).toMatchObject({
        path: "/repos/acme/engine/collaborators/DevHub",
        auth: `installation:${INSTALLATION}`,
      });
      expect(gh.repos.get(`${OWNER}/engine`)!.collaborators.has("devhub")).toBe(false);
      await until("the member access record to end", async () => {
        const rows = await t.ctx.db.select().from(projectRepoAccess).where(eq(projectRepoAccess.userId, dev.id));
        return rows.length > 0 && rows.every((r) => r.state === "REMOVED");
      });
      expect((await dev.request("GET", `/api/projects/${projectId}`)).status).toBe(404);
      expect((await owner.request("DELETE", `/api/projects/${projectId}/members/${dev.id}`)).status).toBe(404);
    }, 60_000);

    test("access after payment: removed by default, kept when the project says so", async () => {
      const principal = { userId: dev.id, name: dev.name, isAdmin: false, via: "session" as const };
      const pay = async (taskId: string) => {
        await t.ctx.db.update(tasks).set({ status: "PAYING" }).where(eq(tasks.id, taskId));
        await t.ctx.db.transaction((tx) => markTaskPaid(tx, taskId, {}));
      };
      const { claimTask } = await import("../tasks/service");
      // the previous removal's jobs finish first: a late collaborator removal would undo the setup below
      await until("the queue to settle", async () =>
        (await t.ctx.db.select({ name: jobs.name, state: jobs.state }).from(jobs)).every(
          (j) => !j.name.startsWith("github.") || j.state === "completed" || j.state === "dead",
        ),
      );
      await t.ctx.db.insert(projectMembers).values({ projectId, userId: dev.id, role: "CONTRIBUTOR" });
      gh.repos.get(`${OWNER}/engine`)!.collaborators.add("devhub");
      await claimTask(t.ctx, principal, taskIds[1]!);
      await t.ctx.db.delete(projectMembers).where(eq(projectMembers.userId, dev.id));
      await until("the claim's access", async () =>
        (await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskIds[1]!))).some(
          (r) => r.state === "ACTIVE",
        ),
      );
      // KEEP: the paid claimer stays a collaborator, the record says so
      const saved = await owner.request("PATCH", `/api/projects/${projectId}`, {
        body: { repoAccessAfterPayment: "KEEP" },
      });
      expect(saved.status).toBe(200);
      expect(((await saved.json()) as any).repoAccessAfterPayment).toBe("KEEP");
      const deletesBefore = gh.callsTo("DELETE /repos/acme/engine/collaborators/*").length;
      await pay(taskIds[1]!);
      expect(await revokeAccess(t.ctx, taskIds[1]!)).toBe(0);
      const [kept] = await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskIds[1]!)).limit(1);
      expect(
        (await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskIds[1]!))).map((r) => r.state),
      ).toContain("KEPT");
      expect(kept).toBeDefined();
      await syncAccess(t.ctx); // the cron keeps it too
      expect(gh.callsTo("DELETE /repos/acme/engine/collaborators/*")).toHaveLength(deletesBefore);
      expect(gh.repos.get(`${OWNER}/engine`)!.collaborators.has("devhub")).toBe(true);
      // back to REMOVE: the cron takes the kept access away
      await owner.request("PATCH", `/api/projects/${projectId}`, { body: { repoAccessAfterPayment: "REMOVE" } });
      await syncAccess(t.ctx);
      expect(gh.callsTo("DELETE /repos/acme/engine/collaborators/*")).toHaveLength(deletesBefore + 1);
      expect(
        (await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskIds[1]!))).every(
          (r) => r.state === "REMOVED",
        ),
      ).toBe(true);
      const bad = await owner.request("PATCH", `/api/projects/${projectId}`, {
        body: { repoAccessAfterPayment: "SOMETIMES" },
      });
      expect(bad.status).toBe(400);
    }, 60_000);

    test("removal from the org ends the member's claims and access in every project of it", async () => {
      // dev joins the org as a contributor (an org invite) and claims a task of the private project
      const inv = await json(
        await owner.request("POST", `/api/orgs/${orgId}/invite`, {
          body: { githubUsername: "devhub", role: "CONTRIBUTOR" },
        }),
      );
      expect(inv.status).toBe(201);
      expect((await dev.request("POST", `/api/orgs/${orgId}/invite/${inv.body.id}/accept`, { body: {} })).status).toBe(
        200,
      );
      gh.repos.get(`${OWNER}/engine`)!.collaborators.delete("devhub");
      expect((await dev.request("POST", `/api/tasks/${taskIds[2]}/claim`)).status).toBeLessThan(300);
      await until("the invitation", async () =>
        (await t.ctx.db.select().from(githubAccess).where(eq(githubAccess.taskId, taskIds[2]!))).some(
          (r) => r.state === "PENDING",
        ),
      );
      // the claimer is told where to accept the invitation (repo.access_granted → the notification subscriber)
      const told = await until("the access notification", async () =>
        (await t.ctx.db.select().from(notifications).where(eq(notifications.userId, dev.id))).find(
          (n) => n.type === "REPO_ACCESS_GRANTED" && (n.metadata as { taskId?: string }).taskId === taskIds[2],
        ),
      );
      expect(told.body).toContain(`/${OWNER}/engine/invitations`);
      const deletes = gh.callsTo("DELETE /repos/acme/engine/collaborators/*").length;
      expect((await owner.request("DELETE", `/api/orgs/${orgId}/members/${dev.id}`)).status).toBe(204);
      expect(await status(taskIds[2]!)).toBe("OPEN");
      await until(
        "the collaborator removal",
        async () => gh.callsTo("DELETE /repos/acme/engine/collaborators/*").length > deletes,
      );
      await until(
        "the invitation withdrawn",
        async () => gh.callsTo("DELETE /repos/acme/engine/invitations/*").length > 0,
      );
      expect((await dev.request("GET", `/api/projects/${projectId}`)).status).toBe(404);
    }, 60_000);

    test("an e-mail invite goes through the outbox; without a mail server its link is returned to pass on", async () => {
      const created = await json(
        await owner.request("POST", `/api/projects/${projectId}/invite`, {
          body: { email: outsider.email, role: "SPONSOR" },
        }),
      );
      expect(created.status).toBe(201);
      expect(created.body.link).toMatch(/\/invites\/accept\?token=/);
      const mails = await t.ctx.db.select().from(emailOutbox);
      expect(mails.some((m) => m.subject.includes("the project Engine of Acme"))).toBe(true);
      const again = await json(
        await owner.request("POST", `/api/projects/${projectId}/invite`, {
          body: { email: outsider.email, role: "SPONSOR" },
        }),
      );
      expect(again.body.error.code).toBe("INVITE_PENDING");
      const invites = (await json(await owner.request("GET", `/api/projects/${projectId}/invites`))).body.invites;
      expect(invites.map((i: any) => i.id)).toContain(created.body.id);
      // the org's own invite list holds org invites only
      const orgInvites = (await json(await owner.request("GET", `/api/orgs/${orgId}/invites`))).body.invites;
      expect(orgInvites.map((i: any) => i.id)).not.toContain(created.body.id);
      // the link's holder accepts; a sponsor of the project sees it, does not claim
      const token = new URL(created.body.link).searchParams.get("token")!;
      const accepted = await json(
        await outsider.request("POST", `/api/orgs/${orgId}/invite/${created.body.id}/accept`, { body: { token } }),
      );
      expect(accepted.body).toMatchObject({ projectId, role: "SPONSOR" });
      expect((await outsider.request("GET", `/api/projects/${projectId}`)).status).toBe(200);
      expect((await outsider.request("GET", `/api/projects/${projectId}/members`)).status).toBe(403);
      // the members page lists them for the owner, with no repository access (no linked GitHub account)
      const page = await (await owner.request("GET", `/projects/${projectId}/members`)).text();
      expect(page).toContain("Out Sider");
      expect(page).toContain("Sponsor");
      const overview = await (await owner.request("GET", `/projects/${projectId}`)).text();
      expect(overview).toContain(`href="/projects/${projectId}/members"`);
    }, 60_000);

    test("GitHub's member webhook marks a member's pending invitation accepted", async () => {
      const SECRET = "members secret";
      await t.ctx.settings.update({ "github.webhookSecret": SECRET }, null);
      const [row] = await t.ctx.db
        .insert(projectRepoAccess)
        .values({ projectId, userId: outsider.id, repoId: 41, login: "Octo-New", state: "PENDING", invitationId: 5 })
        .returning();
      const fixture = JSON.parse(
        readFileSync(
          join(
            import.meta.dir,
            "..",
            "..",
            "test",
            "fixtures",
            "github",
            "member.added.with-installation.payload.json",
          ),
          "utf8",
        ),
      );
      const body = JSON.stringify({
        ...fixture,
        member: { ...fixture.member, login: "octo-new" },
        repository: { ...fixture.repository, id: 41, full_name: `${OWNER}/engine` },
      });
      const id = `member-${kind}-${crypto.randomUUID()}`;
      const res = await t.request("POST", "/webhooks/github", {
        body,
        headers: {
          "content-type": "application/json",
          "x-github-event": "member",
          "x-github-delivery": id,
          "x-hub-signature-256": `sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`,
        },
      });
      expect(res.status).toBeLessThan(300);
      // processed by the app's github.delivery job (the workers run in this file)
      const done = await until("the delivery processed", async () =>
        (await t.ctx.db.select().from(githubDeliveries).where(eq(githubDeliveries.deliveryId, id))).find(
          (d) => d.processedAt,
        ),
      );
      expect(done.outcome).toContain("1 access record now ACTIVE");
      const [after] = await t.ctx.db.select().from(projectRepoAccess).where(eq(projectRepoAccess.id, row!.id));
      expect(after!.state).toBe("ACTIVE");
    }, 60_000);
  });
}
