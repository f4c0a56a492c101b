// Several appliance processes on one PostgreSQL (TEST_DATABASE_URL): a web-only node A takes the uploads and
// enqueues their ingestion, which waits until the worker-only node B runs it; a second web node C, which never
// ingested anything, finds the documents through its own vector store (synced from the database) within 5 s.
// Work linked to a task through A is verified by the harness in Docker on B (the tasks.verify job).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { createApiKey } from "../../src/auth/service";
import { type Database, openDatabase } from "../../src/core/db";
import { milestones, tasks } from "../../src/milestones/schema";
import { projects } from "../../src/projects/schema";
import { taskClaims, taskVerifications } from "../../src/tasks/schema";
import { createEmptyPostgres } from "../support/db";
import { ensureSandboxImages } from "../support/docker";
import { type GitHost, startGitHost } from "../support/git-host";
import { seedOrg } from "../support/projects";
import { type ServerProcess, startServerProcess } from "../support/server-process";

if (!process.env.TEST_DATABASE_URL) {
  throw new Error("several nodes need one PostgreSQL: set TEST_DATABASE_URL to run this test");
}

/** Polls `fn` until it returns a value, or fails after `ms`. */
async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

describe("several nodes on one PostgreSQL", () => {
  const dir = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "e2e-nodes-"));
  let dropDb: (() => Promise<void>) | undefined;
  let databaseUrl = "";
  let db: Database;
  const servers: Record<string, ServerProcess> = {};
  let auth: Record<string, string>;
  let projectId = "";
  let org: Awaited<ReturnType<typeof seedOrg>>;
  let host: GitHost;

  const start = async (name: string, role: "web" | "worker" | "all") => {
    servers[name] = await startServerProcess({
      dataDir: join(dir, name),
      args: ["--role", role],
      env: {
        DATABASE_URL: databaseUrl,
        DEVSPONSOR_MASTER_KEY: "66".repeat(32),
        DEVSPONSOR_AI_PROVIDER: "none",
        DEVSPONSOR_SECURITY_ALLOWED_REPO_HOSTS: "127.0.0.1", // the test's git host
        LOG_LEVEL: "warn",
      },
    });
    return servers[name]!;
  };
  const api = (node: ServerProcess, method: string, path: string, body?: BodyInit) =>
    fetch(`${node.base}${path}`, {
      method,
      body,
      headers: { ...auth, ...(typeof body === "string" ? { "content-type": "application/json" } : {}) },
    });
  const upload = async (node: ServerProcess, name: string, text: string) => {
    const form = new FormData();
    form.append("file", new File([text], name, { type: "text/plain" }));
    const res = await api(node, "POST", `/api/projects/${projectId}/documents`, form);
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; status: string };
  };
  const search = async (node: ServerProcess, q: string) => {
    const res = await api(node, "GET", `/api/projects/${projectId}/search?q=${encodeURIComponent(q)}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { passages: { documentId: string; text: string; chunkIndex: number }[] }).passages;
  };
  const ingestJobs = () =>
    db.exec<{ state: string }>("select state from jobs where name = 'documents.ingest' order by created_at");

  beforeAll(async () => {
    await ensureSandboxImages();
    host = startGitHost();
    const pg = await createEmptyPostgres();
    databaseUrl = pg.url;
    dropDb = pg.drop;
    const a = await start("a", "web"); // migrates the database
    db = await openDatabase({ url: databaseUrl, max: 2 });
    org = await seedOrg(db.db, "Nodes");
    const { key } = await createApiKey(db.db, org.OWNER.id, { name: "nodes test", scopes: ["read", "write"] });
    auth = { authorization: `Bearer ${key}` };
    const res = await api(a, "POST", `/api/orgs/${org.org.id}/projects`, JSON.stringify({ title: "Shared" }));
    expect(res.status).toBe(201);
    projectId = ((await res.json()) as { id: string }).id;
  }, 180_000);

  afterAll(async () => {
    for (const s of Object.values(servers)) await s.stop();
    await db?.close();
    await dropDb?.();
    await host?.stop();
  });

  test("a job enqueued on a web-only node waits for a worker; the worker-only node runs it", async () => {
    const a = servers.a!;
    const doc = await upload(a, "charter.md", "# Charter\n\nThe kestrel committee meets every Tuesday.");
    await Bun.sleep(2000); // a web-only node runs no jobs: the ingestion stays queued
    expect((await ingestJobs()).map((j) => j.state)).toEqual(["queued"]);
    expect(((await (await api(a, "GET", `/api/documents/${doc.id}`)).json()) as { status: string }).status).toBe(
      "PENDING",
    );

    const b = await start("b", "worker");
    const health = await fetch(`${b.base}/health`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { role: string }).role).toBe("worker");
    expect((await fetch(`${b.base}/api/projects`)).status).toBe(404); // no app on a worker node
    await until("the worker to ingest the upload", async () => {
      const d = (await (await api(a, "GET", `/api/documents/${doc.id}`)).json()) as { status: string };
      return d.status === "READY" ? d : undefined;
    });
    await until("the run to be recorded", async () =>
      (await ingestJobs()).every((j) => j.state === "completed") ? true : undefined,
    );
    // the web node's own search finds it: its vector store was synced from the database
    expect((await search(a, "kestrel committee"))[0]?.documentId).toBe(doc.id);
  }, 120_000);

  test("a document uploaded through node A is found through node C within 5 s, with the same answers", async () => {
    const a = servers.a!;
    const c = await start("c", "web"); // never ingests anything: its vector store is filled from the database
    const t0 = performance.now();
    const doc = await upload(a, "minutes.txt", "Minutes: the pelican budget was approved for the next quarter.");
    const found = await until(
      "node C to find the new document",
      async () => {
        const hits = await search(c, "pelican budget");
        return hits.some((h) => h.documentId === doc.id) ? hits : undefined;
      },
      5000,
    );
    const ms = performance.now() - t0;
    console.log(`upload through A → found through C: ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(5000);
    expect(found[0]!.text).toContain("pelican budget");
    // the earlier document, ingested before C started, is there too; both nodes answer alike
    for (const q of ["kestrel committee", "pelican budget approved", "quarter"]) {
      const fromA = (await search(a, q)).map((h) => [h.documentId, h.chunkIndex, h.text]);
      const fromC = (await search(c, q)).map((h) => [h.documentId, h.chunkIndex, h.text]);
      expect(fromA.length).toBeGreaterThan(0);
      expect(fromC).toEqual(fromA);
    }
    // a deletion through C is seen by A's next search
    expect((await api(c, "DELETE", `/api/documents/${doc.id}`)).status).toBe(204);
    expect(await search(a, "pelican budget")).toEqual([]);
  }, 120_000);

  test("work linked to a task through web-only A is verified by the harness in Docker on worker-only B", async () => {
    const a = servers.a!;
    const base = await host.createRepo("calc", {
      "package.json": '{ "name": "calc", "private": true }\n',
      "calc.ts": "export const mul = (_a: number, _b: number): number => {\n  throw new Error('todo');\n};\n",
      "calc.test.ts":
        'import { expect, test } from "bun:test";\nimport { mul } from "./calc";\ntest("multiplies", () => expect(mul(2, 3)).toBe(6));\n',
    });
    const fix = await host.push(
      "calc",
      { "calc.ts": "export const mul = (a: number, b: number): number => a * b;\n" },
      {
        branch: "fix",
        from: "main",
      },
    );
    const contributor = org.CONTRIBUTOR;
    const [project] = await db.db
      .insert(projects)
      .values({
        orgId: org.org.id,
        title: "Calc",
        repoUrl: host.url("calc"),
        repoProvider: "git",
        tokenDecimals: 18,
        structureApprovedAt: new Date(),
      })
      .returning();
    const [m] = await db.db
      .insert(milestones)
      .values({ projectId: project!.id, title: "M", points: 3, position: 0 })
      .returning();
    const named = "test > calc.test.ts > multiplies";
    const [task] = await db.db
      .insert(tasks)
      .values({
        milestoneId: m!.id,
        projectId: project!.id,
        title: "Multiplication",
        points: 3,
        position: 0,
        status: "CLAIMED",
        claimedById: contributor.id,
        verification: {
          minPassingTests: 1,
          testCommand: "bun test",
          rules: [],
          acceptanceTests: [named],
          testFiles: ["calc.test.ts"],
        },
        acceptancePin: { kind: "commit", commit: base, ref: "main", pinnedAt: new Date().toISOString() },
      })
      .returning();
    await db.db
      .insert(taskClaims)
      .values({ taskId: task!.id, userId: contributor.id, expiresAt: new Date(Date.now() + 86_400_000) });
    const { key } = await createApiKey(db.db, contributor.id, { name: "contributor", scopes: ["read", "write"] });
    const res = await fetch(`${a.base}/api/tasks/${task!.id}/work`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: JSON.stringify({ branch: "fix" }),
    });
    expect(res.status).toBe(201);
    const linked = (await res.json()) as { verification: { id: string; commit: string } };
    expect(linked.verification.commit).toBe(fix);
    const verdict = await until(
      "the harness verdict",
      async () => {
        const [v] = await db.db
          .select()
          .from(taskVerifications)
          .where(eq(taskVerifications.id, linked.verification.id));
        return v && !["QUEUED", "RUNNING"].includes(v.status) ? v : undefined;
      },
      240_000,
    );
    expect({ status: verdict.status, reason: verdict.reason }).toMatchObject({ status: "PASSED" });
    expect(verdict.named).toEqual([{ id: named, status: "passed" }]);
    // the sandbox ran on B: its data dir holds the harness work area, the web nodes' do not
    expect(existsSync(join(dir, "b", "harness"))).toBe(true);
    expect(existsSync(join(dir, "a", "harness"))).toBe(false);
    expect(existsSync(join(dir, "c", "harness"))).toBe(false);
  }, 300_000);

  test("a change committed by a node killed before any delivery is delivered by the next worker: no event lost", async () => {
    const a = servers.a!;
    const b = servers.b!;
    await b.stop(); // no worker runs: nothing can deliver the event before the kill
    const res = await api(
      a,
      "POST",
      `/api/orgs/${org.org.id}/invite`,
      JSON.stringify({ email: "late-reader@example.com", role: "CONTRIBUTOR" }),
    );
    expect(res.status).toBe(201);
    const invite = (await res.json()) as { id: string };
    const [event] = await db.exec<{ id: string; delivered_at: string | null }>(
      `select id, delivered_at from domain_events where name = 'invite.created' and payload->>'inviteId' = '${invite.id}'`,
    );
    expect(event?.delivered_at).toBeNull();
    await a.kill9(); // the process that made the change dies as in a power cut
    await b.restart();
    const delivered = await until(
      "the event's delivery",
      async () => {
        const [r] = await db.exec<{ delivered_at: string | null; delivered_to: string[]; attempts: number }>(
          `select delivered_at, delivered_to, attempts from domain_events where id = '${event!.id}'`,
        );
        return r?.delivered_at ? r : undefined;
      },
      60_000,
    );
    expect(delivered.delivered_to.length).toBeGreaterThan(0);
    await a.restart(); // for the other tests' clean stop
  }, 120_000);
});
