import { Elysia } from "elysia";
import { forbidden, notFound } from "../errors";
import { redact } from "../logger";
import type { JobEvent } from "./events";
import type { Job, JobQueue } from "./queue";
import type { JobState } from "./schema";

/** What the run routes need. */
export interface JobRoutesDeps {
  jobs: JobQueue;
  /**
   * May the caller of `request` see this run? Called for every run request. The default (a queue without the
   * identity layer: tools and tests) allows only runs without an org; the app installs a check of the org's roles.
   */
  authorize?: (request: Request, job: Job) => boolean | Promise<boolean>;
  /** SSE comment interval keeping proxies from closing an idle stream (default 15 s). */
  heartbeatMs?: number;
  /** How often a stream reads the database, for runs executed by another process (default 1 s). */
  pollMs?: number;
}

const TERMINAL = new Set<JobState>(["completed", "dead"]);

/** The default authorization: runs that belong to no organization are visible. */
export const allowRunsWithoutOrg = (_request: Request, job: Job) => job.orgId === null;

/** A run as the API shows it: no lock owner, secrets in payload and result redacted. */
export function publicRun(job: Job) {
  return {
    id: job.id,
    name: job.name,
    orgId: job.orgId,
    projectId: job.projectId,
    state: job.state,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    progress: job.progress,
    progressMessage: job.progressMessage,
    lastError: job.lastError,
    payload: redact(job.payload),
    result: redact(job.result),
    runAt: job.runAt,
    createdAt: job.createdAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
  };
}

let runStreams = 0;

/** Run streams open in this process (the metrics' SSE clients). */
export const openRunStreams = () => runStreams;

/** `GET /api/runs/:id` and `GET /api/runs/:id/stream` (Server-Sent Events); admins' job endpoints are in src/admin. */
export const jobRoutes = (deps: JobRoutesDeps) => {
  const authorize = deps.authorize ?? allowRunsWithoutOrg;
  const load = async (id: string, request: Request) => {
    const job = await deps.jobs.get(id);
    if (!job) throw notFound("Run");
    if (!(await authorize(request, job))) throw forbidden("You may not see this run.");
    return job;
  };

  return new Elysia({ name: "jobs" })
    .get("/api/runs/:id", async ({ params, request }) => publicRun(await load(params.id, request)), {
      detail: { summary: "A background run's state, progress and result", tags: ["runs"] },
    })
    .get(
      "/api/runs/:id/stream",
      async ({ params, request }) => {
        const job = await load(params.id, request);
        return streamRun(deps, job, request);
      },
      {
        detail: {
          summary: "A run's events as Server-Sent Events",
          description:
            "Replays stored events (after Last-Event-ID when given), then streams live ones: `event: progress|log|state`. " +
            "The stream starts and ends with a `state` event carrying the run; it ends when the run is completed or dead.",
          tags: ["runs"],
        },
      },
    );
};

/** The SSE response of one run: state, stored events, then live events until the run is final. */
function streamRun(deps: JobRoutesDeps, job: Job, request: Request): Response {
  const heartbeatMs = deps.heartbeatMs ?? 15_000;
  const pollMs = deps.pollMs ?? 1000;
  const encoder = new TextEncoder();
  const live: JobEvent[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  let off = () => {};
  runStreams++;
  const finish = () => {
    if (!closed) runStreams--;
    closed = true;
    off();
    wake?.();
  };
  request.signal?.addEventListener("abort", finish);

  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      let lastWrite = Date.now();
      const write = (text: string) => {
        if (closed) return;
        controller.enqueue(encoder.encode(text));
        lastWrite = Date.now();
      };
      const sendState = (j: Job) => write(`event: state\ndata: ${JSON.stringify(publicRun(j))}\n\n`);
      let lastId = Number(request.headers.get("last-event-id")) || 0;
      const sendEvent = (e: JobEvent) => {
        if (e.type === "state" || e.id <= lastId) return;
        lastId = e.id;
        const data =
          e.type === "progress"
            ? { pct: e.pct, message: e.message, at: e.at }
            : { line: e.line, level: e.level, at: e.at };
        write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(data)}\n\n`);
      };

      /** Sends every stored event after the last one sent, a page at a time. */
      const replay = async () => {
        for (;;) {
          const page = await deps.jobs.events(job.id, { after: lastId, limit: 500 });
          for (const e of page) sendEvent(e);
          if (page.length < 500 || closed) return;
        }
      };

      off = deps.jobs.subscribe(job.id, (e) => {
        live.push(e);
        wake?.();
      });

      const run = async () => {
        write("retry: 3000\n\n");
        let state = job.state;
        if (TERMINAL.has(state)) {
          await replay();
          sendState(job);
          return;
        }
        sendState(job);
        await replay();
        let lastPoll = Date.now();
        while (!closed && !TERMINAL.has(state)) {
          const waitMs = Math.max(0, Math.min(lastPoll + pollMs, lastWrite + heartbeatMs) - Date.now());
          if (live.length === 0) {
            await new Promise<void>((resolve) => {
              const t = setTimeout(resolve, waitMs);
              wake = () => {
                clearTimeout(t);
                resolve();
              };
            });
            wake = undefined;
          }
          if (closed) return;
          let stateChanged = false;
          for (const e of live.splice(0)) {
            if (e.type === "state") stateChanged ||= e.state !== state;
            else sendEvent(e);
          }
          // Runs executed by another process produce no local events: read the database now and then.
          if (stateChanged || Date.now() - lastPoll >= pollMs) {
            lastPoll = Date.now();
            const current = await deps.jobs.get(job.id);
            if (!current) return; // pruned meanwhile
            const final = TERMINAL.has(current.state);
            if (current.state !== state && !final) sendState(current);
            // Read after the state: every event of a final run was stored before it became final.
            await replay();
            if (final) sendState(current);
            state = current.state;
          }
          if (Date.now() - lastWrite >= heartbeatMs) write(": heartbeat\n\n");
        }
      };

      run()
        .catch(() => write(`event: error\ndata: ${JSON.stringify({ message: "the stream failed; reconnect" })}\n\n`))
        .finally(() => {
          const wasOpen = !closed;
          finish();
          if (wasOpen) controller.close();
        });
    },
    cancel() {
      finish();
    },
  });

  return new Response(stream, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    },
  });
}
