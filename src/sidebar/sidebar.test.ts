import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { JobQueue } from "../core/jobs";
import { uploadDocument, vectorStore } from "../documents/service";
import { saveDraft, loadTree } from "../milestones/service";
import { orgMembers } from "../orgs/schema";
import { createProject } from "../projects/service";
import { createTestApp, type TestApp } from "../../test/support/app";
import { dbKinds } from "../../test/support/db";
import { type ModelServer, startModelServer } from "../../test/support/model-server";
import { seedOrg, seedUser, sessionHeaders, startJobs, waitForJob } from "../../test/support/projects";
import { citedNumbers, SIDEBAR_SYSTEM } from "./service";
import { Citations, richText } from "./views";

/** Reads a Server-Sent Events response into its events, with the time each arrived. */
async function readEvents(res: Response) {
  const events: { event: string; data: any; at: number }[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const t0 = performance.now();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    for (let i = buf.indexOf("\n\n"); i >= 0; i = buf.indexOf("\n\n")) {
      const frame = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const event = /^event: (.+)$/m.exec(frame)?.[1] ?? "message";
      const data = /^data: (.+)$/m.exec(frame)?.[1];
      events.push({ event, data: data ? JSON.parse(data) : null, at: performance.now() - t0 });
    }
  }
  return events;
}

test("citation numbers", () => {
  expect(citedNumbers("As [1] and [2, 3] say, not [9] or [x]", 3)).toEqual([1, 2, 3]);
});

for (const kind of dbKinds()) {
  describe(`AI sidebar [${kind}]`, () => {
    let t: TestApp;
    let jobs: JobQueue;
    let server: ModelServer;
    let org: Awaited<ReturnType<typeof seedOrg>>;
    let headers: Record<string, string>;
    let projectId: string;
    let otherProjectId: string;
    let taskA: string;
    let taskB: string;

    const ask = (body: Record<string, unknown>, h = headers) =>
      t.request("POST", "/api/ai/sidebar", { body, headers: h });
    const useModel = (provider: string) =>
      t.ctx.settings.update({ "ai.provider": provider, "ai.baseUrl": server.url, "ai.chatModel": "llama3.1" }, null);

    beforeAll(async () => {
      server = startModelServer();
      t = await createTestApp(kind);
      jobs = await startJobs(t.ctx);
      await seedUser(t.ctx.db, { isAdmin: true }); // pages need setup done
      org = await seedOrg(t.ctx.db);
      headers = await sessionHeaders(t.ctx.db, org.SPONSOR);
      projectId = (
        await createProject(t.ctx, org.OWNER.principal, org.org.id, {
          title: "Ledger",
          description: "A ledger service.",
          repoType: "PRIVATE",
        })
      ).id;
      otherProjectId = (
        await createProject(t.ctx, org.OWNER.principal, org.org.id, { title: "Other", repoType: "PRIVATE" })
      ).id;
      const task = (title: string) => ({
        title,
        description: "",
        points: 3,
        acceptanceCriteria: ["done"],
        verification: { minPassingTests: 1, testCommand: "", rules: [] },
      });
      await saveDraft(
        t.ctx.db,
        projectId,
        {
          milestones: [
            { title: "M", description: "", acceptanceCriteria: [], tasks: [task("Task A"), task("Task B")] },
          ],
        },
        { source: "edit" },
      );
      [taskA, taskB] = (await loadTree(t.ctx.db, projectId))[0]!.tasks.map((s) => s.id) as [string, string];
      for (const [pid, name, text] of [
        [
          projectId,
          "settlement.md",
          "# Settlement\n\nLedger entries settle nightly at 02:00 UTC through the clearing batch.",
        ],
        [otherProjectId, "secret.md", "# Other\n\nThe other project settles hourly with the hidden falcon key."],
      ] as const) {
        const doc = await uploadDocument(t.ctx, org.OWNER.principal, pid, {
          name,
          bytes: new TextEncoder().encode(text),
        });
        const [run] = await jobs.list({ name: "documents.ingest", limit: 1 });
        await waitForJob(jobs, run!.id);
        expect(doc.id).toBeString();
      }
    }, 60_000);
    afterAll(async () => {
      await jobs.stop();
      await vectorStore(t.ctx).close();
      await t.close();
      await server.stop();
    });
    beforeEach(() => server.reset());

    test("without a model it answers from retrieval, labelled, citing the document", async () => {
      await useModel("none");
      const res = await ask({ message: "When do ledger entries settle?", projectId });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      const events = await readEvents(res);
      expect(events[0]).toMatchObject({ event: "meta", data: { mode: "retrieval" } });
      const text = events
        .filter((e) => e.event === "token")
        .map((e) => e.data.text)
        .join("");
      expect(text).toStartWith("No language model is configured");
      expect(text).toContain("02:00 UTC");
      const done = events.find((e) => e.event === "done")!;
      expect(done.data.citations[0]).toMatchObject({ n: 1, filename: "settlement.md" });
      expect(JSON.stringify(events)).not.toContain("falcon"); // never another project's passages
    });

    for (const provider of ["ollama", "openai-compatible"]) {
      test(`${provider}: the answer streams, cites what it used, and keeps to this page's conversation`, async () => {
        await useModel(provider);
        server.script({
          content: "Entries settle nightly at 02:00 UTC [1].",
          chunks: ["Entries settle ", "nightly at ", "02:00 UTC [1]."],
          chunkDelayMs: 40,
        });
        const events = await readEvents(await ask({ message: "When do entries settle?", taskId: taskA }));
        const tokens = events.filter((e) => e.event === "token");
        expect(tokens.length).toBe(3);
        expect(tokens[0]!.at).toBeLessThan(tokens[2]!.at - 50); // streamed, not buffered
        expect(events.at(-1)).toMatchObject({
          event: "done",
          data: { mode: "model", citations: [{ n: 1, filename: "settlement.md" }] },
        });
        const [first] = server.chats();
        expect(first!.messages[0]).toEqual({ role: "system", content: SIDEBAR_SYSTEM });
        const user = first!.messages.at(-1)!;
        expect(user.role).toBe("user");
        expect(user.content).toContain("Task: Task A");
        expect(user.content).toMatch(/<<<DATA document n="1" file="settlement.md">>>/);
        expect(user.content).not.toContain("falcon");

        // a follow-up on the same task sees the earlier turn; the other task does not
        server.script({ content: "Yes." }, { content: "No idea." });
        await readEvents(await ask({ message: "Is that every night?", taskId: taskA }));
        await readEvents(await ask({ message: "What about here?", taskId: taskB }));
        const [, followUp, other] = server.chats();
        expect(followUp!.messages.map((m) => m.content)).toContain("When do entries settle?");
        expect(followUp!.messages.map((m) => m.content)).toContain("Entries settle nightly at 02:00 UTC [1].");
        expect(other!.messages.map((m) => m.content).join()).not.toContain("When do entries settle?");
      });
    }

    test("a model that fails before answering falls back to the documents, labelled", async () => {
      await useModel("ollama");
      server.script({ status: 500, error: "out of memory" });
      const events = await readEvents(await ask({ message: "When do entries settle?", projectId }));
      const text = events
        .filter((e) => e.event === "token")
        .map((e) => e.data.text)
        .join("");
      expect(text).toStartWith("The language model did not answer");
      expect(events.at(-1)!.data.citations[0].filename).toBe("settlement.md");
    });

    test("access: outsiders get 404, missing context is a 400, no session is a 401", async () => {
      const outsider = await seedUser(t.ctx.db);
      expect((await ask({ message: "hi", projectId }, await sessionHeaders(t.ctx.db, outsider))).status).toBe(404);
      expect((await ask({ message: "hi" })).status).toBe(400);
      expect((await ask({ message: "", projectId })).status).toBe(400);
      expect((await t.request("POST", "/api/ai/sidebar", { body: { message: "hi", projectId } })).status).toBe(401);
    });

    test("rate limit per user (ai.sidebarPerMinute)", async () => {
      await useModel("none");
      await t.ctx.settings.update({ "ai.sidebarPerMinute": 2 }, null);
      const u = await seedUser(t.ctx.db);
      await t.ctx.db.insert(orgMembers).values({ orgId: org.org.id, userId: u.id, role: "CONTRIBUTOR" });
      const h = await sessionHeaders(t.ctx.db, u);
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await ask({ message: "settle?", projectId }, h);
        statuses.push(res.status);
        if (res.ok) await readEvents(res);
      }
      expect(statuses).toEqual([200, 200, 429]);
      expect((await ask({ message: "settle?", projectId })).status).toBe(200); // another user is unaffected
      await t.ctx.settings.update({ "ai.sidebarPerMinute": 20 }, null);
    });

    test("the page renders the conversation and the form works without JavaScript", async () => {
      await useModel("none");
      const res = await t.request("POST", "/sidebar/ask", {
        body: new URLSearchParams({
          _csrf: headers["x-csrf-token"]!,
          message: "clearing batch time?",
          taskId: taskB,
          back: `/tasks/${taskB}`,
        }),
        headers: { cookie: headers.cookie! },
      });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe(`/tasks/${taskB}#ai-sidebar`);
      const page = await (await t.request("GET", `/tasks/${taskB}`, { headers: { cookie: headers.cookie! } })).text();
      expect(page).toContain("clearing batch time?");
      expect(page).toContain("from documents, no model");
      expect(page).toContain("settlement.md");
      // the retrieval answer quotes the passage; its citation names the source without quoting it again
      expect(page.split("02:00 UTC through the clearing batch").length - 1).toBe(1);
      expect(page).toMatch(/<script src="\/sidebar\/sidebar\.[0-9a-f]{10}\.js"/);
    });
  });
}

describe("sidebar text", () => {
  test("Markdown code shows as code, everything else escaped", () => {
    expect(richText("run `bun test` then <b>x</b>")).toBe("run <code>bun test</code> then &lt;b&gt;x&lt;/b&gt;");
    expect(richText("```ts\nconst a = `x` < 1;\n```\ndone")).toBe(
      "<pre><code>const a = `x` &lt; 1;</code></pre>\ndone",
    );
    expect(richText("a lone ` stays")).toBe("a lone ` stays");
  });
  test("a retrieval answer's citations name the source once, without a second copy of the passage", async () => {
    const c = { n: 1, documentId: "d", filename: "notes.md", chunkIndex: 0, page: null, excerpt: "Use `make`." };
    const quoted = await Citations({ citations: [c], quoted: true });
    expect(quoted).toContain("notes.md");
    expect(quoted).not.toContain("make");
    expect(await Citations({ citations: [c] })).toContain("<code>make</code>");
  });
});
