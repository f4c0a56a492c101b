import { Elysia } from "elysia";
import type { AppContext } from "../core/context";
import { httpContext } from "../core/http/plugin";
import { openLiveStream } from "./service";

/** `GET /events/stream`: the signed-in caller's live updates as Server-Sent Events (`event: bell`, …). */
export const eventRoutes = (ctx: AppContext) =>
  new Elysia({ name: "events" }).use(httpContext(ctx)).get(
    "/events/stream",
    async ({ request, principal }) => {
      // The caller is read again on every heartbeat: a stream ends with the session that opened it.
      const stream = openLiveStream(ctx, await principal(), () => ctx.authenticate(request), request.signal);
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
        summary: "The caller's live updates as Server-Sent Events (`bell`: the unread count and the bell's HTML)",
        tags: ["notifications"],
      },
    },
  );
