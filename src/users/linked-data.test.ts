// The GDPR hooks of the linking tables (./linked-data.ts) on a real database: the export lists the user's project
// memberships, the repository access given for them, uploaded documents and webhook endpoints; the erasure deletes
// memberships, App manifest states and finished access records, keeps open access records for the access sync (it
// needs the login), and forgets who uploaded a document or made an endpoint while the document and endpoint stay.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createOrgAs, createUser, type TestUser } from "../../test/support/auth";
import { documents } from "../documents/schema";
import { githubManifestStates } from "../github/schema";
import { projectMembers, projectRepoAccess } from "../projects/members-schema";
import { webhookEndpoints } from "../webhooks/schema";
import { userDataHooks } from "./data-hooks";

describe("GDPR hooks of the linking tables", () => {
  let t: TestApp;
  let owner: TestUser;
  let member: TestUser;
  let bystander: TestUser;
  let orgId: string;
  let projectId: string;
  beforeAll(async () => {
    t = await createTestApp("pglite");
    owner = await createUser(t);
    member = await createUser(t);
    bystander = await createUser(t);
    orgId = await createOrgAs(owner, "Linked Co");
    const res = await owner.request("POST", `/api/orgs/${orgId}/projects`, { body: { title: "Linked" } });
    projectId = ((await res.json()) as { id: string }).id;
    const db = t.ctx.db;
    for (const u of [member, bystander]) {
      await db.insert(projectMembers).values({ projectId, userId: u.id, role: "CONTRIBUTOR", addedById: owner.id });
      await db
        .insert(projectRepoAccess)
        .values({ projectId, userId: u.id, repoId: 77, login: `${u.id}-old`, state: "REMOVED" });
      await db.insert(documents).values({
        projectId,
        filename: `spec-${u.id}.md`,
        type: "MARKDOWN",
        sizeBytes: 10,
        sha256: "0".repeat(64),
        uploadedById: u.id,
      });
      await db.insert(webhookEndpoints).values({
        id: crypto.randomUUID(),
        orgId,
        name: `hook of ${u.id}`,
        urlSealed: "sealed",
        format: "generic",
        secretSealed: "sealed",
        createdById: u.id,
      });
      await db.insert(githubManifestStates).values({ state: `st-${u.id}`, userId: u.id, expiresAt: new Date() });
    }
    // the member's membership access is still open (the collaborator is not removed yet)
    await db.insert(projectRepoAccess).values({
      projectId,
      userId: member.id,
      repoId: 78,
      login: "member-login",
      state: "ACTIVE",
    });
  }, 60_000);
  afterAll(() => t.close());

  const hook = (name: string) => {
    const h = userDataHooks().find((x) => x.name === name);
    if (!h) throw new Error(`no data hook ${name}`);
    return h;
  };

  test("the export lists the user's rows of each linking table, and no one else's", async () => {
    const db = t.ctx.db;
    expect(await hook("projectMemberships").export(db, member.id)).toEqual([
      { projectId, role: "CONTRIBUTOR", createdAt: expect.any(Date) },
    ]);
    const access = (await hook("repositoryAccess").export(db, member.id)) as { forProjects: { login: string }[] };
    expect(access.forProjects.map((a) => a.login).sort()).toEqual([`${member.id}-old`, "member-login"].sort());
    const docs = (await hook("documentsUploaded").export(db, member.id)) as { filename: string }[];
    expect(docs.map((d) => d.filename)).toEqual([`spec-${member.id}.md`]);
    const hooks = (await hook("webhookEndpointsCreated").export(db, member.id)) as { name: string }[];
    expect(hooks.map((h) => h.name)).toEqual([`hook of ${member.id}`]);
  });

  test("the erasure deletes memberships and finished access, keeps open access, forgets uploader and creator", async () => {
    const db = t.ctx.db;
    await db.transaction(async (tx) => {
      for (const name of ["projectMemberships", "repositoryAccess", "documentsUploaded", "webhookEndpointsCreated"])
        await hook(name).erase(tx, member.id);
    });
    expect(await db.select().from(projectMembers).where(eq(projectMembers.userId, member.id))).toEqual([]);
    const access = await db.select().from(projectRepoAccess).where(eq(projectRepoAccess.userId, member.id));
    expect(access.map((a) => `${a.login} ${a.state}`)).toEqual(["member-login ACTIVE"]);
    expect(await db.select().from(githubManifestStates).where(eq(githubManifestStates.userId, member.id))).toEqual([]);
    const [doc] = await db
      .select()
      .from(documents)
      .where(eq(documents.filename, `spec-${member.id}.md`));
    expect(doc!.uploadedById).toBeNull();
    const [endpoint] = await db
      .select()
      .from(webhookEndpoints)
      .where(eq(webhookEndpoints.name, `hook of ${member.id}`));
    expect(endpoint!.createdById).toBeNull();
    // the bystander's rows are untouched
    expect(await db.select().from(projectMembers).where(eq(projectMembers.userId, bystander.id))).toHaveLength(1);
    expect(await db.select().from(projectRepoAccess).where(eq(projectRepoAccess.userId, bystander.id))).toHaveLength(1);
    expect(await db.select().from(documents).where(eq(documents.uploadedById, bystander.id))).toHaveLength(1);
    expect(await db.select().from(webhookEndpoints).where(eq(webhookEndpoints.createdById, bystander.id))).toHaveLength(
      1,
    );
    expect(
      await db.select().from(githubManifestStates).where(eq(githubManifestStates.userId, bystander.id)),
    ).toHaveLength(1);
  });
});
