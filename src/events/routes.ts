import { Elysia } from "elysia";
import type { AppContext, Principal } from "../core/context";
import { invalidInput } from "../core/errors";
import { httpContext } from "../core/http/plugin";
import { loadProject } from "../projects/access";
import { loadTask } from "../tasks/service";
import { LIVE_TOPIC } from "./live";
import { openLiveStream } from "./service";

/** Topics one page may follow (a task page follows its task and its project). */
const MAX_TOPICS = 4;

/**
 * The `topics` query of a stream (`task:<id>,project:<id>`), each one the caller may see: a topic the caller may
 * not see is refused like a missing one, so following one tells nothing about a task or project they cannot read.
 */
async function followedTopics(ctx: AppContext, principal: Principal | null, raw: unknown): Promise<string[]> {
  if (raw === undefined || raw === "") return [];
  const topics = typeof raw === "string" ? [...new Set(raw.split(","))] : [];
  if (topics.length === 0 || topics.length > MAX_TOPICS || !topics.every((t) => LIVE_TOPIC.test(t)))
    throw invalidInput(
      { topics: `up to ${MAX_TOPICS} of task:<id> or project:<id>, separated by commas` },
      "The topics to follow are not valid.",
    );
  for (const t of topics) {
    const [kind, id] = t.split(":") as ["task" | "project", string];
    if (kind === "task") await loadTask(ctx.db, principal, id);
    else await loadProject(ctx.db, principal, id, "project.view");
  }
  return topics;
}

/** `GET /events/stream`: the signed-in caller's live updates as Server-Sent Events (`event: bell`, …). */
export const eventRoutes = (ctx: AppContext) =>
  new Elysia({ name: "events" }).use(httpContext(ctx)).get(
    "/events/stream",
    async ({ request, principal, query }) => {
      const caller = await principal();
      const topics = caller ? await followedTopics(ctx, caller, query.topics) : [];
      // The caller is read again on every heartbeat: a stream ends with the session that opened it.
      const stream = openLiveStream(ctx, caller, () => ctx.authenticate(request), request.signal, topics);
      return new Response(stream, {
        headers: {
          "content-type": "text/event-stream; charset=utf-8",
          "cache-control": "no-cache, no-transform",
          "x-accel-buffering": "no",
        },
      });
    },
    {
      detail: {
        summary:
          "The caller's live updates as Server-Sent Events (`bell`: the unread count and the bell's HTML; `changed`: a task or project named in `topics` changed)",
        tags: ["notifications"],
      },
    },
  );
