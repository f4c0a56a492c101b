// GDPR export and erasure reach the data other domains keep: a user's sidebar conversation and the prompts of
// their model calls are in the export; deleting the account removes them, and the audit chain (which holds the
// calls' ids and checksums, never their text) still verifies.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { aiCalls } from "../ai/schema";
import { auditLog } from "../audit/schema";
import { verifyAudit } from "../audit/verify";
import { createProject } from "../projects/service";
import { sidebarConversations } from "../sidebar/schema";
import { createTestApp, type TestApp } from "../../test/support/app";
import { dbKinds } from "../../test/support/db";
import { type ModelServer, startModelServer } from "../../test/support/model-server";
import { seedOrg, seedUser, sessionHeaders } from "../../test/support/projects";

const QUESTION = "What does the heron milestone deliver?";
const ANSWER = "The heron milestone delivers the settlement batch.";

for (const kind of dbKinds()) {
  describe(`GDPR export and erasure of sidebar and AI data [${kind}]`, () => {
    let t: TestApp;
    let server: ModelServer;
    let org: Awaited<ReturnType<typeof seedOrg>>;
    let headers: Record<string, string>;
    let projectId: string;

    beforeAll(async () => {
      server = startModelServer();
      t = await createTestApp(kind);
      await seedUser(t.ctx.db, { isAdmin: true }); // pages need setup done
      org = await seedOrg(t.ctx.db, "Heron");
      headers = await sessionHeaders(t.ctx.db, org.SPONSOR);
      projectId = (await createProject(t.ctx, org.OWNER.principal, org.org.id, { title: "Heron", repoType: "PRIVATE" }))
        .id;
      await t.ctx.settings.update(
        { "ai.provider": "ollama", "ai.baseUrl": server.url, "ai.chatModel": "llama3.1" },
        null,
      );
    }, 60_000);
    afterAll(async () => {
      await t.close();
      await server.stop();
    });

    test("the export holds the sidebar conversation and the prompts of the user's model calls", async () => {
      server.script({ content: ANSWER });
      const res = await t.request("POST", "/api/ai/sidebar", { body: { message: QUESTION, projectId }, headers });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("event: done");

      const exp = await t.request("GET", "/api/me/export", { headers });
      expect(exp.status).toBe(200);
      const data = (await exp.json()) as {
        sidebarConversations: { projectId: string; messages: { role: string; content: string }[] }[];
        aiCalls: { id: string; purpose: string; prompt: { content: string }[]; output: string }[];
      };
      expect(data.sidebarConversations).toHaveLength(1);
      expect(data.sidebarConversations[0]!.projectId).toBe(projectId);
      expect(data.sidebarConversations[0]!.messages.map((m) => [m.role, m.content])).toEqual([
        ["user", QUESTION],
        ["assistant", ANSWER],
      ]);
      expect(data.aiCalls).toHaveLength(1);
      expect(data.aiCalls[0]!.purpose).toBe("sidebar");
      expect(JSON.stringify(data.aiCalls[0]!.prompt)).toContain(QUESTION);
      expect(data.aiCalls[0]!.output).toBe(ANSWER);
      // another member's export holds none of it
      const other = await t.request("GET", "/api/me/export", { headers: await sessionHeaders(t.ctx.db, org.OWNER) });
      const otherText = await other.text();
      expect(otherText).not.toContain(QUESTION);
      // the call's chain entry names it by id and checksum only
      const [entry] = await t.ctx.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.action, "ai.call"), eq(auditLog.targetId, data.aiCalls[0]!.id)));
      expect(entry!.actorId).toBe(org.SPONSOR.id);
      expect(JSON.stringify(entry!.payload)).not.toContain("heron");
    });

    test("deleting the account removes the conversation and erases the prompts; the chain still verifies", async () => {
      const del = await t.request("DELETE", "/api/me", { body: { confirm: "DELETE" }, headers });
      expect(del.status).toBe(204);
      const db = t.ctx.db;
      expect(
        await db.select().from(sidebarConversations).where(eq(sidebarConversations.userId, org.SPONSOR.id)),
      ).toEqual([]);
      const calls = await db.select().from(aiCalls).where(eq(aiCalls.userId, org.SPONSOR.id));
      expect(calls).toHaveLength(1);
      expect(calls[0]).toMatchObject({ prompt: [], output: "", system: "" });
      expect(calls[0]!.redactedAt).toBeInstanceOf(Date);
      const leftovers = await t.ctx.database.exec<{ n: number }>(
        "select count(*)::int as n from ai_calls where prompt::text ilike '%heron%' or output ilike '%heron%'",
      );
      expect(leftovers[0]!.n).toBe(0);
      const report = await verifyAudit(db);
      expect(report.ok).toBe(true);
      expect(report.aiCalls).toMatchObject({ erased: 1, problemCount: 0 });
      // the erasure itself is in the chain, naming the call
      const [erasure] = await db.select().from(auditLog).where(eq(auditLog.action, "ai.call.redact"));
      expect(erasure!.payload).toEqual({ ids: [calls[0]!.id] });
    });
  });
}
