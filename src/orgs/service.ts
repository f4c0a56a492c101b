// Organizations and their members. Every function takes the caller and checks the permission table first.
import { readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { and, asc, count, eq, isNull, sql } from "drizzle-orm";
import { audit } from "../audit/service";
import type { Principal } from "../core/context";
import { decryptBytes, encrypt } from "../core/crypto";
import type { Db } from "../core/db";
import { conflict, forbidden, invalidInput, notFound, unauthorized, zodFieldErrors } from "../core/errors";
import { users } from "../users/schema";
import { OrgCreateRequest, OrgUpdateRequest } from "./model";
import { canAssignRole, isUuid, ORG_ROLES, requireOrgRole, type OrgRole } from "./permissions";
import { orgLogos, orgMembers, orgs } from "./schema";
import { leaveOrgProjectsTx } from "../projects/members-service";

export type Org = typeof orgs.$inferSelect;

/** An org as the API returns it. */
export const publicOrg = (o: Org, role: OrgRole | null) => ({
  id: o.id,
  name: o.name,
  description: o.description,
  logoUrl: o.logoFile ? `/orgs/${o.id}/logo` : null,
  createdAt: o.createdAt,
  archived: !!o.archivedAt,
  role,
});

function parse<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: any[] } } },
  input: unknown,
): T {
  const r = schema.safeParse(input);
  if (!r.success) throw invalidInput(zodFieldErrors(r.error.issues));
  return r.data;
}

function requireWriter(p: Principal | null): Principal {
  if (!p) throw unauthorized();
  if (p.via === "api-key" && !p.scopes?.includes("write")) throw forbidden("This API key lacks the write scope.");
  return p;
}

/** Creates an org; the creator becomes its OWNER. */
export async function createOrg(db: Db, principal: Principal | null, input: unknown) {
  const p = requireWriter(principal);
  const data = parse(OrgCreateRequest, input);
  return db.transaction(async (tx) => {
    const [org] = await tx
      .insert(orgs)
      .values({ name: data.name, description: data.description || null, createdById: p.userId })
      .returning();
    await tx.insert(orgMembers).values({ orgId: org.id, userId: p.userId, role: "OWNER", addedById: p.userId });
    await audit(tx, {
      actorId: p.userId,
      action: "org.create",
      targetType: "org",
      targetId: org.id,
      orgId: org.id,
      payload: { name: org.name },
    });
    return publicOrg(org, "OWNER");
  });
}

/** One org, for its members (and admins). */
export async function getOrg(db: Db, principal: Principal | null, orgId: string) {
  const access = await requireOrgRole(db, principal, orgId, "org.view");
  const [org] = await db.select().from(orgs).where(eq(orgs.id, orgId));
  return { ...publicOrg(org, access.role), memberCount: await memberCount(db, orgId) };
}

async function memberCount(db: Db, orgId: string) {
  const [row] = await db.select({ n: count() }).from(orgMembers).where(eq(orgMembers.orgId, orgId));
  return Number(row?.n ?? 0);
}

/** The caller's orgs with their role; with `all`, a platform admin gets every org. */
export async function listOrgs(db: Db, principal: Principal | null, opts: { all?: boolean } = {}) {
  if (!principal) throw unauthorized();
  if (opts.all) {
    if (!principal.isAdmin) throw forbidden("Only a platform admin can list every organization.");
    const rows = await db
      .select({ org: orgs, role: orgMembers.role })
      .from(orgs)
      .leftJoin(orgMembers, and(eq(orgMembers.orgId, orgs.id), eq(orgMembers.userId, principal.userId)))
      .orderBy(asc(orgs.name));
    return rows.map((r) => publicOrg(r.org, r.role));
  }
  const rows = await db
    .select({ org: orgs, role: orgMembers.role })
    .from(orgMembers)
    .innerJoin(orgs, eq(orgs.id, orgMembers.orgId))
    .where(and(eq(orgMembers.userId, principal.userId), isNull(orgs.archivedAt)))
    .orderBy(asc(orgs.name));
  return rows.map((r) => publicOrg(r.org, r.role));
}

/** Changes name or description ("manage settings": OWNER, MAINTAINER). */
export async function updateOrg(db: Db, principal: Principal | null, orgId: string, input: unknown) {
  const access = await requireOrgRole(db, principal, orgId, "org.update");
  const data = parse(OrgUpdateRequest, input);
  const patch: Partial<Org> = { updatedAt: new Date() };
  if (data.name !== undefined) patch.name = data.name;
  if (data.description !== undefined) patch.description = data.description || null;
  return db.transaction(async (tx) => {
    const [org] = await tx.update(orgs).set(patch).where(eq(orgs.id, orgId)).returning();
    await audit(tx, {
      actorId: access.userId,
      action: "org.update",
      targetType: "org",
      targetId: orgId,
      orgId,
      payload: { fields: Object.keys(data).filter((k) => (data as any)[k] !== undefined) },
    });
    return publicOrg(org, access.role);
  });
}

const LOGO_TYPES: { type: string; ext: string; test: (b: Uint8Array) => boolean }[] = [
  { type: "image/png", ext: "png", test: (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47 },
  { type: "image/jpeg", ext: "jpg", test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { type: "image/gif", ext: "gif", test: (b) => String.fromCharCode(...b.subarray(0, 4)) === "GIF8" },
  {
    type: "image/webp",
    ext: "webp",
    test: (b) =>
      String.fromCharCode(...b.subarray(0, 4)) === "RIFF" && String.fromCharCode(...b.subarray(8, 12)) === "WEBP",
  },
];
export const MAX_LOGO_BYTES = 1024 * 1024;

/** Detects an image type by its first bytes (never by the name or the declared type; SVG is refused). */
export function sniffImage(bytes: Uint8Array) {
  return LOGO_TYPES.find((t) => bytes.length >= 12 && t.test(bytes)) ?? null;
}

/** Stores a new logo (PNG, JPEG, GIF or WebP up to 1 MiB) in the database, encrypted. */
export async function setOrgLogo(
  ctx: { db: Db; masterKey: Buffer },
  principal: Principal | null,
  orgId: string,
  file: Blob | null,
  uploadsDir: string,
) {
  const { db } = ctx;
  const access = await requireOrgRole(db, principal, orgId, "org.update");
  if (!file || file.size === 0) throw invalidInput({ logo: "Send the image as the multipart field logo." });
  if (file.size > MAX_LOGO_BYTES) throw invalidInput({ logo: "The logo must be at most 1 MiB." });
  const bytes = new Uint8Array(await file.arrayBuffer());
  const kind = sniffImage(bytes);
  if (!kind) throw invalidInput({ logo: "Use a PNG, JPEG, GIF or WebP image." });
  const sealed = encrypt(ctx.masterKey, bytes, logoAad(orgId));
  const [before] = await db.select({ logoFile: orgs.logoFile }).from(orgs).where(eq(orgs.id, orgId));
  await db.transaction(async (tx) => {
    await tx
      .insert(orgLogos)
      .values({ orgId, sealed })
      .onConflictDoUpdate({ target: orgLogos.orgId, set: { sealed, updatedAt: new Date() } });
    await tx.update(orgs).set({ logoFile: null, logoType: kind.type, updatedAt: new Date() }).where(eq(orgs.id, orgId));
    await audit(tx, {
      actorId: access.userId,
      action: "org.logo.update",
      targetType: "org",
      targetId: orgId,
      orgId,
      payload: { type: kind.type, bytes: bytes.length },
    });
  });
  // a logo from before logos moved into the database: this node's copy goes (other nodes no longer read theirs)
  if (before?.logoFile) rmSync(join(uploadsDir, "org-logos", basename(before.logoFile)), { force: true });
  return { logoUrl: `/orgs/${orgId}/logo` };
}

const logoAad = (orgId: string) => `org-logo:${orgId}`;

/**
 * An org's logo for its members: from the database, or (a logo uploaded before logos moved there) from this node's
 * uploads dir.
 */
export async function readOrgLogo(
  ctx: { db: Db; masterKey: Buffer },
  principal: Principal | null,
  orgId: string,
  uploadsDir: string,
) {
  await requireOrgRole(ctx.db, principal, orgId, "org.view");
  const [org] = await ctx.db
    .select({ logoFile: orgs.logoFile, logoType: orgs.logoType, sealed: orgLogos.sealed })
    .from(orgs)
    .leftJoin(orgLogos, eq(orgLogos.orgId, orgs.id))
    .where(eq(orgs.id, orgId));
  if (!org?.logoType) throw notFound("Logo");
  if (org.sealed) return { bytes: decryptBytes(ctx.masterKey, org.sealed, logoAad(orgId)), type: org.logoType };
  if (!org.logoFile) throw notFound("Logo");
  try {
    return { bytes: readFileSync(join(uploadsDir, "org-logos", basename(org.logoFile))), type: org.logoType };
  } catch {
    throw notFound("Logo");
  }
}

/** The members of an org with their roles (no e-mail addresses). */
export async function listMembers(db: Db, principal: Principal | null, orgId: string) {
  await requireOrgRole(db, principal, orgId, "members.view");
  const rows = await db
    .select({
      userId: users.id,
      name: users.name,
      githubLogin: users.githubLogin,
      avatarUrl: users.avatarUrl,
      role: orgMembers.role,
      joinedAt: orgMembers.createdAt,
    })
    .from(orgMembers)
    .innerJoin(users, eq(users.id, orgMembers.userId))
    .where(eq(orgMembers.orgId, orgId))
    .orderBy(
      sql`case ${orgMembers.role} when 'OWNER' then 0 when 'MAINTAINER' then 1 when 'SPONSOR' then 2 else 3 end`,
      asc(users.name),
    );
  return rows;
}

/** Locks the org's owner rows and returns how many owners there are (last-owner checks under concurrency). */
async function lockOwners(tx: Db, orgId: string): Promise<number> {
  const rows = await tx
    .select({ id: orgMembers.id })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.role, "OWNER")))
    .for("update");
  return rows.length;
}

/** The membership of `userId` in org `orgId`, locked for the rest of the transaction; NOT_FOUND when there is none. */
async function lockMember(tx: Db, orgId: string, userId: string) {
  const [member] = await tx
    .select()
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, orgId), eq(orgMembers.userId, userId)))
    .for("update");
  if (!member) throw notFound("Member");
  return member;
}

const lastOwner = () =>
  conflict("An organization needs at least one owner: make someone else owner first.", "LAST_OWNER");

/** Changes a member's role. Only owners grant or take away OWNER; the last owner cannot be demoted. */
export async function changeMemberRole(
  db: Db,
  principal: Principal | null,
  orgId: string,
  userId: string,
  role: OrgRole,
) {
  const access = await requireOrgRole(db, principal, orgId, "members.changeRole");
  if (!ORG_ROLES.includes(role)) throw invalidInput({ role: `One of ${ORG_ROLES.join(", ")}.` });
  if (!isUuid(userId)) throw notFound("Member");
  return db.transaction(async (tx) => {
    const owners = await lockOwners(tx, orgId);
    const member = await lockMember(tx, orgId, userId);
    if (!canAssignRole(access.role, member.role, role))
      throw forbidden("Only an owner can grant or take away ownership.");
    if (member.role === role) return { userId, role };
    if (member.role === "OWNER" && owners <= 1) throw lastOwner();
    await tx.update(orgMembers).set({ role }).where(eq(orgMembers.id, member.id));
    await audit(tx, {
      actorId: access.userId,
      action: "member.role.change",
      targetType: "user",
      targetId: userId,
      orgId,
      payload: { from: member.role, to: role },
    });
    return { userId, role };
  });
}

/**
 * Removes a member (OWNER, MAINTAINER; owners only by owners), or lets a member leave on their own.
 * The last owner can neither be removed nor leave.
 */
export async function removeMember(db: Db, principal: Principal | null, orgId: string, userId: string) {
  if (!principal) throw unauthorized();
  const leaving = principal.userId === userId;
  const access = await requireOrgRole(db, principal, orgId, leaving ? "org.view" : "members.remove");
  if (!isUuid(userId)) throw notFound("Member");
  if (leaving && !access.role) throw notFound("Member");
  await db.transaction(async (tx) => {
    const owners = await lockOwners(tx, orgId);
    const member = await lockMember(tx, orgId, userId);
    if (!leaving && member.role === "OWNER" && access.role !== "OWNER")
      throw forbidden("Only an owner can remove an owner.");
    if (member.role === "OWNER" && owners <= 1) throw lastOwner();
    await tx.delete(orgMembers).where(eq(orgMembers.id, member.id));
    // Every project of the org: open claims go back to OPEN, repository access is removed.
    await leaveOrgProjectsTx(tx, orgId, userId, access.userId);
    await audit(tx, {
      actorId: access.userId,
      action: leaving ? "member.leave" : "member.remove",
      targetType: "user",
      targetId: userId,
      orgId,
      payload: { role: member.role },
    });
  });
}

/** Adds a member inside the caller's transaction (invite acceptance); an existing member keeps their role. */
export async function addMemberTx(tx: Db, orgId: string, userId: string, role: OrgRole, addedById: string | null) {
  const [row] = await tx
    .insert(orgMembers)
    .values({ orgId, userId, role, addedById })
    .onConflictDoNothing({ target: [orgMembers.orgId, orgMembers.userId] })
    .returning({ id: orgMembers.id });
  return !!row;
}
