// Live updates through the real app (PGlite, and PostgreSQL when TEST_DATABASE_URL is set): `GET /events/stream`
// is for signed-in callers only, a committed notification reaches the user's open streams at once (a rolled-back
// one never), other users hear nothing of it, and a stream ends with the session that opened it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createOrgAs, createUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import type { Db } from "../core/db";
import { notify } from "../notifications/service";
import { projects } from "../projects/schema";
import { emitEvent } from "./service";

/** Waits until `check` is true (polling), or fails after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(25);
  }
}

for (const kind of dbKinds()) {
  describe(`live updates [${kind}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind);
      t.ctx.live!.opts.heartbeatMs = 150;
    }, 60_000);
    afterAll(() => t.close());

    /** Reads `bell` events from an SSE response as they come. */
    function bells(res: Response) {
      const unread: number[] = [];
      const html: string[] = [];
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      const done = (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (!block.startsWith("event: bell\n")) continue;
            const data = JSON.parse(block.split("\ndata: ")[1]);
            unread.push(data.unread);
            html.push(data.html);
          }
        }
      })();
      return { unread, html, done, cancel: () => reader.cancel() };
    }

    /** The topics of the `changed` events an SSE response carries, as they come. */
    function changes(res: Response) {
      const topics: string[] = [];
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      void (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          buffer += decoder.decode(value, { stream: true });
          for (let cut = buffer.indexOf("\n\n"); cut >= 0; cut = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            if (block.startsWith("event: changed\n")) topics.push(JSON.parse(block.split("\ndata: ")[1]!).topic);
          }
        }
      })().catch(() => {});
      return { topics, cancel: () => reader.cancel() };
    }

    test("a page follows its project: a committed event about it arrives as `changed`, a rolled-back one never; topics are checked", async () => {
      const owner = await createUser(t);
      const outsider = await createUser(t);
      const orgId = await createOrgAs(owner);
      const [p] = await t.ctx.db
        .insert(projects)
        .values({ orgId, title: "Live", repoVisibility: "PRIVATE", verificationRuns: 1, totalPoints: 0 })
        .returning();
      const topic = `project:${p!.id}`;
      // a project the caller may not see is answered like a missing one; a malformed topic is refused
      expect((await outsider.request("GET", `/events/stream?topics=${topic}`)).status).toBe(404);
      const bad = await owner.request("GET", "/events/stream?topics=org:1");
      expect(bad.status).toBe(400);
      expect((await bad.json()).error.code).toBe("INVALID_INPUT");
      const res = await owner.request("GET", `/events/stream?topics=${topic}`);
      expect(res.status).toBe(200);
      const seen = changes(res);
      try {
        await Bun.sleep(200); // the stream is listening once its first snapshot was sent
        await t.ctx.db
          .transaction(async (tx) => {
            await emitEvent(tx as Db, "test.rolled_back", { projectId: p!.id });
            throw new Error("rollback");
          })
          .catch(() => {});
        await t.ctx.db.transaction((tx) => emitEvent(tx as Db, "test.changed", { projectId: p!.id, orgId }));
        await until(() => seen.topics.length > 0);
        await Bun.sleep(300);
        expect(seen.topics).toEqual([topic]);
      } finally {
        await seen.cancel();
      }
    });

    test("signed-out callers get no stream", async () => {
      await createUser(t); // the instance is set up (otherwise every page leads to /setup)
      const res = await t.request("GET", "/events/stream");
      expect(res.status).toBe(401);
    });

    test("a committed notification raises the bell of the user's open streams; a rolled-back one does not", async () => {
      const alice = await createUser(t);
      const bob = await createUser(t);
      const res = await alice.request("GET", "/events/stream");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toContain("text/event-stream");
      const other = bells(await bob.request("GET", "/events/stream"));
      const stream = bells(res);
      try {
        await until(() => stream.unread.length === 1 && other.unread.length === 1);
        expect(stream.unread).toEqual([0]);

        const started = performance.now();
        await t.ctx.db.transaction((tx) => notify(tx as Db, alice.id, { type: "TEST", title: "Hello", email: false }));
        await until(() => stream.unread.length === 2, 5000);
        expect(stream.unread[1]).toBe(1);
        expect(stream.html[1]).toMatch(/^Notifications<span class="count"><span>1<\/span>/);
        expect(performance.now() - started).toBeLessThan(1000);

        const refused = t.ctx.db.transaction(async (tx) => {
          await notify(tx as Db, alice.id, { type: "TEST", title: "Never", email: false });
          throw new Error("rolled back");
        });
        await expect(refused).rejects.toThrow("rolled back");
        await Bun.sleep(300);
        expect(stream.unread).toEqual([0, 1]);

        // reading it (in another tab) lowers the bell again; bob heard nothing of alice's notifications
        await alice.request("POST", "/api/notifications/read-all");
        await until(() => stream.unread.length === 3, 5000);
        expect(stream.unread[2]).toBe(0);
        expect(other.unread).toEqual([0]);
      } finally {
        await stream.cancel();
        await other.cancel();
      }
    }, 30_000);

    test("a stream ends when its session is signed out", async () => {
      const carol = await createUser(t);
      const stream = bells(await carol.request("GET", "/events/stream"));
      await until(() => stream.unread.length === 1);
      const form = new URLSearchParams({ _csrf: carol.csrf });
      const out = await carol.request("POST", "/signout", {
        body: form,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      expect(out.status).toBeLessThan(400);
      await Promise.race([
        stream.done,
        Bun.sleep(3000).then(() => {
          throw new Error("the stream stayed open after sign-out");
        }),
      ]);
      expect(t.ctx.live!.size).toBe(0);
    }, 30_000);
  });
}
