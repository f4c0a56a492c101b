import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Elysia } from "elysia";
import { createTestDb, dbKinds } from "../../../test/support/db";
import type { Database } from "../db";
import { AppError } from "../errors";
import { errorResponse } from "../http/errors";
import { createJobQueue, type JobQueue } from "./queue";
import { jobRoutes } from "./routes";

interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

/** Reads an SSE response to its end (or until `stopWhen`), parsing events; comments are counted. */
async function readSse(res: Response, onEvent: (e: SseEvent) => void = () => {}, ms = 8000) {
  const events: SseEvent[] = [];
  let comments = 0;
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  const timer = setTimeout(() => reader.cancel(), ms);
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut = buffer.indexOf("\n\n");
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf("\n\n");
      const e: SseEvent = { event: "message", data: undefined };
      let isEvent = false;
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) comments++;
        else if (line.startsWith("event: ")) e.event = line.slice(7);
        else if (line.startsWith("id: ")) e.id = line.slice(4);
        else if (line.startsWith("data: ")) {
          e.data = JSON.parse(line.slice(6));
          isEvent = true;
        }
      }
      if (isEvent) {
        events.push(e);
        onEvent(e);
      }
    }
  }
  clearTimeout(timer);
  return { events, comments };
}

async function waitFor<T>(fn: () => Promise<T> | T, ms = 5000): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error("timed out");
    await Bun.sleep(20);
  }
}

for (const kind of dbKinds()) {
  describe(`run routes [${kind}]`, () => {
    let database: Database;
    let jobs: JobQueue;
    let app: { handle(r: Request): Promise<Response> };
    let release = () => {};

    beforeAll(async () => {
      database = await createTestDb(kind);
      jobs = createJobQueue(database, { pollIntervalMs: 50 });
      jobs.define<{ orgId?: string }>("sse.job", async (_p, run) => {
        await run.progress(10, "started");
        await run.log("working");
        await new Promise<void>((r) => {
          release = r;
        });
        await run.progress(90, "almost");
        return { ok: true, apiToken: "never shown" };
      });
      jobs.start();
      // The app's error handling (the envelope), then the routes under test.
      app = new Elysia()
        .onError(({ error, request }) => (error instanceof AppError ? errorResponse(request, error) : undefined))
        .use(jobRoutes({ jobs, pollMs: 100, heartbeatMs: 150 }));
    });
    afterAll(async () => {
      release();
      await jobs.stop(1000);
      await database.close();
    });

    const get = (path: string, headers: Record<string, string> = {}) =>
      app.handle(new Request(`http://localhost${path}`, { headers }));

    test("GET /api/runs/:id returns the run, 404 for unknown ids, 403 for organization runs by default", async () => {
      const { id } = await jobs.enqueue("other.job", { note: "x", password: "hunter2" });
      const res = await get(`/api/runs/${id}`);
      expect(res.status).toBe(200);
      const body = await res.json();
      expect(body).toMatchObject({ id, name: "other.job", state: "queued", attempts: 0, progress: 0 });
      expect(body.payload).toEqual({ note: "x", password: "[redacted]" });
      expect(body.lockedBy).toBeUndefined();

      for (const path of [
        "/api/runs/00000000-0000-0000-0000-000000000000",
        "/api/runs/nope",
        "/api/runs/nope/stream",
      ]) {
        const r = await get(path);
        expect(r.status).toBe(404);
        expect((await r.json()).error.code).toBe("NOT_FOUND");
      }
      const org = await jobs.enqueue("other.job", {}, { scope: { orgId: "0b6f7a50-0000-4000-8000-000000000001" } });
      for (const path of [`/api/runs/${org.id}`, `/api/runs/${org.id}/stream`]) {
        const r = await get(path);
        expect(r.status).toBe(403);
        expect((await r.json()).error.code).toBe("FORBIDDEN");
      }
    });

    test("the stream replays stored events, streams live ones with heartbeats, and ends with the final state", async () => {
      const { id } = await jobs.enqueue("sse.job", {});
      await waitFor(async () => (await jobs.events(id)).length === 2);
      const res = await get(`/api/runs/${id}/stream`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toStartWith("text/event-stream");
      let released = false;
      const { events, comments } = await readSse(res, (e) => {
        if (!released && e.event === "log") {
          released = true;
          setTimeout(() => release(), 400); // long enough for heartbeats
        }
      });
      expect(events.map((e) => e.event)).toEqual(["state", "progress", "log", "progress", "state"]);
      expect(events[0].data).toMatchObject({ id, state: "running" });
      expect(events[1]).toMatchObject({ id: expect.any(String), data: { pct: 10, message: "started" } });
      expect(events[2].data).toMatchObject({ line: "working" });
      expect(events[3].data).toMatchObject({ pct: 90, message: "almost" });
      expect(events[4].data).toMatchObject({
        state: "completed",
        progress: 100,
        result: { ok: true, apiToken: "[redacted]" },
      });
      expect(comments).toBeGreaterThanOrEqual(1);

      // A finished run: everything is replayed (or only what follows Last-Event-ID), then the final state.
      const again = await readSse(await get(`/api/runs/${id}/stream`));
      expect(again.events.map((e) => e.event)).toEqual(["progress", "log", "progress", "state"]);
      const resumed = await readSse(await get(`/api/runs/${id}/stream`, { "last-event-id": events[2].id! }));
      expect(resumed.events.map((e) => e.event)).toEqual(["progress", "state"]);
      expect(resumed.events[0].data.pct).toBe(90);
    });

    test("a run executed by another worker streams through the database", async () => {
      // `jobs` (behind the routes) does not define this job: another queue, as another process would, runs it.
      const other = createJobQueue(database, { pollIntervalMs: 50 });
      let resume: (() => void) | undefined;
      let resumed = false;
      const go = () => {
        resumed = true;
        resume?.();
      };
      other.define("remote.job", async (_p, run) => {
        await run.progress(50, "remote half");
        if (!resumed) {
          await new Promise<void>((r) => {
            resume = r;
          });
        }
        await run.log("remote done");
        return 7;
      });
      const { id } = await jobs.enqueue("remote.job", {});
      const reading = readSse(await get(`/api/runs/${id}/stream`), (e) => {
        if (e.event === "progress") go();
      });
      other.start();
      const { events } = await reading;
      await other.stop();
      expect(events.map((e) => (e.event === "state" ? `state:${e.data.state}` : e.event))).toEqual([
        "state:queued",
        "state:running",
        "progress",
        "log",
        "state:completed",
      ]);
      expect(events.at(-1)!.data.result).toBe(7);
    });
  });
}
