import { Elysia } from "elysia";
import { storableDate } from "../core/http/input";
import { html } from "../../ui/layout";
import { type AppContext, requireUser } from "../core/context";
import { pageProps, readFlash, readForm, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { NotificationPreferencesUpdate } from "./model";
import { getNotificationPreferences, updateNotificationPreferences } from "./preferences";
import { listNotifications, markAllRead, markRead, unreadCount } from "./service";
import { NOTIFICATION_KINDS } from "./types";
import { BellFragment, NotificationsPage, PreferencesPage } from "./views";

const FLASH = { saved: "Notification preferences saved." };

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
    .get("/notifications/preferences", async ({ request, query, principal }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const prefs = await getNotificationPreferences(ctx.db, p);
      return html(<PreferencesPage {...pageProps(p)} prefs={prefs} flash={readFlash(query, FLASH)} />);
    })
    .post("/notifications/preferences", async ({ request, body, principal }) => {
      const p = requireUser(await principal());
      const form = readForm(body);
      // An unticked box sends nothing: the form states every changeable type in full.
      const preferences: Record<string, { inApp: boolean; email: boolean }> = {};
      for (const k of NOTIFICATION_KINDS) {
        if (k.mandatory) continue;
        preferences[k.type] = { inApp: form[`inApp.${k.type}`] === "true", email: form[`email.${k.type}`] === "true" };
      }
      await updateNotificationPreferences(ctx.db, p, {
        emailNotifications: form.emailNotifications === "true",
        preferences,
      });
      return seeOther(request, "/notifications/preferences?done=saved");
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
    .get(
      "/api/me/notification-preferences",
      async ({ principal }) => getNotificationPreferences(ctx.db, requireUser(await principal())),
      {
        detail: {
          summary: "The caller's notification preferences: every type with its group, channels and defaults",
          tags: ["notifications"],
        },
      },
    )
    .put(
      "/api/me/notification-preferences",
      async ({ body, principal }) => updateNotificationPreferences(ctx.db, requireUser(await principal()), body),
      {
        body: NotificationPreferencesUpdate,
        detail: {
          summary:
            "Change notification preferences: { emailNotifications?, preferences?: { <TYPE or group>: { inApp?, email? } } }",
          tags: ["notifications"],
        },
      },
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
