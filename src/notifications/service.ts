import { and, count, desc, eq, isNull, lt, sql } from "drizzle-orm";
import type { Db } from "../core/db";
import { invalidInput, notFound } from "../core/errors";
import { USER_EVENTS_CHANNEL } from "../events/live";
import { users } from "../users/schema";
import { wakeMailWorkers } from "./mail";
import { emailOutbox, notifications } from "./schema";
import { channelsFor } from "./types";

/** What another domain passes to `notify`. `link` is a same-site path such as `/orgs/…/invites`. */
export interface NotificationInput {
  /** One of NOTIFICATION_KINDS (src/notifications/types.ts): TASK_CLAIMED, PAYMENT, INVITE, … */
  type: string;
  title: string;
  body?: string;
  link?: string;
  metadata?: Record<string, unknown>;
  /**
   * false: never e-mail this one (the caller sends its own message). Otherwise the person's preferences for the
   * type decide; mandatory types (invites, security) always go out.
   */
  email?: boolean;
}

const safeLink = (link: string | undefined) => {
  if (link === undefined || link === null) return null;
  // Only same-site paths: "//host" and "/\\host" would leave the site.
  if (!/^\/(?![/\\])/.test(link)) throw invalidInput({ link: "must be a path on this site" });
  return link;
};

/**
 * Delivers a notification of `n.type` to `userId` on the channels their preferences choose: an in-app
 * notification (the bell) and/or an e-mail in the outbox. Pass the transaction when called inside one, so both
 * commit with the change they announce. Returns the in-app notification's id (null when none was stored).
 */
export async function notify(db: Db, userId: string, n: NotificationInput): Promise<{ id: string | null }> {
  const link = safeLink(n.link);
  const [u] = await db
    .select({ email: users.email, preferences: users.preferences, deletedAt: users.deletedAt })
    .from(users)
    .where(eq(users.id, userId));
  if (!u || u.deletedAt) return { id: null };
  const channels = channelsFor(n.type, u.preferences?.notifications, u.preferences?.emailNotifications !== false);
  let id: string | null = null;
  if (channels.inApp) {
    const [row] = await db
      .insert(notifications)
      .values({ userId, type: n.type, title: n.title, body: n.body ?? "", link, metadata: n.metadata ?? {} })
      .returning({ id: notifications.id });
    id = row!.id;
    await changedFor(db, userId);
  }
  if (n.email !== false && channels.email && u.email) {
    await enqueueEmail(db, {
      to: u.email,
      subject: n.title,
      text: n.body ?? "",
      link: link ?? undefined,
      kind: n.type,
      userId,
    });
  }
  return { id };
}

/** Queues one e-mail in the outbox; the mail worker delivers it (or leaves it stored when no SMTP is set). */
export async function enqueueEmail(
  db: Db,
  mail: { to: string; subject: string; text: string; kind: string; link?: string; userId?: string | null },
): Promise<{ id: string }> {
  const [row] = await db
    .insert(emailOutbox)
    .values({
      toAddress: mail.to,
      subject: mail.subject,
      bodyText: mail.text,
      link: safeLink(mail.link),
      kind: mail.kind,
      userId: mail.userId ?? null,
    })
    .returning({ id: emailOutbox.id });
  wakeMailWorkers();
  return { id: row.id };
}

/** One page of a user's notifications, newest first, and the unread count. */
export async function listNotifications(
  db: Db,
  userId: string,
  opts: { limit?: number; before?: Date; unreadOnly?: boolean } = {},
) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 200);
  const where = [eq(notifications.userId, userId)];
  if (opts.before) where.push(lt(notifications.createdAt, opts.before));
  if (opts.unreadOnly) where.push(isNull(notifications.readAt));
  const items = await db
    .select()
    .from(notifications)
    .where(and(...where))
    .orderBy(desc(notifications.createdAt))
    .limit(limit);
  return { items, unread: await unreadCount(db, userId) };
}

/** How many unread notifications a user has (the bell's badge). */
export async function unreadCount(db: Db, userId: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(notifications)
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)));
  return Number(row?.n ?? 0);
}

/** Marks one of the user's notifications read; another user's id is NOT_FOUND. */
export async function markRead(db: Db, userId: string, id: string) {
  const UUID = /^[0-9a-f-]{36}$/i;
  if (!UUID.test(id)) throw notFound("Notification");
  const rows = await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(eq(notifications.id, id), eq(notifications.userId, userId)))
    .returning({ id: notifications.id, link: notifications.link });
  if (!rows.length) throw notFound("Notification");
  await changedFor(db, userId);
  return rows[0];
}

/** Marks every unread notification of the user read; returns how many changed. */
export async function markAllRead(db: Db, userId: string): Promise<number> {
  const rows = await db
    .update(notifications)
    .set({ readAt: new Date() })
    .where(and(eq(notifications.userId, userId), isNull(notifications.readAt)))
    .returning({ id: notifications.id });
  if (rows.length > 0) await changedFor(db, userId);
  return rows.length;
}

/**
 * Tells the user's open pages (in every process) that their notifications changed. Inside a transaction the
 * NOTIFY goes out when it commits, and never when it rolls back.
 */
async function changedFor(db: Db, userId: string) {
  await db.execute(sql`select pg_notify(${USER_EVENTS_CHANNEL}, ${userId})`);
}
