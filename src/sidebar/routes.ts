import { Elysia } from "elysia";
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { seeOther } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { SIDEBAR_SCRIPT, SIDEBAR_SCRIPT_PATH } from "./assets";
import { askSidebar } from "./service";

const encoder = new TextEncoder();
const frame = (event: string, data: unknown) => encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

/** The sidebar's page: only same-site paths of the pages that carry it. */
const safeBack = (v: unknown) =>
  typeof v === "string" && /^\/(projects|milestones|tasks)\/[0-9a-f-]{36}$/.test(v) ? v : "/projects";

/**
 * `POST /api/ai/sidebar` (spec §5.7) answers as Server-Sent Events: `meta` (mode and retrieved sources) as soon as
 * retrieval is done, `token` for each piece of text as the model streams it, then `done` with the citations
 * (or `error`). `POST /sidebar/ask` is the form fallback without JavaScript.
 */
export const sidebarRoutes = (ctx: AppContext) =>
  new Elysia({ name: "sidebar" })
    .use(httpContext(ctx))
    .get(
      SIDEBAR_SCRIPT_PATH,
      () =>
        new Response(SIDEBAR_SCRIPT, {
          headers: {
            "content-type": "text/javascript; charset=utf-8",
            "cache-control": "public, max-age=31536000, immutable",
          },
        }),
    )
    .post(
      "/api/ai/sidebar",
      async ({ body, principal, request }) => {
        const answer = await askSidebar(ctx, await principal(), body, request.signal);
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(
              frame("meta", { conversationId: answer.conversationId, mode: answer.mode, sources: answer.sources }),
            );
            try {
              for await (const text of answer.deltas) controller.enqueue(frame("token", { text }));
              const done = await answer.done;
              controller.enqueue(
                frame("done", { messageId: done.messageId, mode: answer.mode, citations: done.citations }),
              );
            } catch (err) {
              ctx.log.warn("sidebar answer failed", { err });
              controller.enqueue(frame("error", { message: "The assistant stopped before finishing its answer." }));
            }
            controller.close();
          },
        });
        return new Response(stream, {
          headers: {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache",
            "x-accel-buffering": "no",
          },
        });
      },
      {
        detail: {
          summary: "Ask the AI sidebar; the answer streams as Server-Sent Events",
          description:
            "Body: `message` and one of `projectId`, `milestoneId`, `taskId` (the page's context), `includeDocs` " +
            "(default true). Events: `meta` {mode, sources}, `token` {text}, `done` {citations}, `error` {message}. " +
            "Rate-limited per user (setting ai.sidebarPerMinute).",
          tags: ["ai"],
        },
      },
    )
    .post("/sidebar/ask", async ({ body, principal, request }) => {
      const form = (body ?? {}) as Record<string, unknown>;
      const back = safeBack(form.back);
      const pick = (k: string) => (typeof form[k] === "string" && form[k] ? (form[k] as string) : undefined);
      try {
        const answer = await askSidebar(ctx, await principal(), {
          message: pick("message") ?? "",
          projectId: pick("projectId"),
          milestoneId: pick("milestoneId"),
          taskId: pick("taskId"),
        });
        for await (const _ of answer.deltas) {
          // the page shows the stored answer after the redirect
        }
        await answer.done;
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500 || err.code === "UNAUTHORIZED" || err.status === 404)
          throw err;
        return seeOther(request, `${back}?sidebar=${encodeURIComponent(err.code)}#ai-sidebar`);
      }
      return seeOther(request, `${back}#ai-sidebar`);
    });
