// The notifications domain on the event bus and the live streams: the bell is pushed to a user's open pages after
// every change of their notifications, and bus events that concern people who did not act become notifications.
import { and, eq, inArray } from "drizzle-orm";
import type { AppContext } from "../core/context";
import type { Db } from "../core/db";
import type { DomainEvent } from "../events/service";
import { orgMembers } from "../orgs/schema";
import { projects } from "../projects/schema";
import { notify, unreadCount } from "./service";
import { BellFragment } from "./views";

/** Registers the bell on the live streams and the notifications that follow bus events. */
export function setupLiveNotifications(ctx: AppContext) {
  ctx.live?.provide(async (userId) => {
    const unread = await unreadCount(ctx.db, userId);
    return [{ event: "bell", data: { unread, html: String(<BellFragment unread={unread} />) } }];
  });
  ctx.events?.subscribe("notifications.project-funded", "project.funded", projectFunded);
}

/** `project.funded`: the org's owners, maintainers and sponsors hear that the project is live. */
async function projectFunded(event: DomainEvent, tx: Db) {
  const projectId = String(event.payload.projectId);
  const [project] = await tx
    .select({ title: projects.title, orgId: projects.orgId })
    .from(projects)
    .where(eq(projects.id, projectId));
  if (!project) return; // deleted since
  const members = await tx
    .select({ userId: orgMembers.userId })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, project.orgId), inArray(orgMembers.role, ["OWNER", "MAINTAINER", "SPONSOR"])));
  for (const m of members) {
    await notify(tx, m.userId, {
      type: "PROJECT_FUNDED",
      title: `Project funded: ${project.title}`,
      link: `/projects/${projectId}`,
      metadata: { event: event.name, eventId: event.id, projectId },
      email: false,
    });
  }
}
