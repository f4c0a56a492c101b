// Local accounts, browser sessions and API keys. Secrets (passwords, session cookies, API keys) are stored only
// as hashes: argon2id for passwords, SHA-256 for random high-entropy tokens.
import { randomBytes } from "node:crypto";
import { and, desc, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import { audit } from "../audit/service";
import type { Principal } from "../core/context";
import { safeEqual, sha256Hex } from "../core/crypto";
import { type Db, preparedFor } from "../core/db";
import { AppError, conflict, forbidden, invalidInput, notFound, unauthorized, type FieldErrors } from "../core/errors";
import { notify } from "../notifications/service";
import { isUuid } from "../orgs/permissions";
import { users } from "../users/schema";
import { apiKeys, sessions } from "./schema";
import { createSignInThrottle } from "./throttle";

/**
 * Back-off of password confirmations (re-confirming before wallet changes, changing the password). The caller
 * already holds the account's session, so the key is the account: a stolen cookie cannot try passwords at speed.
 */
const confirmations = createSignInThrottle({ pairFreeFailures: 5 });

/** A random URL-safe token with `bytes` of entropy. */
export const randomToken = (bytes = 32) => randomBytes(bytes).toString("base64url");

/** Normalizes an e-mail address for storage and comparison. */
export const normalizeEmail = (email: string) => email.trim().toLowerCase();

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Field errors for a new local account, empty when it is acceptable. */
export function checkAccountInput(input: { email: string; password: string; name: string }): FieldErrors {
  const errors: FieldErrors = {};
  if (!EMAIL.test(input.email.trim()) || input.email.length > 254) errors.email = "Enter a valid e-mail address.";
  if (input.password.length < 10) errors.password = "Use at least 10 characters.";
  else if (input.password.length > 256) errors.password = "Use at most 256 characters.";
  if (!input.name.trim()) errors.name = "Enter your name.";
  else if (input.name.length > 100) errors.name = "Use at most 100 characters.";
  return errors;
}

/** argon2id, Bun's defaults (64 MiB, 2 iterations). */
export const hashPassword = (password: string) => Bun.password.hash(password, { algorithm: "argon2id" });

// Verified against when the e-mail is unknown, so a miss costs as much time as a hit.
let dummyHash: Promise<string> | undefined;

/** The user with this e-mail and password, or null. Takes the same time whether or not the e-mail exists. */
export async function verifyCredentials(db: Db, email: string, password: string) {
  const [user] = await db
    .select()
    .from(users)
    .where(and(eq(users.email, normalizeEmail(email)), isNull(users.deletedAt)));
  if (!user?.passwordHash) {
    dummyHash ??= hashPassword(randomToken());
    await Bun.password.verify(password, await dummyHash);
    return null;
  }
  return (await Bun.password.verify(password, user.passwordHash)) ? user : null;
}

/** Whether a platform admin exists (until then, every page leads to setup). */
export async function hasAdmin(db: Db): Promise<boolean> {
  const [row] = await db
    .select({ id: users.id })
    .from(users)
    .where(and(eq(users.isAdmin, true), isNull(users.deletedAt)))
    .limit(1);
  return !!row;
}

/** Creates a local account; `isAdmin` only from setup, the CLI or an admin. */
export async function createLocalUser(
  db: Db,
  input: { email: string; password: string; name: string; isAdmin?: boolean; emailVerified?: boolean },
) {
  const errors = checkAccountInput(input);
  if (Object.keys(errors).length) throw invalidInput(errors);
  const email = normalizeEmail(input.email);
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    const [existing] = await tx.select({ id: users.id }).from(users).where(eq(users.email, email));
    if (existing)
      throw conflict("An account with this e-mail already exists.", "EMAIL_TAKEN", {
        fields: { email: "already registered" },
      });
    const [user] = await tx
      .insert(users)
      .values({
        email,
        name: input.name.trim(),
        passwordHash,
        isAdmin: !!input.isAdmin,
        emailVerified: !!input.emailVerified,
      })
      .returning();
    await audit(tx, {
      actorId: user.id,
      action: input.isAdmin ? "user.create.admin" : "user.create",
      targetType: "user",
      targetId: user.id,
      payload: { method: "password" },
    });
    return user;
  });
}

/**
 * Changes the signed-in user's password after checking the current one, then signs every session out (the
 * caller opens a fresh one: rotation) and tells the user. Browser sessions only.
 */
export async function changePassword(
  db: Db,
  principal: Principal | null,
  input: { currentPassword: string; newPassword: string },
) {
  const p = requireBrowserSession(principal);
  const [user] = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, p.userId));
  if (!user?.passwordHash) {
    throw invalidInput({ currentPassword: "This account signs in with GitHub and has no password to change." });
  }
  const key = `account:${p.userId}`;
  confirmations.check(key, "confirm");
  if (!(await Bun.password.verify(input.currentPassword, user.passwordHash))) {
    confirmations.failed(key, "confirm");
    throw invalidInput({ currentPassword: "The password is not right." }, "The current password is not right.");
  }
  confirmations.succeeded(key, "confirm");
  const password = input.newPassword;
  if (password.length < 10 || password.length > 256) throw invalidInput({ newPassword: "Use 10 to 256 characters." });
  const passwordHash = await hashPassword(password);
  await db.transaction(async (tx) => {
    await tx.update(users).set({ passwordHash, updatedAt: new Date() }).where(eq(users.id, p.userId));
    await tx
      .update(sessions)
      .set({ revokedAt: new Date() })
      .where(and(eq(sessions.userId, p.userId), isNull(sessions.revokedAt)));
    await audit(tx, { actorId: p.userId, action: "user.password.change", targetType: "user", targetId: p.userId });
    await notify(tx, p.userId, {
      type: "SECURITY",
      title: "Your password was changed",
      body: "Every browser was signed out. If this was not you, reset your password and check your wallets.",
      link: "/profile",
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions

/** A new session: the cookie value (shown to the browser only) and the CSRF token of its forms. */
export interface NewSession {
  id: string;
  token: string;
  csrfToken: string;
  expiresAt: Date;
}

/** Opens a browser session. `replacing` (the cookie the browser sent, if any) is revoked: rotation at sign-in. */
export async function createSession(
  db: Db,
  userId: string,
  opts: { days?: number; userAgent?: string | null; ip?: string | null; replacing?: string | null } = {},
): Promise<NewSession> {
  // Every way of signing in opens its session here: an account an admin disabled gets none.
  const [user] = await db.select({ disabledAt: users.disabledAt }).from(users).where(eq(users.id, userId));
  if (user?.disabledAt) throw forbidden("This account is disabled; ask an admin.");
  const token = randomToken();
  const csrfToken = randomToken();
  const expiresAt = new Date(Date.now() + (opts.days ?? 30) * 86_400_000);
  if (opts.replacing) await revokeSessionByToken(db, opts.replacing);
  const [row] = await db
    .insert(sessions)
    .values({
      userId,
      tokenHash: sha256Hex(token),
      csrfToken,
      expiresAt,
      userAgent: opts.userAgent?.slice(0, 300) ?? null,
      ip: opts.ip ?? null,
    })
    .returning({ id: sessions.id });
  return { id: row.id, token, csrfToken, expiresAt };
}

/** Revokes the session a cookie belongs to (sign-out). */
export async function revokeSessionByToken(db: Db, token: string) {
  await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.tokenHash, sha256Hex(token)), isNull(sessions.revokedAt)));
}

/** Revokes one of the user's sessions (from the profile page); another user's id is NOT_FOUND. */
export async function revokeSession(db: Db, userId: string, sessionId: string) {
  if (!isUuid(sessionId)) throw notFound("Session");
  const rows = await db
    .update(sessions)
    .set({ revokedAt: new Date() })
    .where(and(eq(sessions.id, sessionId), eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  if (!rows.length) throw notFound("Session");
  await audit(db, { actorId: userId, action: "session.revoke", targetType: "session", targetId: sessionId });
}

/** The user's live sessions, newest first (no secrets). */
export async function listSessions(db: Db, userId: string) {
  return db
    .select({
      id: sessions.id,
      userAgent: sessions.userAgent,
      ip: sessions.ip,
      createdAt: sessions.createdAt,
      lastSeenAt: sessions.lastSeenAt,
      expiresAt: sessions.expiresAt,
    })
    .from(sessions)
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, new Date())))
    .orderBy(desc(sessions.lastSeenAt));
}

const TOUCH_EVERY_MS = 5 * 60_000;

// Every signed-in request runs this lookup, so it is built once (see preparedFor).
const sessionByHash = preparedFor((db) =>
  db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.tokenHash, sql.placeholder("hash")),
        isNull(sessions.revokedAt),
        gt(sessions.expiresAt, sql.placeholder("now")),
        isNull(users.deletedAt),
        isNull(users.disabledAt),
      ),
    )
    .prepare("session_by_hash"),
);

/** What a credential resolved to, with the times that decide how long it may be used without a new lookup. */
export interface ResolvedCredential {
  principal: Principal;
  /** When the session or key stops being valid (null: never). */
  expiresAt: Date | null;
  /** When the next lookup must happen anyway, to record the use (last seen / last used). */
  recordUseBy: Date;
}

/** The principal behind a session cookie, or null when it is unknown, expired, revoked or the user is gone. */
export async function resolveSession(db: Db, token: string): Promise<Principal | null> {
  return (await lookupSession(db, token))?.principal ?? null;
}

/** resolveSession with the session's expiry; records the use (at most every five minutes). */
export async function lookupSession(db: Db, token: string): Promise<ResolvedCredential | null> {
  if (!token || token.length > 100) return null;
  const now = new Date();
  const [row] = await sessionByHash(db).execute({ hash: sha256Hex(token), now: now.toISOString() });
  if (!row) return null;
  let seen = row.session.lastSeenAt;
  if (now.getTime() - seen.getTime() > TOUCH_EVERY_MS) {
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, row.session.id));
    seen = now;
  }
  return {
    principal: {
      userId: row.user.id,
      name: row.user.name,
      email: row.user.email,
      isAdmin: row.user.isAdmin,
      via: "session",
      csrfToken: row.session.csrfToken,
      emailVerified: row.user.emailVerified,
      sessionId: row.session.id,
      // Sessions open only at sign-in (and re-open at a password re-confirmation), so their start is that moment.
      authenticatedAt: row.session.createdAt,
    },
    expiresAt: row.session.expiresAt,
    recordUseBy: new Date(seen.getTime() + TOUCH_EVERY_MS),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// API keys

/** Scopes an API key can carry: `read` (GET), `write` (changes), `admin` (an admin's platform-wide rights). */
export const API_SCOPES = ["read", "write", "admin"] as const;
export type ApiScope = (typeof API_SCOPES)[number];

const KEY_FORMAT = /^dsk_([A-Za-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

/** Creates an API key; the raw key is returned once and never stored. */
export async function createApiKey(
  db: Db,
  userId: string,
  input: { name: string; scopes: string[]; expiresInDays?: number | null },
) {
  const name = input.name.trim();
  const fields: FieldErrors = {};
  if (!name || name.length > 80) fields.name = "Give the key a name of 1 to 80 characters.";
  const scopes = [...new Set(input.scopes)];
  if (!scopes.length || scopes.some((s) => !API_SCOPES.includes(s as ApiScope))) {
    fields.scopes = `Choose scopes among ${API_SCOPES.join(", ")}.`;
  }
  if (input.expiresInDays != null && !(input.expiresInDays >= 1 && input.expiresInDays <= 3650)) {
    fields.expiresInDays = "Between 1 and 3650 days.";
  }
  if (Object.keys(fields).length) throw invalidInput(fields);
  const [user] = await db.select({ isAdmin: users.isAdmin }).from(users).where(eq(users.id, userId));
  if (scopes.includes("admin") && !user?.isAdmin) throw invalidInput({ scopes: "Only admins can create admin keys." });
  const id = randomBytes(9).toString("base64url").replace(/[-_]/g, "x").slice(0, 12);
  const prefix = `dsk_${id}`;
  const key = `${prefix}_${randomToken()}`;
  const [row] = await db
    .insert(apiKeys)
    .values({
      userId,
      name,
      prefix,
      keyHash: sha256Hex(key),
      scopes,
      expiresAt: input.expiresInDays ? new Date(Date.now() + input.expiresInDays * 86_400_000) : null,
    })
    .returning();
  await audit(db, {
    actorId: userId,
    action: "api-key.create",
    targetType: "api-key",
    targetId: row.id,
    payload: { prefix, scopes },
  });
  return { key, apiKey: publicApiKey(row) };
}

/** An API key as shown to its owner (never the hash). */
export const publicApiKey = (k: typeof apiKeys.$inferSelect) => ({
  id: k.id,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  createdAt: k.createdAt,
  lastUsedAt: k.lastUsedAt,
  expiresAt: k.expiresAt,
  revokedAt: k.revokedAt,
});

/** The user's API keys, newest first. */
export async function listApiKeys(db: Db, userId: string) {
  const rows = await db.select().from(apiKeys).where(eq(apiKeys.userId, userId)).orderBy(desc(apiKeys.createdAt));
  return rows.map(publicApiKey);
}

/** Revokes one of the user's keys; another user's key is NOT_FOUND. */
export async function revokeApiKey(db: Db, userId: string, keyId: string) {
  if (!isUuid(keyId)) throw notFound("API key");
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: new Date() })
    .where(and(eq(apiKeys.id, keyId), eq(apiKeys.userId, userId), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id, prefix: apiKeys.prefix });
  if (!rows.length) throw notFound("API key");
  await audit(db, {
    actorId: userId,
    action: "api-key.revoke",
    targetType: "api-key",
    targetId: keyId,
    payload: { prefix: rows[0].prefix },
  });
}

const apiKeyByPrefix = preparedFor((db) =>
  db
    .select({ key: apiKeys, user: users })
    .from(apiKeys)
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(
      and(
        eq(apiKeys.prefix, sql.placeholder("prefix")),
        isNull(apiKeys.revokedAt),
        or(isNull(apiKeys.expiresAt), gt(apiKeys.expiresAt, sql.placeholder("now"))),
        isNull(users.deletedAt),
        isNull(users.disabledAt),
      ),
    )
    .prepare("api_key_by_prefix"),
);

/** The principal behind a raw API key, or null. Records the last use (at most once a minute). */
export async function resolveApiKey(db: Db, key: string): Promise<Principal | null> {
  return (await lookupApiKey(db, key))?.principal ?? null;
}

/** resolveApiKey with the key's expiry. */
export async function lookupApiKey(db: Db, key: string): Promise<ResolvedCredential | null> {
  const m = KEY_FORMAT.exec(key);
  if (!m) return null;
  const now = new Date();
  const [row] = await apiKeyByPrefix(db).execute({ prefix: `dsk_${m[1]}`, now: now.toISOString() });
  if (!row || !safeEqual(row.key.keyHash, sha256Hex(key))) return null;
  let used = row.key.lastUsedAt;
  if (!used || now.getTime() - used.getTime() > 60_000) {
    await db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, row.key.id));
    used = now;
  }
  const scopes = row.key.scopes;
  return {
    principal: {
      userId: row.user.id,
      name: row.user.name,
      email: row.user.email,
      // An admin's key acts as admin only with the admin scope.
      isAdmin: row.user.isAdmin && scopes.includes("admin"),
      via: "api-key",
      scopes,
    },
    expiresAt: row.key.expiresAt,
    recordUseBy: new Date(used.getTime() + 60_000),
  };
}

/** Removes sessions that ended more than a week ago (housekeeping). */
export async function pruneSessions(db: Db) {
  const cutoff = new Date(Date.now() - 7 * 86_400_000);
  await db.delete(sessions).where(or(lt(sessions.expiresAt, cutoff), lt(sessions.revokedAt, cutoff)));
}

// ---------------------------------------------------------------------------------------------------------------
// Recent sign-in (before changes an attacker with a stolen session would want: payout wallets, the password)

/** How long after signing in (or re-confirming) a session may change payout wallets. */
export const RECENT_SIGN_IN_MS = 5 * 60_000;

/** Throws unless the caller is a browser session: API keys may not make these changes (403). */
export function requireBrowserSession(p: Principal | null): Principal & { sessionId: string } {
  if (!p) throw unauthorized();
  if (p.via !== "session" || !p.sessionId) throw forbidden("This needs a signed-in browser; API keys cannot do it.");
  return p as Principal & { sessionId: string };
}

/** Throws REAUTH_REQUIRED (403) unless the session signed in, or re-confirmed its password, a few minutes ago. */
export function requireRecentSignIn(principal: Principal | null, now = Date.now()): Principal {
  const p = requireBrowserSession(principal);
  if (!p.authenticatedAt || now - p.authenticatedAt.getTime() > RECENT_SIGN_IN_MS) {
    throw new AppError(
      "REAUTH_REQUIRED",
      "Confirm your password (or sign in with GitHub again) first: this change needs a sign-in from the last few minutes.",
      403,
    );
  }
  return p;
}

/** Throws INVALID_INPUT unless the password is right for the user (before sensitive changes). */
export async function confirmPassword(db: Db, userId: string, password: string) {
  confirmations.check(`account:${userId}`, "confirm");
  const [user] = await db.select({ passwordHash: users.passwordHash }).from(users).where(eq(users.id, userId));
  if (!user?.passwordHash || !(await Bun.password.verify(password, user.passwordHash))) {
    confirmations.failed(`account:${userId}`, "confirm");
    throw invalidInput({ password: "The password is not right." }, "The password is not right.");
  }
  confirmations.succeeded(`account:${userId}`, "confirm");
}

/**
 * Re-confirms the signed-in user with their password and replaces the session with a fresh one (a new cookie and
 * CSRF token), which counts as a recent sign-in.
 */
export async function reauthenticate(
  db: Db,
  principal: Principal | null,
  password: string,
  opts: { days?: number; userAgent?: string | null; ip?: string | null } = {},
): Promise<NewSession> {
  const p = requireBrowserSession(principal);
  await confirmPassword(db, p.userId, password);
  await db.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.id, p.sessionId));
  const fresh = await createSession(db, p.userId, opts);
  await audit(db, { actorId: p.userId, action: "session.reauthenticate", targetType: "session", targetId: fresh.id });
  return fresh;
}
