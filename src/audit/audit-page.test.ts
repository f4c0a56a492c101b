// The admin's audit page links to the full check and shows what it found, including a deleted AI call; the same
// report is in the JSON API. Only platform admins may run it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { recordAiCall } from "../ai/audit";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";

for (const kind of dbKinds()) {
  describe(`audit page verification [${kind}]`, () => {
    let t: TestApp;
    let admin: TestUser;
    let user: TestUser;
    beforeAll(async () => {
      t = await createTestApp(kind);
      admin = await createUser(t, { admin: true });
      user = await createUser(t);
    }, 60_000);
    afterAll(() => t.close());

    const call = (userId: string) =>
      recordAiCall(t.ctx.db, {
        purpose: "sidebar",
        userId,
        provider: "ollama",
        model: "llama3.1",
        temperature: 0,
        system: "",
        prompt: [{ role: "user", content: "hello?" }],
        output: "hi",
        status: "ok",
        latencyMs: 5,
      });

    test("the page links to the check; a clean chain and its AI calls are reported as intact", async () => {
      await call(user.id);
      const page = await (await admin.request("GET", "/admin/audit")).text();
      expect(page).toContain('href="/admin/audit?verify=1"');
      const checked = await (await admin.request("GET", "/admin/audit?verify=1")).text();
      expect(checked).toContain("Chain verified:");
      expect(checked).toContain("1 AI calls match their entries");
      expect(checked).toContain("ai.call"); // the call's entry is listed in the trail
    });

    test("a deleted AI call row is named on the page and in the API; others may not run the check", async () => {
      const id = (await call(user.id))!;
      await t.ctx.database.exec("delete from ai_calls where id = $1", [id]);
      const page = await (await admin.request("GET", "/admin/audit?verify=1")).text();
      expect(page).toContain("Verification failed");
      expect(page).toContain(`AI call ${id} missing`);
      const api = await admin.request("GET", "/api/audit/verify");
      expect(api.status).toBe(200);
      expect(await api.json()).toMatchObject({ ok: false, aiCalls: { problems: [{ id, problem: "missing" }] } });
      expect((await user.request("GET", "/api/audit/verify")).status).toBe(403);
      expect((await user.request("GET", "/admin/audit?verify=1")).status).toBe(403);
    });
  });
}
