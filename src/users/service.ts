// The signed-in user's own data: profile, onboarding, wallets (SIWE), GDPR export and account deletion.
import { and, asc, count, desc, eq, isNull, lt, ne, sql } from "drizzle-orm";
import { getAddress, verifyMessage } from "viem";
import { createSiweMessage, generateSiweNonce, parseSiweMessage, validateSiweMessage } from "viem/siwe";
import { accountTokens, apiKeys, sessions } from "../auth/schema";
import { requireRecentSignIn } from "../auth/service";
import { auditLog } from "../audit/schema";
import { audit, redactAuditFor } from "../audit/service";
import type { Principal } from "../core/context";
import type { Db } from "../core/db";
import { conflict, forbidden, invalidInput, notFound, unauthorized, zodFieldErrors } from "../core/errors";
import { forgetInvitesFor, type InviteDeps, listMyInvites } from "../invites/service";
import { orgInvites } from "../invites/schema";
import { emailOutbox, notifications } from "../notifications/schema";
import { notify } from "../notifications/service";
import { isUuid } from "../orgs/permissions";
import { orgMembers, orgs } from "../orgs/schema";
import { userDataHooks } from "./data-hooks";
import { MeUpdateRequest, USER_ROLES, WalletChallengeRequest, WalletLinkRequest } from "./model";
import { users, walletNonces, wallets, type UserRole } from "./schema";

type User = typeof users.$inferSelect;

function requireWriter(p: Principal | null): Principal {
  if (!p) throw unauthorized();
  if (p.via === "api-key" && !p.scopes?.includes("write")) throw forbidden("This API key lacks the write scope.");
  return p;
}

async function loadUser(db: Db, p: Principal | null): Promise<User> {
  if (!p) throw unauthorized();
  const [u] = await db.select().from(users).where(eq(users.id, p.userId));
  if (!u || u.deletedAt) throw unauthorized();
  return u;
}

/** The profile as GET /api/me returns it. */
export async function getMe(db: Db, p: Principal | null) {
  const u = await loadUser(db, p);
  const [payout] = await db
    .select({ address: wallets.address })
    .from(wallets)
    .where(and(eq(wallets.userId, u.id), eq(wallets.isPayout, true)));
  return {
    id: u.id,
    name: u.name,
    email: u.email,
    emailVerified: u.emailVerified,
    githubLogin: u.githubLogin,
    avatarUrl: u.avatarUrl,
    isAdmin: u.isAdmin,
    roles: u.roles,
    preferences: { emailNotifications: u.preferences?.emailNotifications !== false },
    onboarded: !!u.onboardedAt,
    hasPassword: !!u.passwordHash,
    payoutAddress: payout?.address ?? null,
    createdAt: u.createdAt,
  };
}

/** Changes name, roles (sponsor/contributor, both allowed) or preferences. */
export async function updateMe(db: Db, principal: Principal | null, input: unknown) {
  const p = requireWriter(principal);
  const r = MeUpdateRequest.safeParse(input);
  if (!r.success) throw invalidInput(zodFieldErrors(r.error.issues));
  const u = await loadUser(db, p);
  const patch: Partial<User> = { updatedAt: new Date() };
  if (r.data.name !== undefined) patch.name = r.data.name;
  if (r.data.roles !== undefined) patch.roles = [...new Set(r.data.roles)] as UserRole[];
  if (r.data.preferences !== undefined) patch.preferences = { ...u.preferences, ...r.data.preferences };
  await db.update(users).set(patch).where(eq(users.id, u.id));
  if (r.data.roles !== undefined) {
    await audit(db, {
      actorId: u.id,
      action: "user.roles.change",
      targetType: "user",
      targetId: u.id,
      payload: { roles: patch.roles },
    });
  }
  return getMe(db, p);
}

/** Onboarding: stores the chosen roles (at least one) and marks the user onboarded. */
export async function completeOnboarding(db: Db, principal: Principal | null, roles: string[]) {
  const p = requireWriter(principal);
  const chosen = [...new Set(roles)].filter((r): r is UserRole => (USER_ROLES as readonly string[]).includes(r));
  if (!chosen.length) throw invalidInput({ roles: "Choose sponsor, contributor or both." });
  await db
    .update(users)
    .set({ roles: chosen, onboardedAt: new Date(), updatedAt: new Date() })
    .where(eq(users.id, p.userId));
  await audit(db, {
    actorId: p.userId,
    action: "user.onboard",
    targetType: "user",
    targetId: p.userId,
    payload: { roles: chosen },
  });
  return chosen;
}

// ---------------------------------------------------------------------------------------------------------------
// Wallets (EIP-4361)

/** Where SIWE messages must say they come from: this site's host and origin. */
export interface SiweSite {
  domain: string;
  uri: string;
}

const NONCE_TTL_MS = 10 * 60_000;

/** Builds the EIP-4361 message the user signs to prove control of `address` (valid 10 minutes, single use). */
export async function createWalletChallenge(db: Db, principal: Principal | null, input: unknown, site: SiweSite) {
  const p = requireWriter(principal);
  const r = WalletChallengeRequest.safeParse(input);
  if (!r.success) throw invalidInput(zodFieldErrors(r.error.issues));
  const address = getAddress(r.data.address);
  const nonce = generateSiweNonce();
  const issuedAt = new Date();
  const expirationTime = new Date(issuedAt.getTime() + NONCE_TTL_MS);
  await db.delete(walletNonces).where(lt(walletNonces.expiresAt, issuedAt)); // housekeeping
  await db.insert(walletNonces).values({ nonce, userId: p.userId, expiresAt: expirationTime });
  const message = createSiweMessage({
    address,
    chainId: r.data.chainId,
    domain: site.domain,
    uri: site.uri,
    nonce,
    version: "1",
    statement: "Link this wallet to my DevSponsor account.",
    issuedAt,
    expirationTime,
  });
  return { message, nonce, expiresAt: expirationTime };
}

/**
 * Verifies a signed SIWE message (domain, time window, unused nonce issued to this user, ECDSA signature of the
 * stated address) and links the address. The first linked wallet receives payouts. Needs a recent sign-in in a
 * browser (not an API key); the user is told.
 */
export async function linkWallet(db: Db, principal: Principal | null, input: unknown, site: SiweSite) {
  const p = requireRecentSignIn(principal);
  const r = WalletLinkRequest.safeParse(input);
  if (!r.success) throw invalidInput(zodFieldErrors(r.error.issues));
  const { signature } = r.data;
  // A browser sends a textarea's lines with CRLF (HTML form encoding); the wallet signed the message with LF.
  const message = r.data.message.replace(/\r\n/g, "\n");
  const parsed = parseSiweMessage(message);
  const bad = (why: string) => invalidInput({ signature: why }, "The wallet signature was not accepted.");
  if (!parsed.address || !parsed.nonce || !parsed.chainId)
    throw bad("The message is not a Sign-In with Ethereum message.");
  if (!validateSiweMessage({ message: parsed, domain: site.domain, nonce: parsed.nonce, time: new Date() })) {
    throw bad("The message is for another site or has expired.");
  }
  if (parsed.uri && new URL(parsed.uri).origin !== new URL(site.uri).origin)
    throw bad("The message is for another site.");
  let valid = false;
  try {
    valid = await verifyMessage({ address: parsed.address, message, signature: signature as `0x${string}` });
  } catch {
    valid = false;
  }
  if (!valid) throw bad("The signature does not match the address.");
  const address = getAddress(parsed.address);
  return db.transaction(async (tx) => {
    const used = await tx
      .update(walletNonces)
      .set({ usedAt: new Date() })
      .where(
        and(
          eq(walletNonces.nonce, parsed.nonce!),
          eq(walletNonces.userId, p.userId),
          isNull(walletNonces.usedAt),
          sql`${walletNonces.expiresAt} > now()`,
        ),
      )
      .returning({ nonce: walletNonces.nonce });
    if (!used.length) throw bad("The message was already used or was not issued to you; ask for a new one.");
    const [taken] = await tx
      .select({ userId: wallets.userId })
      .from(wallets)
      .where(sql`lower(${wallets.address}) = ${address.toLowerCase()}`);
    if (taken) {
      throw conflict(
        taken.userId === p.userId ? "This wallet is already linked." : "This wallet is linked to another account.",
        "WALLET_TAKEN",
      );
    }
    const [existing] = await tx.select({ n: count() }).from(wallets).where(eq(wallets.userId, p.userId));
    const [w] = await tx
      .insert(wallets)
      .values({
        userId: p.userId,
        address,
        chainId: String(parsed.chainId),
        isPayout: Number(existing?.n ?? 0) === 0,
        siweMessage: message,
        signature,
      })
      .returning();
    await audit(tx, {
      actorId: p.userId,
      action: "wallet.link",
      targetType: "wallet",
      targetId: w.id,
      payload: { address, chainId: w.chainId, isPayout: w.isPayout },
    });
    await tellWalletChange(
      tx,
      p.userId,
      w.isPayout ? `Payouts now go to ${address}.` : `Wallet ${address} was linked.`,
    );
    return publicWallet(w);
  });
}

const publicWallet = (w: typeof wallets.$inferSelect) => ({
  id: w.id,
  address: w.address,
  chainId: w.chainId,
  isPayout: w.isPayout,
  createdAt: w.createdAt,
});

/** The user's wallets, payout address first. */
export async function listWallets(db: Db, principal: Principal | null) {
  const u = await loadUser(db, principal);
  const rows = await db
    .select()
    .from(wallets)
    .where(eq(wallets.userId, u.id))
    .orderBy(desc(wallets.isPayout), asc(wallets.createdAt));
  return rows.map(publicWallet);
}

/** Marks one of the user's wallets as the payout address (recent sign-in in a browser; the user is told). */
export async function setPayoutWallet(db: Db, principal: Principal | null, walletId: string) {
  const p = requireRecentSignIn(principal);
  if (!isUuid(walletId)) throw notFound("Wallet");
  return db.transaction(async (tx) => {
    const [w] = await tx
      .select()
      .from(wallets)
      .where(and(eq(wallets.id, walletId), eq(wallets.userId, p.userId)));
    if (!w) throw notFound("Wallet");
    await tx
      .update(wallets)
      .set({ isPayout: false })
      .where(and(eq(wallets.userId, p.userId), ne(wallets.id, walletId)));
    await tx.update(wallets).set({ isPayout: true }).where(eq(wallets.id, walletId));
    await audit(tx, {
      actorId: p.userId,
      action: "wallet.payout.set",
      targetType: "wallet",
      targetId: walletId,
      payload: { address: w.address },
    });
    await tellWalletChange(tx, p.userId, `Payouts now go to ${w.address}.`);
    return { ...publicWallet(w), isPayout: true };
  });
}

/** Unlinks one of the user's wallets (recent sign-in in a browser; the user is told). */
export async function removeWallet(db: Db, principal: Principal | null, walletId: string) {
  const p = requireRecentSignIn(principal);
  if (!isUuid(walletId)) throw notFound("Wallet");
  await db.transaction(async (tx) => {
    const rows = await tx
      .delete(wallets)
      .where(and(eq(wallets.id, walletId), eq(wallets.userId, p.userId)))
      .returning({ address: wallets.address, isPayout: wallets.isPayout });
    if (!rows.length) throw notFound("Wallet");
    const { address, isPayout } = rows[0];
    await audit(tx, {
      actorId: p.userId,
      action: "wallet.unlink",
      targetType: "wallet",
      targetId: walletId,
      payload: { address, isPayout },
    });
    await tellWalletChange(
      tx,
      p.userId,
      isPayout
        ? `Payout wallet ${address} was unlinked: payouts wait until you choose another.`
        : `Wallet ${address} was unlinked.`,
    );
  });
}

// A stolen session's first move is to redirect payouts: the owner hears of every change (in the app and by e-mail).
const tellWalletChange = (db: Db, userId: string, body: string) =>
  notify(db, userId, {
    type: "SECURITY",
    title: "Your wallets changed",
    body: `${body} If this was not you, sign out every browser and change your password.`,
    link: "/profile",
  });

// ---------------------------------------------------------------------------------------------------------------
// GDPR

/** Everything stored about the user, as one JSON document (right to export). */
export async function exportUserData(deps: InviteDeps, principal: Principal | null) {
  const db = deps.db;
  const u = await loadUser(db, principal);
  const { passwordHash, ...profile } = u;
  const [memberships, ws, notes, keys, sess, invitesSent, trail] = await Promise.all([
    db
      .select({ orgId: orgs.id, orgName: orgs.name, role: orgMembers.role, joinedAt: orgMembers.createdAt })
      .from(orgMembers)
      .innerJoin(orgs, eq(orgs.id, orgMembers.orgId))
      .where(eq(orgMembers.userId, u.id)),
    db.select().from(wallets).where(eq(wallets.userId, u.id)),
    db.select().from(notifications).where(eq(notifications.userId, u.id)).orderBy(desc(notifications.createdAt)),
    db.select().from(apiKeys).where(eq(apiKeys.userId, u.id)),
    db.select().from(sessions).where(eq(sessions.userId, u.id)),
    db
      .select({
        id: orgInvites.id,
        orgId: orgInvites.orgId,
        role: orgInvites.role,
        status: orgInvites.status,
        createdAt: orgInvites.createdAt,
      })
      .from(orgInvites)
      .where(eq(orgInvites.invitedById, u.id)),
    db.select().from(auditLog).where(eq(auditLog.actorId, u.id)).orderBy(asc(auditLog.seq)),
  ]);
  const extra: Record<string, unknown> = {};
  for (const hook of userDataHooks()) extra[hook.name] = await hook.export(db, u.id);
  return {
    format: "devsponsor-user-export/1",
    exportedAt: new Date().toISOString(),
    profile: { ...profile, hasPassword: !!passwordHash },
    memberships,
    wallets: ws.map((w) => ({ ...publicWallet(w), siweMessage: w.siweMessage, signature: w.signature })),
    invitesReceived: await listMyInvites(deps, principal),
    invitesSent,
    notifications: notes,
    apiKeys: keys.map(({ keyHash, ...k }) => k),
    sessions: sess.map(({ tokenHash, csrfToken, ...s }) => s),
    auditTrail: trail.map((a) => ({
      seq: a.seq,
      action: a.action,
      targetType: a.targetType,
      targetId: a.targetId,
      orgId: a.orgId,
      payload: a.payload,
      createdAt: a.createdAt,
    })),
    ...extra,
  };
}

/**
 * Deletes the account (right to erasure): personal fields are cleared and the row stays as a tombstone, so
 * references and the audit chain remain valid; audit payloads by or about the user are redacted (their hashes
 * stay). Refused while the user is the last owner of an org with other members. Orgs where the user was the
 * only member are archived.
 */
export async function deleteAccount(deps: InviteDeps, principal: Principal | null) {
  const p = requireWriter(principal);
  const u = await loadUser(deps.db, p);
  await deps.db.transaction(async (tx) => {
    if (u.isAdmin) {
      const [other] = await tx
        .select({ id: users.id })
        .from(users)
        .where(and(eq(users.isAdmin, true), isNull(users.deletedAt), ne(users.id, u.id)))
        .limit(1);
      if (!other) throw conflict("You are the only platform admin: make someone else admin first.", "LAST_ADMIN");
    }
    const owned = await tx
      .select({ orgId: orgMembers.orgId, name: orgs.name })
      .from(orgMembers)
      .innerJoin(orgs, eq(orgs.id, orgMembers.orgId))
      .where(and(eq(orgMembers.userId, u.id), eq(orgMembers.role, "OWNER")));
    const blocking: { id: string; name: string }[] = [];
    for (const o of owned) {
      const [owners] = await tx
        .select({ n: count() })
        .from(orgMembers)
        .where(and(eq(orgMembers.orgId, o.orgId), eq(orgMembers.role, "OWNER")));
      const [members] = await tx.select({ n: count() }).from(orgMembers).where(eq(orgMembers.orgId, o.orgId));
      if (Number(owners.n) > 1) continue;
      if (Number(members.n) > 1) blocking.push({ id: o.orgId, name: o.name });
      else await tx.update(orgs).set({ archivedAt: new Date() }).where(eq(orgs.id, o.orgId));
    }
    if (blocking.length) {
      throw conflict(
        `You are the last owner of ${blocking.map((b) => b.name).join(", ")}: make someone else owner first.`,
        "LAST_OWNER",
        { orgs: blocking.map((b) => b.id) },
      );
    }
    for (const hook of userDataHooks()) await hook.erase(tx, u.id);
    await tx.delete(orgMembers).where(eq(orgMembers.userId, u.id));
    await forgetInvitesFor(deps, tx, u);
    await tx.delete(wallets).where(eq(wallets.userId, u.id));
    await tx.delete(walletNonces).where(eq(walletNonces.userId, u.id));
    await tx.delete(sessions).where(eq(sessions.userId, u.id));
    await tx.delete(apiKeys).where(eq(apiKeys.userId, u.id));
    await tx.delete(notifications).where(eq(notifications.userId, u.id));
    await tx.delete(emailOutbox).where(eq(emailOutbox.userId, u.id));
    await tx.delete(accountTokens).where(eq(accountTokens.userId, u.id)); // they name the address
    // Mails to others may name the user (an invite's "X invited you"): take the name and address out of them.
    for (const needle of [u.name.length >= 3 ? u.name : null, u.email].filter((x): x is string => !!x)) {
      await tx
        .update(emailOutbox)
        .set({
          subject: sql`replace(${emailOutbox.subject}, ${needle}, 'A former member')`,
          bodyText: sql`replace(${emailOutbox.bodyText}, ${needle}, 'A former member')`,
        })
        .where(sql`strpos(${emailOutbox.subject}, ${needle}) > 0 or strpos(${emailOutbox.bodyText}, ${needle}) > 0`);
      await tx
        .update(notifications)
        .set({
          title: sql`replace(${notifications.title}, ${needle}, 'A former member')`,
          body: sql`replace(${notifications.body}, ${needle}, 'A former member')`,
        })
        .where(sql`strpos(${notifications.title}, ${needle}) > 0 or strpos(${notifications.body}, ${needle}) > 0`);
    }
    await tx
      .update(users)
      .set({
        email: null,
        emailVerified: false,
        name: "Deleted user",
        githubId: null,
        githubLogin: null,
        avatarUrl: null,
        passwordHash: null,
        isAdmin: false,
        roles: [],
        preferences: {},
        deletedAt: new Date(),
        updatedAt: new Date(),
      })
      .where(eq(users.id, u.id));
    await redactAuditFor(tx, u.id);
    await audit(tx, { actorId: u.id, action: "user.delete", targetType: "user", targetId: u.id });
  });
}
