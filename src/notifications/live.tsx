// The notifications domain on the event bus and the live streams: the bell is pushed to a user's open pages after
// every change of their notifications, and bus events that concern people who did not act become notifications
// (src/notifications/subscribers.ts).
import type { AppContext } from "../core/context";
import { unreadCount } from "./service";
import { subscribeNotifications } from "./subscribers";
import { BellFragment } from "./views";

/** Registers the bell on the live streams and the notifications that follow bus events. */
export function setupLiveNotifications(ctx: AppContext) {
  ctx.live?.provide(async (userId) => {
    const unread = await unreadCount(ctx.db, userId);
    return [{ event: "bell", data: { unread, html: String(<BellFragment unread={unread} />) } }];
  });
  subscribeNotifications(ctx);
}
