// E-mail verification and password reset of local accounts, both by an e-mailed single-use link.
//
// A link's token is `<row id>.<expiry>.<HMAC of purpose, id and expiry>`: the signature and the expiry are checked
// before the database is asked, and the `account_tokens` row makes the token single-use (`used_at`, set in the
// same statement that accepts it) and binds it to the address it was sent to.
import { createHmac } from "node:crypto";
import { and, eq, gt, isNull } from "drizzle-orm";
import { audit } from "../audit/service";
import type { Principal } from "../core/context";
import { safeEqual } from "../core/crypto";
import type { Db } from "../core/db";
import { AppError, invalidInput, unauthorized } from "../core/errors";
import { enqueueEmail, notify } from "../notifications/service";
import { users } from "../users/schema";
import { type AccountTokenPurpose, accountTokens, sessions } from "./schema";
import { hashPassword, normalizeEmail } from "./service";

/** What these flows need from the appliance. */
export interface AccountEmailDeps {
  db: Db;
  masterKey: Buffer;
}

/** Forms of these flows posted without a session: they carry the pre-session token (see PRE_SESSION_FORMS). */
export const ACCOUNT_PRE_SESSION_FORMS = ["/password/forgot", "/password/reset"];

/** How long a verification link works. */
export const VERIFY_TTL_MS = 24 * 3_600_000;
/** How long a password-reset link works. */
export const RESET_TTL_MS = 3_600_000;

const TOKEN = /^([0-9a-f-]{36})\.(\d{10})\.([A-Za-z0-9_-]{43})$/;

const sign = (masterKey: Buffer, purpose: AccountTokenPurpose, id: string, exp: number) =>
  createHmac("sha256", masterKey).update(`account-token:${purpose}:${id}:${exp}`).digest("base64url");

/** The error of a link that is malformed, forged, expired, used, or for an address the account no longer has. */
export const tokenInvalid = () =>
  new AppError("TOKEN_INVALID", "This link is not valid any more (it expired or was used); ask for a new one.", 400);

/** Issues a token for `userId` (inside the caller's transaction) and returns the value that goes in the link. */
async function issueToken(
  deps: AccountEmailDeps,
  db: Db,
  user: { id: string; email: string },
  purpose: AccountTokenPurpose,
  ttlMs: number,
): Promise<string> {
  const expiresAt = new Date(Math.ceil((Date.now() + ttlMs) / 1000) * 1000);
  // A new link replaces the older ones of the same purpose.
  await db
    .update(accountTokens)
    .set({ usedAt: new Date() })
    .where(and(eq(accountTokens.userId, user.id), eq(accountTokens.purpose, purpose), isNull(accountTokens.usedAt)));
  const [row] = await db
    .insert(accountTokens)
    .values({ userId: user.id, purpose, email: user.email, expiresAt })
    .returning({ id: accountTokens.id });
  const exp = expiresAt.getTime() / 1000;
  return `${row.id}.${exp}.${sign(deps.masterKey, purpose, row.id, exp)}`;
}

/** The row id of a well-formed, correctly signed, unexpired token; throws TOKEN_INVALID otherwise. */
function checkSignature(deps: AccountEmailDeps, token: string, purpose: AccountTokenPurpose): string {
  const m = TOKEN.exec(typeof token === "string" ? token : "");
  if (!m) throw tokenInvalid();
  const [, id, expText, mac] = m;
  const exp = Number(expText);
  if (!safeEqual(mac, sign(deps.masterKey, purpose, id, exp)) || exp * 1000 <= Date.now()) throw tokenInvalid();
  return id;
}

/** The live account a token was issued to, when the token is still usable (without using it). */
export async function peekToken(deps: AccountEmailDeps, token: string, purpose: AccountTokenPurpose) {
  const id = checkSignature(deps, token, purpose);
  const [row] = await deps.db
    .select({ userId: accountTokens.userId, email: accountTokens.email, usedAt: accountTokens.usedAt })
    .from(accountTokens)
    .innerJoin(users, eq(users.id, accountTokens.userId))
    .where(and(eq(accountTokens.id, id), eq(accountTokens.purpose, purpose), isNull(users.deletedAt)));
  if (!row || row.usedAt) throw tokenInvalid();
  return row;
}

/** Uses a token once (inside the caller's transaction): the account it belongs to, or TOKEN_INVALID. */
async function useToken(deps: AccountEmailDeps, tx: Db, token: string, purpose: AccountTokenPurpose) {
  const id = checkSignature(deps, token, purpose);
  const [used] = await tx
    .update(accountTokens)
    .set({ usedAt: new Date() })
    .where(and(eq(accountTokens.id, id), eq(accountTokens.purpose, purpose), isNull(accountTokens.usedAt)))
    .returning({ userId: accountTokens.userId, email: accountTokens.email });
  if (!used) throw tokenInvalid();
  const [user] = await tx
    .select({ id: users.id, email: users.email, deletedAt: users.deletedAt })
    .from(users)
    .where(eq(users.id, used.userId));
  // The account's address changed since the link was sent: the link proves nothing about the new one.
  if (!user || user.deletedAt || user.email !== used.email) throw tokenInvalid();
  return { userId: user.id, email: used.email };
}

// ---------------------------------------------------------------------------------------------------------------
// E-mail verification

/**
 * Queues the e-mail with a link that confirms the account's address (after sign-up, or when the user asks for a
 * new one). Does nothing for an address already confirmed or an account without one.
 */
export async function sendVerificationEmail(deps: AccountEmailDeps, userId: string): Promise<{ queued: boolean }> {
  return deps.db.transaction(async (tx) => {
    const [user] = await tx
      .select({ id: users.id, email: users.email, verified: users.emailVerified, deletedAt: users.deletedAt })
      .from(users)
      .where(eq(users.id, userId));
    if (!user?.email || user.verified || user.deletedAt) return { queued: false };
    const token = await issueToken(deps, tx, { id: user.id, email: user.email }, "VERIFY_EMAIL", VERIFY_TTL_MS);
    await enqueueEmail(tx, {
      to: user.email,
      subject: "Confirm your e-mail address",
      text: "Confirm that this address is yours: organizations can then invite you by it.",
      link: `/verify-email?token=${token}`,
      kind: "VERIFY_EMAIL",
      userId: user.id,
    });
    return { queued: true };
  });
}

/** The signed-in caller asks for a new verification link. */
export async function resendVerificationEmail(deps: AccountEmailDeps, principal: Principal | null) {
  if (!principal) throw unauthorized();
  const [user] = await deps.db
    .select({ email: users.email, verified: users.emailVerified })
    .from(users)
    .where(eq(users.id, principal.userId));
  if (!user?.email) throw invalidInput({ email: "This account has no e-mail address." });
  if (user.verified) throw new AppError("ALREADY_VERIFIED", "Your e-mail address is already confirmed.", 409);
  await sendVerificationEmail(deps, principal.userId);
  return { email: user.email };
}

/** Confirms the address a verification link was sent to. */
export async function verifyEmail(deps: AccountEmailDeps, token: string): Promise<{ userId: string; email: string }> {
  return deps.db.transaction(async (tx) => {
    const r = await useToken(deps, tx, token, "VERIFY_EMAIL");
    await tx.update(users).set({ emailVerified: true, updatedAt: new Date() }).where(eq(users.id, r.userId));
    await audit(tx, { actorId: r.userId, action: "user.email.verify", targetType: "user", targetId: r.userId });
    return r;
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Password reset

/**
 * Queues a reset link when a local account (one with a password) uses this address. Says nothing about whether
 * one does: the caller answers the same either way, and throttles.
 */
export async function requestPasswordReset(deps: AccountEmailDeps, email: string): Promise<void> {
  const address = normalizeEmail(typeof email === "string" ? email : "");
  if (!address || address.length > 254) return;
  await deps.db.transaction(async (tx) => {
    const [user] = await tx
      .select({ id: users.id, email: users.email, passwordHash: users.passwordHash, deletedAt: users.deletedAt })
      .from(users)
      .where(eq(users.email, address));
    if (!user?.email || !user.passwordHash || user.deletedAt) return;
    // One link a minute per account, whoever asks from wherever: nobody can flood an inbox through this form.
    const [recent] = await tx
      .select({ id: accountTokens.id })
      .from(accountTokens)
      .where(
        and(
          eq(accountTokens.userId, user.id),
          eq(accountTokens.purpose, "RESET_PASSWORD"),
          gt(accountTokens.createdAt, new Date(Date.now() - 60_000)),
        ),
      )
      .limit(1);
    if (recent) return;
    const token = await issueToken(deps, tx, { id: user.id, email: user.email }, "RESET_PASSWORD", RESET_TTL_MS);
    await enqueueEmail(tx, {
      to: user.email,
      subject: "Reset your password",
      text: "Someone (we hope you) asked to reset the password of your account.",
      link: `/password/reset?token=${token}`,
      kind: "PASSWORD_RESET",
      userId: user.id,
    });
  });
}

/** Field errors of a new password, empty when it is acceptable (the sign-up rule). */
export function checkNewPassword(password: unknown): Record<string, string> {
  if (typeof password !== "string" || password.length < 10 || password.length > 256) {
    return { password: "Use 10 to 256 characters." };
  }
  return {};
}

/**
 * Sets a new password with a reset link: the link is used up, every session of the account ends, and the
 * account's address counts as confirmed (the link reached it).
 */
export async function resetPassword(
  deps: AccountEmailDeps,
  input: { token: string; password: string },
): Promise<{ userId: string }> {
  const errors = checkNewPassword(input.password);
  checkSignature(deps, input.token, "RESET_PASSWORD"); // a forged link costs no password hashing
  if (Object.keys(errors).length) throw invalidInput(errors);
  const passwordHash = await hashPassword(input.password);
  return deps.db.transaction(async (tx) => {
    const r = await useToken(deps, tx, input.token, "RESET_PASSWORD");
    await tx
      .update(users)
      .set({ passwordHash, emailVerified: true, updatedAt: new Date() })
      .where(eq(users.id, r.userId));
    await tx
      .update(sessions)
      .set({ revokedAt: new Date() })
      .where(and(eq(sessions.userId, r.userId), isNull(sessions.revokedAt)));
    await audit(tx, { actorId: r.userId, action: "user.password.reset", targetType: "user", targetId: r.userId });
    await notify(tx, r.userId, {
      type: "SECURITY",
      title: "Your password was reset",
      body: "Every browser was signed out. If this was not you, reset your password again and check your wallets.",
      link: "/profile",
    });
    return { userId: r.userId };
  });
}
