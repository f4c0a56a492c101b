import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { JobQueue } from "../core/jobs";
import { vectorStore } from "../documents/service";
import { createTestApp, type TestApp } from "../../test/support/app";
import { dbKinds } from "../../test/support/db";
import { seedOrg, seedUser, sessionHeaders, startJobs, waitForJob } from "../../test/support/projects";

// The project, planner, milestones and documents API end to end through the app, as a table of scenarios
// (name, request, expected status and body) run in order against one org.
for (const kind of dbKinds()) {
  describe(`projects and milestones API [${kind}]`, () => {
    let t: TestApp;
    let jobs: JobQueue;
    const h: Record<string, Record<string, string>> = {};
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      t = await createTestApp(kind);
      jobs = await startJobs(t.ctx);
      await seedUser(t.ctx.db, { isAdmin: true });
      const org = await seedOrg(t.ctx.db);
      ids.org = org.org.id;
      for (const role of ["OWNER", "SPONSOR", "CONTRIBUTOR"] as const)
        h[role] = await sessionHeaders(t.ctx.db, org[role]);
      h.OUTSIDER = await sessionHeaders(t.ctx.db, await seedUser(t.ctx.db));
    }, 60_000);
    afterAll(async () => {
      await jobs.stop();
      await vectorStore(t.ctx).close();
      await t.close();
    });

    const call = async (as: string, method: string, path: string, body?: unknown) => {
      const res = await t.request(
        method,
        path.replace(/\{(\w+)\}/g, (_, k) => ids[k]!),
        { body, headers: as === "ANON" ? {} : h[as] },
      );
      const text = await res.text();
      return { status: res.status, json: text.startsWith("{") ? JSON.parse(text) : text };
    };

    type Scenario = [
      name: string,
      as: string,
      method: string,
      path: string,
      body: unknown,
      status: number,
      check?: (json: any) => void,
    ];
    const scenarios: Scenario[] = [
      ["create: not signed in", "ANON", "POST", "/api/orgs/{org}/projects", { title: "x" }, 401],
      ["create: a sponsor may not create", "SPONSOR", "POST", "/api/orgs/{org}/projects", { title: "x" }, 403],
      [
        "create: bad input names the field",
        "OWNER",
        "POST",
        "/api/orgs/{org}/projects",
        { title: "", repoType: "SECRET" },
        400,
        (j) => expect(Object.keys(j.error.details.fields).sort()).toEqual(["repoType", "title"]),
      ],
      [
        "create: owner",
        "OWNER",
        "POST",
        "/api/orgs/{org}/projects",
        {
          title: "Ledger",
          description: "- Record entries\n- Settle nightly\n- Export CSV reports",
          repoType: "PRIVATE",
          fundingMode: "ESCROW",
        },
        201,
        (j) => {
          expect(j).toMatchObject({ title: "Ledger", state: "DRAFT", repoType: "PRIVATE", totalPoints: 0 });
          ids.project = j.id;
        },
      ],
      ["get: contributor of the org", "CONTRIBUTOR", "GET", "/api/projects/{project}", undefined, 200],
      [
        "get: outsider sees nothing",
        "OUTSIDER",
        "GET",
        "/api/projects/{project}",
        undefined,
        404,
        (j) => expect(j.error.code).toBe("PROJECT_NOT_FOUND"),
      ],
      [
        "list: outsider's list leaves it out",
        "OUTSIDER",
        "GET",
        "/api/projects",
        undefined,
        200,
        (j) => expect(j.projects.map((p: any) => p.id)).not.toContain(ids.project),
      ],
      [
        "generate: contributor may not",
        "CONTRIBUTOR",
        "POST",
        "/api/projects/{project}/generate-milestones",
        undefined,
        403,
      ],
      [
        "generate: returns the run id at once",
        "SPONSOR",
        "POST",
        "/api/projects/{project}/generate-milestones",
        undefined,
        202,
        (j) => {
          expect(j.stream).toBe(`/api/runs/${j.runId}/stream`);
          ids.run = j.runId;
        },
      ],
    ];
    const after: Scenario[] = [
      [
        "milestones: the template draft is there",
        "CONTRIBUTOR",
        "GET",
        "/api/projects/{project}/milestones",
        undefined,
        200,
        (j) => {
          expect(j.milestones.length).toBeGreaterThan(2);
          const titles = j.milestones.flatMap((m: any) => m.tasks.map((s: any) => s.title));
          expect(titles).toContain("Settle nightly");
          ids.m0 = j.milestones[0].id;
          ids.m1 = j.milestones[1].id;
          ids.s0 = j.milestones[0].tasks[0].id;
        },
      ],
      [
        "drafts: version 1 is a template draft",
        "SPONSOR",
        "GET",
        "/api/projects/{project}/drafts",
        undefined,
        200,
        (j) => expect(j.drafts[0]).toMatchObject({ version: 1, source: "template" }),
      ],
      ["patch milestone: unknown field", "SPONSOR", "PATCH", "/api/milestones/{m0}", { cost: 1 }, 400],
      ["patch milestone: contributor", "CONTRIBUTOR", "PATCH", "/api/milestones/{m0}", { title: "x" }, 403],
      ["patch milestone: outsider", "OUTSIDER", "PATCH", "/api/milestones/{m0}", { title: "x" }, 404],
      [
        "patch milestone: sponsor",
        "SPONSOR",
        "PATCH",
        "/api/milestones/{m0}",
        { title: "Groundwork", order: 2 },
        200,
        (j) => expect(j).toMatchObject({ title: "Groundwork", position: 1 }),
      ],
      [
        "sub: list",
        "CONTRIBUTOR",
        "GET",
        "/api/milestones/{m0}/tasks",
        undefined,
        200,
        (j) => expect(j.tasks.length).toBeGreaterThan(0),
      ],
      ["sub: one", "CONTRIBUTOR", "GET", "/api/tasks/{s0}", undefined, 200, (j) => expect(j.milestone.id).toBe(ids.m0)],
      [
        "sub: edit points",
        "SPONSOR",
        "PATCH",
        "/api/tasks/{s0}",
        { points: 13, verification: { minPassingTests: 4 } },
        200,
        (j) => expect(j).toMatchObject({ points: 13, verification: { minPassingTests: 4 } }),
      ],
      [
        "sub: add",
        "SPONSOR",
        "POST",
        "/api/milestones/{m1}/tasks",
        { title: "Extra task", points: 2 },
        201,
        (j) => (ids.extra = j.id),
      ],
      ["sub: delete", "SPONSOR", "DELETE", "/api/tasks/{extra}", undefined, 204],
      [
        "points: draft sum",
        "CONTRIBUTOR",
        "GET",
        "/api/projects/{project}/points",
        undefined,
        200,
        (j) => (ids.points = String(j.draftPoints)),
      ],
      [
        "approve: contributor may not",
        "CONTRIBUTOR",
        "POST",
        "/api/projects/{project}/approve-structure",
        undefined,
        403,
      ],
      [
        "approve: sponsor",
        "SPONSOR",
        "POST",
        "/api/projects/{project}/approve-structure",
        undefined,
        200,
        (j) => expect(j.totalPoints).toBe(Number(ids.points)),
      ],
      ["frozen: no more edits", "SPONSOR", "PATCH", "/api/milestones/{m0}", { title: "late" }, 409],
      ["frozen: no regeneration", "SPONSOR", "POST", "/api/projects/{project}/generate-milestones", undefined, 409],
      [
        "project shows the total",
        "CONTRIBUTOR",
        "GET",
        "/api/projects/{project}",
        undefined,
        200,
        (j) => expect(j.totalPoints).toBe(Number(ids.points)),
      ],
      ["AI audit: owners only", "SPONSOR", "GET", "/api/projects/{project}/ai-calls", undefined, 403],
      [
        "AI audit: owner (template drafts make no model calls)",
        "OWNER",
        "GET",
        "/api/projects/{project}/ai-calls",
        undefined,
        200,
        (j) => expect(j.calls).toEqual([]),
      ],
    ];

    test("scenarios before the planner runs", async () => {
      for (const [name, as, method, path, body, status, check] of scenarios) {
        const r = await call(as, method, path, body);
        expect({ name, status: r.status }).toEqual({ name, status });
        check?.(r.json);
      }
    });

    test("the planner run completes and streams its progress", async () => {
      const job = await waitForJob(jobs, ids.run!);
      expect(job.state).toBe("completed");
      expect(job.result).toMatchObject({ source: "template", version: 1 });
      const res = await t.request("GET", `/api/runs/${ids.run}/stream`, { headers: h.SPONSOR });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain("event: progress");
      expect(text).toContain("template");
      expect((await t.request("GET", `/api/runs/${ids.run}`, { headers: h.OUTSIDER })).status).toBe(404);
    });

    test("scenarios after the planner ran", async () => {
      for (const [name, as, method, path, body, status, check] of after) {
        const r = await call(as, method, path, body);
        expect({ name, status: r.status }).toEqual({ name, status });
        check?.(r.json);
      }
    });

    test("pages: overview, milestones tab with the template label, documents tab, task page", async () => {
      for (const path of [
        `/projects/${ids.project}`,
        `/projects/${ids.project}/milestones`,
        `/projects/${ids.project}/documents`,
        `/tasks/${ids.s0}`,
        `/milestones/${ids.m0}`,
        `/orgs/${ids.org}/projects`,
      ]) {
        const res = await t.request("GET", path, { headers: { ...h.OWNER!, accept: "text/html" } });
        expect({ path, status: res.status }).toEqual({ path, status: 200 });
        const html = await res.text();
        expect(html.includes("Ledger")).toBe(true);
        if (path.endsWith("/milestones")) {
          expect(html.includes("Structure approved")).toBe(true);
          expect(html.includes("template draft (no model)")).toBe(true); // the version list keeps the label
        }
      }
      const res = await t.request("GET", `/projects/${ids.project}`, {
        headers: { ...h.OUTSIDER!, accept: "text/html" },
      });
      expect(res.status).toBe(404);
    });

    test("uploads over HTTP: multipart, type by content, listed with their status", async () => {
      const form = new FormData();
      form.set("file", new File(["# Notes\n\nEntries settle nightly."], "notes.txt"));
      const res = await t.request("POST", `/api/projects/${ids.project}/documents`, { body: form, headers: h.SPONSOR });
      expect(res.status).toBe(201);
      const doc = (await res.json()) as { id: string; type: string; status: string };
      expect(doc).toMatchObject({ type: "MARKDOWN", status: "PENDING" });
      const [run] = await jobs.list({ name: "documents.ingest", limit: 1 });
      await waitForJob(jobs, run!.id);
      const list = (await (
        await t.request("GET", `/api/projects/${ids.project}/documents`, { headers: h.CONTRIBUTOR })
      ).json()) as { documents: { status: string }[] };
      expect(list.documents.map((d) => d.status)).toEqual(["READY"]);
      const search = (await (
        await t.request("GET", `/api/projects/${ids.project}/search?q=settle`, { headers: h.CONTRIBUTOR })
      ).json()) as { passages: { filename: string }[] };
      expect(search.passages[0]!.filename).toBe("notes.txt");
      const exe = new FormData();
      exe.set("file", new File([new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1])], "readme.md"));
      expect(
        (await t.request("POST", `/api/projects/${ids.project}/documents`, { body: exe, headers: h.SPONSOR })).status,
      ).toBe(400);
    });
  });
}
