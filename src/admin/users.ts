// The admin console's user management: the list with search and paging, admin rights, disabling an account and
// ending its sessions. Every function checks that the caller is a platform admin.
import { and, count, desc, eq, gt, ilike, isNull, ne, or, sql } from "drizzle-orm";
import { audit } from "../audit/service";
import { sessions } from "../auth/schema";
import { type Principal, requireAdmin } from "../core/context";
import type { Db } from "../core/db";
import { conflict, notFound } from "../core/errors";
import { users } from "../users/schema";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Users per page of the admin list. */
export const USERS_PER_PAGE = 25;

/** One user as the admin list shows them. */
export interface AdminUserRow {
  id: string;
  name: string;
  email: string | null;
  githubLogin: string | null;
  isAdmin: boolean;
  disabledAt: Date | null;
  liveSessions: number;
  createdAt: Date;
}

// qualified by hand: drizzle writes bare column names inside sql``, and a bare "id" would be the session's
const liveSessions = sql<number>`(select count(*)::int from sessions s where s.user_id = "users"."id"
  and s.revoked_at is null and s.expires_at > now())`;

/** Accounts (deleted ones left out), newest first, filtered by name, e-mail or GitHub login; a page at a time. */
export async function listUsers(db: Db, principal: Principal | null, opts: { q?: string; page?: number } = {}) {
  requireAdmin(principal);
  const page = Math.max(1, Math.floor(opts.page ?? 1));
  const q = opts.q?.trim().slice(0, 100);
  // the search is literal: % and _ typed by the admin match themselves
  const like = q ? `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : undefined;
  const where = and(
    isNull(users.deletedAt),
    like ? or(ilike(users.name, like), ilike(users.email, like), ilike(users.githubLogin, like)) : undefined,
  );
  const rows = await db
    .select({
      id: users.id,
      name: users.name,
      email: users.email,
      githubLogin: users.githubLogin,
      isAdmin: users.isAdmin,
      disabledAt: users.disabledAt,
      liveSessions,
      createdAt: users.createdAt,
    })
    .from(users)
    .where(where)
    .orderBy(desc(users.createdAt), desc(users.id))
    .limit(USERS_PER_PAGE)
    .offset((page - 1) * USERS_PER_PAGE);
  const [{ total }] = await db.select({ total: count() }).from(users).where(where);
  return {
    users: rows as AdminUserRow[],
    page,
    total,
    pages: Math.max(1, Math.ceil(total / USERS_PER_PAGE)),
    q: q ?? "",
  };
}

async function loadUser(db: Db, userId: string) {
  if (!UUID.test(userId)) throw notFound("User");
  const [u] = await db
    .select()
    .from(users)
    .where(and(eq(users.id, userId), isNull(users.deletedAt)));
  if (!u) throw notFound("User");
  return u;
}

/** Whether another active admin (not deleted, not disabled) than `userId` exists. */
async function otherActiveAdmin(db: Db, userId: string) {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.isAdmin, true), isNull(users.deletedAt), isNull(users.disabledAt), ne(users.id, userId)))
    .limit(1);
  return !!row;
}

/** Revokes every live session of a user; returns how many. */
async function revokeAll(db: Db, userId: string) {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date())))
    .returning({ id: sessions.id });
  return rows.length;
}

/** Makes a user a platform admin, or takes the right away; the last active admin always keeps it. */
export async function setAdmin(db: Db, principal: Principal | null, userId: string, isAdmin: boolean) {
  const p = requireAdmin(principal);
  const u = await loadUser(db, userId);
  if (u.isAdmin === isAdmin) return { id: u.id, isAdmin };
  if (!isAdmin && !(await otherActiveAdmin(db, u.id))) {
    throw conflict("This is the last admin: make someone else an admin first.", "LAST_ADMIN");
  }
  await db.update(users).set({ isAdmin, updatedAt: new Date() }).where(eq(users.id, u.id));
  await audit(db, {
    actorId: p.userId,
    action: isAdmin ? "user.admin.grant" : "user.admin.revoke",
    targetType: "user",
    targetId: u.id,
  });
  return { id: u.id, isAdmin };
}

/**
 * Disables an account (it cannot sign in; its sessions end and its API keys stop working) or enables it again.
 * Nobody disables their own account, nor the last active admin.
 */
export async function setDisabled(db: Db, principal: Principal | null, userId: string, disabled: boolean) {
  const p = requireAdmin(principal);
  const u = await loadUser(db, userId);
  if (!disabled) {
    if (u.disabledAt) {
      await db.update(users).set({ disabledAt: null, updatedAt: new Date() }).where(eq(users.id, u.id));
      await audit(db, { actorId: p.userId, action: "user.enable", targetType: "user", targetId: u.id });
    }
    return { id: u.id, disabled: false, sessionsEnded: 0 };
  }
  if (u.id === p.userId) throw conflict("You cannot disable your own account.");
  if (u.isAdmin && !(await otherActiveAdmin(db, u.id))) {
    throw conflict("This is the last admin: make someone else an admin first.", "LAST_ADMIN");
  }
  let sessionsEnded = 0;
  await db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ disabledAt: u.disabledAt ?? new Date(), updatedAt: new Date() })
      .where(eq(users.id, u.id));
    sessionsEnded = await revokeAll(tx as unknown as Db, u.id);
  });
  if (!u.disabledAt) {
    await audit(db, {
      actorId: p.userId,
      action: "user.disable",
      targetType: "user",
      targetId: u.id,
      payload: { sessionsEnded },
    });
  }
  return { id: u.id, disabled: true, sessionsEnded };
}

/** Ends every session of a user (they sign in again); returns how many ended. */
export async function endSessions(db: Db, principal: Principal | null, userId: string) {
  const p = requireAdmin(principal);
  const u = await loadUser(db, userId);
  const sessionsEnded = await revokeAll(db, u.id);
  await audit(db, {
    actorId: p.userId,
    action: "user.sessions.end",
    targetType: "user",
    targetId: u.id,
    payload: { sessionsEnded },
  });
  return { id: u.id, sessionsEnded };
}
