import { Elysia } from "elysia";
import { storableDate } from "../core/http/input";
import { html } from "../../ui/layout";
import { type AppContext, requireUser } from "../core/context";
import { pageProps, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { listNotifications, markAllRead, markRead, unreadCount } from "./service";
import { BellFragment, NotificationsPage } from "./views";

/** The bell, the notifications page, and the notifications API (spec §5.11). */
export const notificationRoutes = (ctx: AppContext) =>
  new Elysia({ name: "notifications" })
    .use(httpContext(ctx))
    .get("/notifications/bell", async ({ principal }) => {
      const p = requireUser(await principal());
      return html(<BellFragment unread={await unreadCount(ctx.db, p.userId)} />, 200, { "cache-control": "no-store" });
    })
    .get("/notifications", async ({ request, principal }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const { items, unread } = await listNotifications(ctx.db, p.userId, { limit: 100 });
      return html(<NotificationsPage {...pageProps(p)} items={items} unread={unread} />);
    })
    .post("/notifications/read-all", async ({ request, principal }) => {
      const p = requireUser(await principal());
      await markAllRead(ctx.db, p.userId);
      return seeOther(request, "/notifications");
    })
    .post("/notifications/:id/read", async ({ request, params, principal }) => {
      const p = requireUser(await principal());
      const n = await markRead(ctx.db, p.userId, params.id);
      return seeOther(request, n.link ?? "/notifications");
    })
    .get(
      "/api/notifications",
      async ({ principal, query }) => {
        const p = requireUser(await principal());
        return listNotifications(ctx.db, p.userId, {
          limit: Number(query.limit) || 50,
          before: storableDate(query.before),
          unreadOnly: query.unread === "true",
        });
      },
      {
        detail: {
          summary: "The caller's notifications, newest first (?limit, ?before, ?unread=true)",
          tags: ["notifications"],
        },
      },
    )
    .get(
      "/api/me/notifications",
      async ({ principal }) => listNotifications(ctx.db, requireUser(await principal()).userId),
      { detail: { summary: "The caller's notifications (alias of /api/notifications)", tags: ["notifications"] } },
    )
    .post(
      "/api/notifications/read-all",
      async ({ principal }) => ({ updated: await markAllRead(ctx.db, requireUser(await principal()).userId) }),
      { detail: { summary: "Mark every notification read", tags: ["notifications"] } },
    )
    .post(
      "/api/notifications/:id/read",
      async ({ params, principal }) => {
        const p = requireUser(await principal());
        await markRead(ctx.db, p.userId, params.id);
        return { id: params.id, read: true };
      },
      { detail: { summary: "Mark one notification read", tags: ["notifications"] } },
    );
