// Invites to an org, or to one project of it, by e-mail or GitHub username. Who may answer an invite: the account it was addressed to
// (a verified e-mail, or the linked GitHub login), or whoever holds the token from the e-mailed link.
import { createHmac } from "node:crypto";
import { and, desc, eq, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { audit } from "../audit/service";
import type { Principal } from "../core/context";
import { decrypt, encrypt, sha256Hex } from "../core/crypto";
import type { Db } from "../core/db";
import { emitEvent } from "../events/service";
import { AppError, conflict, forbidden, invalidInput, notFound, unauthorized, zodFieldErrors } from "../core/errors";
import type { SettingsService } from "../core/settings/service";
import { smtpSettings } from "../notifications/mail";
import { enqueueEmail, notify } from "../notifications/service";
import { canAssignRole, isUuid, requireOrgRole } from "../orgs/permissions";
import { orgMembers, orgs } from "../orgs/schema";
import { addMemberTx } from "../orgs/service";
import { users } from "../users/schema";
import { randomToken, normalizeEmail } from "../auth/service";
import { loadProject } from "../projects/access";
import { addProjectMemberTx } from "../projects/members-service";
import { projectMembers } from "../projects/members-schema";
import { projects } from "../projects/schema";
import { InviteCreateRequest, ProjectInviteCreateRequest } from "./model";
import { orgInvites, type InviteStatus } from "./schema";

/** What the invite service needs from the appliance. */
export interface InviteDeps {
  db: Db;
  masterKey: Buffer;
  settings: SettingsService;
}

type Invite = typeof orgInvites.$inferSelect;
type User = typeof users.$inferSelect;

/** Keyed hash of an e-mail address: finds invites by address without storing it in clear. */
export const emailIndex = (masterKey: Buffer, email: string) =>
  createHmac("sha256", masterKey)
    .update(`invite-email:${normalizeEmail(email)}`)
    .digest("hex");

const sealEmail = (masterKey: Buffer, email: string) => encrypt(masterKey, normalizeEmail(email), "org_invites.email");
const openEmail = (masterKey: Buffer, sealed: string | null) =>
  sealed ? decrypt(masterKey, sealed, "org_invites.email") : null;

const isUniqueViolation = (err: unknown): boolean => {
  for (let e: any = err; e; e = e.cause) if (e.code === "23505") return true;
  return false;
};

/** The status an invite has now (a PENDING one past its expiry is EXPIRED). */
export const effectiveStatus = (i: Pick<Invite, "status" | "expiresAt">, now = new Date()): InviteStatus =>
  i.status === "PENDING" && i.expiresAt <= now ? "EXPIRED" : i.status;

/**
 * Creates an invite (OWNER, MAINTAINER; only owners invite owners). At most one pending invite per org and
 * invitee. The invitee gets an in-app notification when their account is known, and an e-mail (stored in the
 * outbox) with a link carrying the single-use token when invited by address. `mailed` is false when that e-mail
 * cannot go out (no SMTP host): the creator is then the only one who can pass the link on, so it is returned once.
 */
export async function createInvite(deps: InviteDeps, principal: Principal | null, orgId: string, input: unknown) {
  const access = await requireOrgRole(deps.db, principal, orgId, "members.invite");
  const parsed = InviteCreateRequest.safeParse(input);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  if (!canAssignRole(access.role, null, parsed.data.role)) throw forbidden("Only an owner can invite another owner.");
  return sendInvite(deps, { orgId, projectId: null, inviterId: access.userId }, parsed.data);
}

/**
 * Creates an invite to one project (the org's owners and maintainers, and the project's maintainers): accepting
 * it makes the invitee a member of that project only, with a maintainer, sponsor or contributor role.
 */
export async function createProjectInvite(
  deps: InviteDeps,
  principal: Principal | null,
  projectId: string,
  input: unknown,
) {
  const project = await loadProject(deps.db, principal, projectId, "project.invite");
  const parsed = ProjectInviteCreateRequest.safeParse(input);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  return sendInvite(
    deps,
    { orgId: project.orgId, projectId: project.id, projectTitle: project.title, inviterId: principal!.userId },
    parsed.data,
  );
}

type InviteScope = { orgId: string; projectId: string | null; projectTitle?: string; inviterId: string };

async function sendInvite(deps: InviteDeps, scope: InviteScope, data: InviteCreateRequest) {
  const { orgId, projectId } = scope;
  const email = data.email ? normalizeEmail(data.email) : null;
  const githubLogin = data.githubUsername ? data.githubUsername.toLowerCase() : null;
  const emailHash = email ? emailIndex(deps.masterKey, email) : null;
  const trustLocal = deps.settings.get("auth.trustLocalEmails");
  const ttlDays = deps.settings.get("auth.inviteTtlDays");
  const token = randomToken();
  // Invites of the same scope: the org's own (no project), or this project's.
  const sameScope = projectId
    ? eq(orgInvites.projectId, projectId)
    : and(eq(orgInvites.orgId, orgId), isNull(orgInvites.projectId));

  const result = await deps.db.transaction(async (tx) => {
    const [org] = await tx.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, orgId));
    const [inviter] = await tx.select({ name: users.name }).from(users).where(eq(users.id, scope.inviterId));
    // The account this invite is for, when we can tell reliably (a verified address or a linked GitHub login).
    const [invitee] = email
      ? await tx.select().from(users).where(eq(users.email, email))
      : await tx.select().from(users).where(sql`lower(${users.githubLogin}) = ${githubLogin}`);
    const trusted =
      invitee && !invitee.deletedAt && (githubLogin || invitee.emailVerified || trustLocal) ? invitee : null;
    if (invitee) {
      const [member] = projectId
        ? await tx
            .select({ id: projectMembers.id })
            .from(projectMembers)
            .where(and(eq(projectMembers.projectId, projectId), eq(projectMembers.userId, invitee.id)))
        : await tx
            .select({ id: orgMembers.id })
            .from(orgMembers)
            .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, invitee.id)));
      if (member) throw conflict("This person is already a member.", "ALREADY_MEMBER");
    }
    await tx
      .update(orgInvites)
      .set({ status: "EXPIRED" })
      .where(and(sameScope, eq(orgInvites.status, "PENDING"), lt(orgInvites.expiresAt, new Date())));
    const [pending] = await tx
      .select({ id: orgInvites.id })
      .from(orgInvites)
      .where(
        and(
          sameScope,
          eq(orgInvites.status, "PENDING"),
          email ? eq(orgInvites.emailHash, emailHash!) : eq(orgInvites.githubLogin, githubLogin!),
        ),
      );
    if (pending)
      throw conflict("An invite to this person is already pending.", "INVITE_PENDING", { inviteId: pending.id });
    const insert = tx
      .insert(orgInvites)
      .values({
        orgId,
        projectId,
        invitedById: scope.inviterId,
        emailEnc: email ? sealEmail(deps.masterKey, email) : null,
        emailHash,
        githubLogin,
        inviteeId: trusted?.id ?? null,
        role: data.role,
        message: data.message || null,
        tokenHash: sha256Hex(token),
        expiresAt: new Date(Date.now() + ttlDays * 86_400_000),
      })
      .returning();
    const [invite] = await insert.catch((err) => {
      // Two managers inviting the same person at once: the partial unique index lets only one through.
      throw isUniqueViolation(err) ? conflict("An invite to this person is already pending.", "INVITE_PENDING") : err;
    });
    const where = scope.projectTitle ? `the project ${scope.projectTitle} of ${org.name}` : org.name;
    const title = `${inviter?.name ?? "Someone"} invited you to ${where}`;
    const body = `Role: ${data.role.toLowerCase()}.${data.message ? `\n\n${data.message}` : ""}`;
    if (trusted) {
      await notify(tx, trusted.id, {
        type: "INVITE",
        title,
        body,
        link: "/invites",
        metadata: { inviteId: invite.id, orgId, ...(projectId ? { projectId } : {}) },
        email: !email, // an e-mail invite sends its own message with the link below
      });
    }
    if (email) {
      await enqueueEmail(tx, {
        to: email,
        subject: title,
        text: `${body}\n\nOpen the link to accept or decline. It expires in ${ttlDays} days.`,
        link: `/invites/accept?token=${token}`,
        kind: "INVITE",
        userId: trusted?.id ?? null,
      });
    }
    await audit(tx, {
      actorId: scope.inviterId,
      action: "invite.create",
      targetType: "invite",
      targetId: invite.id,
      orgId,
      payload: { role: data.role, via: email ? "email" : "github", ...(projectId ? { projectId } : {}) },
    });
    await emitEvent(tx, "invite.created", {
      orgId,
      ...(projectId ? { projectId } : {}),
      inviteId: invite.id,
      role: data.role,
      invitedById: scope.inviterId,
    });
    return invite;
  });
  const mailed = !!email && smtpSettings(deps.settings) !== null;
  return { invite: await viewInvite(deps, result), token, mailed };
}

/** An invite as shown to the org's managers. */
async function viewInvite(deps: InviteDeps, i: Invite) {
  return {
    id: i.id,
    orgId: i.orgId,
    projectId: i.projectId,
    email: openEmail(deps.masterKey, i.emailEnc),
    githubUsername: i.githubLogin,
    role: i.role,
    message: i.message,
    status: effectiveStatus(i),
    expiresAt: i.expiresAt,
    createdAt: i.createdAt,
    respondedAt: i.respondedAt,
  };
}

/** The org's own invites (not those to one project), newest first (OWNER, MAINTAINER). */
export async function listOrgInvites(deps: InviteDeps, principal: Principal | null, orgId: string) {
  await requireOrgRole(deps.db, principal, orgId, "members.invite");
  return invitesWhere(deps, and(eq(orgInvites.orgId, orgId), isNull(orgInvites.projectId)));
}

/** A project's invites, newest first (the org's owners and maintainers, the project's maintainers). */
export async function listProjectInvites(deps: InviteDeps, principal: Principal | null, projectId: string) {
  const project = await loadProject(deps.db, principal, projectId, "project.invite");
  return invitesWhere(deps, eq(orgInvites.projectId, project.id));
}

async function invitesWhere(deps: InviteDeps, where: ReturnType<typeof and>) {
  const rows = await deps.db
    .select({ invite: orgInvites, invitedBy: users.name })
    .from(orgInvites)
    .leftJoin(users, eq(users.id, orgInvites.invitedById))
    .where(where)
    .orderBy(desc(orgInvites.createdAt))
    .limit(200);
  return Promise.all(rows.map(async (r) => ({ ...(await viewInvite(deps, r.invite)), invitedBy: r.invitedBy })));
}

/** Conditions matching the invites addressed to this user. */
function addressedTo(deps: InviteDeps, user: User) {
  const conds = [eq(orgInvites.inviteeId, user.id)];
  if (user.email && (user.emailVerified || deps.settings.get("auth.trustLocalEmails"))) {
    conds.push(eq(orgInvites.emailHash, emailIndex(deps.masterKey, user.email)));
  }
  if (user.githubLogin) conds.push(eq(orgInvites.githubLogin, user.githubLogin.toLowerCase()));
  return or(...conds);
}

async function loadUser(db: Db, principal: Principal | null): Promise<User> {
  if (!principal) throw unauthorized();
  const [user] = await db.select().from(users).where(eq(users.id, principal.userId));
  if (!user || user.deletedAt) throw unauthorized();
  return user;
}

/** The signed-in user's pending invites with the org's name and the inviter. */
export async function listMyInvites(deps: InviteDeps, principal: Principal | null) {
  const user = await loadUser(deps.db, principal);
  const rows = await deps.db
    .select({ invite: orgInvites, orgName: orgs.name, projectTitle: projects.title, invitedBy: users.name })
    .from(orgInvites)
    .innerJoin(orgs, eq(orgs.id, orgInvites.orgId))
    .leftJoin(projects, eq(projects.id, orgInvites.projectId))
    .leftJoin(users, eq(users.id, orgInvites.invitedById))
    .where(and(eq(orgInvites.status, "PENDING"), addressedTo(deps, user)))
    .orderBy(desc(orgInvites.createdAt));
  return rows.map((r) => ({
    id: r.invite.id,
    orgId: r.invite.orgId,
    orgName: r.orgName,
    projectId: r.invite.projectId,
    projectTitle: r.projectTitle,
    invitedBy: r.invitedBy,
    role: r.invite.role,
    message: r.invite.message,
    status: effectiveStatus(r.invite),
    expiresAt: r.invite.expiresAt,
  }));
}

/** The invite behind an e-mailed token, for the accept page (signed-in users only). */
export async function inviteByToken(deps: InviteDeps, principal: Principal | null, token: string) {
  await loadUser(deps.db, principal);
  if (!token || token.length > 100) throw notFound("Invite");
  const [row] = await deps.db
    .select({ invite: orgInvites, orgName: orgs.name, projectTitle: projects.title, invitedBy: users.name })
    .from(orgInvites)
    .innerJoin(orgs, eq(orgs.id, orgInvites.orgId))
    .leftJoin(projects, eq(projects.id, orgInvites.projectId))
    .leftJoin(users, eq(users.id, orgInvites.invitedById))
    .where(eq(orgInvites.tokenHash, sha256Hex(token)));
  if (!row) throw notFound("Invite");
  return {
    id: row.invite.id,
    orgId: row.invite.orgId,
    orgName: row.orgName,
    projectId: row.invite.projectId,
    projectTitle: row.projectTitle,
    invitedBy: row.invitedBy,
    role: row.invite.role,
    message: row.invite.message,
    status: effectiveStatus(row.invite),
    expiresAt: row.invite.expiresAt,
  };
}

/**
 * Finds an invite the caller may answer: by id (it must be addressed to them and, when given, belong to
 * `orgId`) or by the e-mailed token. Anything else is NOT_FOUND, so invite ids cannot be probed.
 */
async function findAnswerable(
  tx: Db,
  deps: InviteDeps,
  user: User,
  ref: { orgId?: string | null; inviteId?: string | null; token?: string | null },
) {
  let invite: Invite | undefined;
  let viaToken = false;
  if (ref.token) {
    [invite] = await tx
      .select()
      .from(orgInvites)
      .where(eq(orgInvites.tokenHash, sha256Hex(ref.token)))
      .for("update");
    if (invite && ref.inviteId && invite.id !== ref.inviteId) invite = undefined;
    viaToken = !!invite;
  } else if (ref.inviteId && isUuid(ref.inviteId)) {
    [invite] = await tx
      .select()
      .from(orgInvites)
      .where(and(eq(orgInvites.id, ref.inviteId), addressedTo(deps, user)))
      .for("update");
  }
  if (!invite || (ref.orgId && invite.orgId !== ref.orgId)) throw notFound("Invite");
  const status = effectiveStatus(invite);
  if (status === "EXPIRED") {
    if (invite.status === "PENDING")
      await tx.update(orgInvites).set({ status: "EXPIRED" }).where(eq(orgInvites.id, invite.id));
    return { invite, viaToken, expired: true as const };
  }
  if (status !== "PENDING") throw conflict(`This invite was already ${status.toLowerCase()}.`, "INVITE_CLOSED");
  return { invite, viaToken, expired: false as const };
}

const expiredError = () => new AppError("INVITE_EXPIRED", "This invite has expired; ask for a new one.", 410);

/** Accepts an invite: the caller becomes a member with the invite's role; the inviter is notified. */
export async function acceptInvite(
  deps: InviteDeps,
  principal: Principal | null,
  ref: { orgId?: string | null; inviteId?: string | null; token?: string | null },
) {
  const user = await loadUser(deps.db, principal);
  if (principal?.via === "api-key" && !principal.scopes?.includes("write"))
    throw forbidden("This API key lacks the write scope.");
  const out = await deps.db.transaction(async (tx) => {
    const found = await findAnswerable(tx, deps, user, ref);
    if (found.expired) return { expired: true as const };
    const { invite, viaToken } = found;
    const added = invite.projectId
      ? await addProjectMemberTx(
          tx,
          invite.projectId,
          user.id,
          requireProjectInviteRole(invite.role),
          invite.invitedById,
        )
      : await addMemberTx(tx, invite.orgId, user.id, invite.role, invite.invitedById);
    await tx
      .update(orgInvites)
      .set({ status: "ACCEPTED", inviteeId: user.id, respondedAt: new Date() })
      .where(eq(orgInvites.id, invite.id));
    // Following the e-mailed link proves the address: mark the account's matching address verified.
    if (viaToken && user.email && invite.emailHash === emailIndex(deps.masterKey, user.email) && !user.emailVerified) {
      await tx.update(users).set({ emailVerified: true }).where(eq(users.id, user.id));
    }
    await audit(tx, {
      actorId: user.id,
      action: "invite.accept",
      targetType: "invite",
      targetId: invite.id,
      orgId: invite.orgId,
      payload: {
        role: invite.role,
        alreadyMember: !added,
        viaToken,
        ...(invite.projectId ? { projectId: invite.projectId } : {}),
      },
    });
    await emitEvent(tx, "invite.accepted", {
      orgId: invite.orgId,
      ...(invite.projectId ? { projectId: invite.projectId } : {}),
      inviteId: invite.id,
      userId: user.id,
      role: invite.role,
      alreadyMember: !added,
    });
    if (invite.invitedById && invite.invitedById !== user.id) {
      const [org] = await tx.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, invite.orgId));
      const [project] = invite.projectId
        ? await tx.select({ title: projects.title }).from(projects).where(eq(projects.id, invite.projectId))
        : [];
      await notify(tx, invite.invitedById, {
        type: "INVITE_ACCEPTED",
        title: `${user.name} joined ${project ? `the project ${project.title}` : (org?.name ?? "your organization")}`,
        link: invite.projectId ? `/projects/${invite.projectId}/members` : `/orgs/${invite.orgId}/members`,
        metadata: {
          inviteId: invite.id,
          orgId: invite.orgId,
          ...(invite.projectId ? { projectId: invite.projectId } : {}),
        },
        email: false,
      });
    }
    return {
      expired: false as const,
      orgId: invite.orgId,
      projectId: invite.projectId,
      role: invite.role,
      alreadyMember: !added,
    };
  });
  if (out.expired) throw expiredError();
  return out;
}

/** Declines an invite addressed to the caller (or held by token). */
export async function declineInvite(
  deps: InviteDeps,
  principal: Principal | null,
  ref: { orgId?: string | null; inviteId?: string | null; token?: string | null },
) {
  const user = await loadUser(deps.db, principal);
  const out = await deps.db.transaction(async (tx) => {
    const found = await findAnswerable(tx, deps, user, ref);
    if (found.expired) return { expired: true as const };
    await tx
      .update(orgInvites)
      .set({ status: "DECLINED", respondedAt: new Date() })
      .where(eq(orgInvites.id, found.invite.id));
    await audit(tx, {
      actorId: user.id,
      action: "invite.decline",
      targetType: "invite",
      targetId: found.invite.id,
      orgId: found.invite.orgId,
    });
    await emitEvent(tx, "invite.declined", { orgId: found.invite.orgId, inviteId: found.invite.id, userId: user.id });
    return { expired: false as const, orgId: found.invite.orgId };
  });
  if (out.expired) throw expiredError();
  return out;
}

/** Withdraws a pending invite (OWNER, MAINTAINER). */
export async function revokeInvite(deps: InviteDeps, principal: Principal | null, orgId: string, inviteId: string) {
  const access = await requireOrgRole(deps.db, principal, orgId, "members.invite");
  if (!isUuid(inviteId)) throw notFound("Invite");
  const rows = await deps.db
    .update(orgInvites)
    .set({ status: "REVOKED", respondedAt: new Date() })
    .where(and(eq(orgInvites.id, inviteId), eq(orgInvites.orgId, orgId), eq(orgInvites.status, "PENDING")))
    .returning({ id: orgInvites.id });
  if (!rows.length) throw notFound("Invite");
  await audit(deps.db, {
    actorId: access.userId,
    action: "invite.revoke",
    targetType: "invite",
    targetId: inviteId,
    orgId,
  });
}

/** Withdraws a pending invite to a project (the org's owners and maintainers, the project's maintainers). */
export async function revokeProjectInvite(
  deps: InviteDeps,
  principal: Principal | null,
  projectId: string,
  inviteId: string,
) {
  const project = await loadProject(deps.db, principal, projectId, "project.invite");
  if (!isUuid(inviteId)) throw notFound("Invite");
  const rows = await deps.db
    .update(orgInvites)
    .set({ status: "REVOKED", respondedAt: new Date() })
    .where(and(eq(orgInvites.id, inviteId), eq(orgInvites.projectId, project.id), eq(orgInvites.status, "PENDING")))
    .returning({ id: orgInvites.id });
  if (!rows.length) throw notFound("Invite");
  await audit(deps.db, {
    actorId: principal!.userId,
    action: "invite.revoke",
    targetType: "invite",
    targetId: inviteId,
    orgId: project.orgId,
    payload: { projectId: project.id },
  });
}

/** A project invite's role (the column holds org roles too; a project invite never carries OWNER). */
function requireProjectInviteRole(role: string) {
  if (role === "MAINTAINER" || role === "SPONSOR" || role === "CONTRIBUTOR") return role;
  throw conflict("This invite's role cannot be given in a project.", "INVITE_CLOSED");
}

/** Removes every trace of an address from pending invites (account deletion). */
export async function forgetInvitesFor(deps: InviteDeps, tx: Db, user: User) {
  const conds = [eq(orgInvites.inviteeId, user.id)];
  if (user.email) conds.push(eq(orgInvites.emailHash, emailIndex(deps.masterKey, user.email)));
  if (user.githubLogin) conds.push(eq(orgInvites.githubLogin, user.githubLogin.toLowerCase()));
  const ids = (
    await tx
      .select({ id: orgInvites.id })
      .from(orgInvites)
      .where(or(...conds))
  ).map((r) => r.id);
  if (!ids.length) return 0;
  await tx
    .update(orgInvites)
    .set({
      emailEnc: null,
      emailHash: null,
      githubLogin: null,
      message: null,
      status: sql`case when ${orgInvites.status} = 'PENDING' then 'REVOKED' else ${orgInvites.status} end`,
    })
    .where(inArray(orgInvites.id, ids));
  return ids.length;
}
