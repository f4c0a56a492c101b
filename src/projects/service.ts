import { type AnyColumn, and, desc, eq, inArray, or, type SQL, sql, sum } from "drizzle-orm";
import type { AppContext, Principal } from "../core/context";
import { type Db, preparedFor } from "../core/db";
import { conflict, invalidInput, notFound, zodFieldErrors } from "../core/errors";
import { type CheckedRepoUrl, checkRepoUrl, type HostPolicy, type HostResolver } from "../core/net/ssrf";
import { documents } from "../documents/schema";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { can, requireOrgRole } from "../orgs/permissions";
import { loadProject, projectMemberRole } from "./access";
import { ProjectCreateRequest, ProjectUpdateRequest } from "./model";
import { cloneUrlOf, fetchGithubRepo, githubHostsFrom, parseRepoUrl, type RepoRef } from "./repo";
import { projectMembers } from "./members-schema";
import { type Project, type ProjectState, projects } from "./schema";

/** What project services need from the application; `resolveHost` replaces the system resolver (tests). */
export type ProjectDeps = Pick<AppContext, "db" | "settings"> & { resolveHost?: HostResolver };

/** A project as the API returns it (spec §4.2.5 names). */
export function projectJson(p: Project) {
  return {
    id: p.id,
    orgId: p.orgId,
    title: p.title,
    description: p.description,
    repoUrl: p.repoUrl,
    repoType: p.repoVisibility,
    repoProvider: p.repoProvider,
    repoFullName: p.repoFullName,
    repoProviderId: p.repoProviderId,
    tokenAddress: p.tokenAddress,
    tokenSymbol: p.tokenSymbol,
    tokenDecimals: p.tokenDecimals,
    fundingMode: p.fundingMode,
    payoutReview: p.payoutReview,
    repoAccessAfterPayment: p.repoAccessAfterPayment,
    verificationRuns: p.verificationRuns,
    state: p.state,
    totalPoints: p.totalPoints,
    totalTokenAmount: p.totalTokenAmount,
    structureApprovedAt: p.structureApprovedAt,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}

function parse<T>(
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: any } },
  v: unknown,
): T {
  const r = schema.safeParse(v);
  if (!r.success) throw invalidInput(zodFieldErrors(r.error.issues));
  return r.data;
}

/** GitHub API base for a repository host: the configured one for its host, api.github.com for github.com. */
function githubApiFor(deps: ProjectDeps, host: string): string | null {
  try {
    if (new URL(deps.settings.get("github.baseUrl")).host.toLowerCase() === host)
      return deps.settings.get("github.apiUrl");
  } catch {
    // fall through
  }
  return host === "github.com" ? "https://api.github.com" : null;
}

/**
 * Checks a repository URL against local and private addresses. The admin's allow-list and GitHub host count as
 * allowed. A name that does not resolve yet may be stored; it is checked again before every fetch.
 */
function checkRepoTarget(deps: ProjectDeps, url: string, unresolved: HostPolicy["unresolved"]) {
  const allow = [...(deps.settings.get("security.allowedRepoHosts") ?? [])];
  const githubHost = githubHostsFrom(deps.settings.get("github.baseUrl"))[1];
  if (githubHost) allow.push(githubHost.replace(/:\d+$/, ""));
  return checkRepoUrl(url, { allow, resolve: deps.resolveHost, unresolved });
}

/** Parses a repository URL and, for GitHub, looks up its stable id (best effort: offline installs get null). */
export async function resolveRepository(deps: ProjectDeps, raw: string) {
  const ref = parseRepoUrl(raw, githubHostsFrom(deps.settings.get("github.baseUrl")));
  await checkRepoTarget(deps, cloneUrlOf(ref), "pass");
  let providerId: string | null = null;
  if (ref.provider === "github" && ref.host && ref.fullName) {
    const api = githubApiFor(deps, ref.host);
    const found = api ? await fetchGithubRepo(api, { fullName: ref.fullName }) : null;
    if (found) {
      providerId = found.id;
      ref.fullName = found.fullName; // GitHub's canonical spelling
      ref.url = `https://${ref.host}/${found.fullName}`;
    }
  }
  return { ...ref, providerId };
}

function repoColumns(r: (RepoRef & { providerId: string | null }) | null) {
  return {
    repoUrl: r?.url ?? null,
    repoProvider: r?.provider ?? null,
    repoHost: r?.host ?? null,
    repoFullName: r?.fullName ?? null,
    repoProviderId: r?.providerId ?? null,
  };
}

/** Creates a DRAFT project in an org (its owners and maintainers). */
export async function createProject(deps: ProjectDeps, principal: Principal | null, orgId: string, body: unknown) {
  await requireOrgRole(deps.db, principal, orgId, "project.create");
  const input = parse(ProjectCreateRequest, body);
  const repo = input.repoUrl ? await resolveRepository(deps, input.repoUrl) : null;
  const [project] = await deps.db
    .insert(projects)
    .values({
      orgId,
      title: input.title,
      description: input.description,
      ...repoColumns(repo),
      repoVisibility: input.repoType,
      tokenAddress: input.tokenAddress,
      tokenSymbol: input.tokenSymbol ?? (input.tokenAddress ? null : "ETH"),
      tokenDecimals: input.tokenDecimals ?? 18,
      fundingMode: input.fundingMode,
      payoutReview: input.payoutReview,
      verificationRuns: input.verificationRuns,
      createdById: principal!.userId,
    })
    .returning();
  return project!;
}

/** One project the caller may see. */
export const getProject = (db: Db, principal: Principal | null, projectId: string) =>
  loadProject(db, principal, projectId, "project.view");

/** Changes a project; repository, token and funding mode only while it is a DRAFT. */
export async function updateProject(deps: ProjectDeps, principal: Principal | null, projectId: string, body: unknown) {
  const project = await loadProject(deps.db, principal, projectId, "project.update");
  const input = parse(ProjectUpdateRequest, body);
  const draftOnly = ["repoUrl", "tokenAddress", "tokenDecimals", "tokenSymbol", "fundingMode"] as const;
  if (project.state !== "DRAFT" && draftOnly.some((k) => input[k] !== undefined)) {
    throw conflict("The repository, token and funding mode can only change while the project is a draft.");
  }
  const patch: Partial<typeof projects.$inferInsert> = { updatedAt: new Date() };
  if (input.title !== undefined) patch.title = input.title;
  if (input.description !== undefined) patch.description = input.description;
  if (input.repoType !== undefined) patch.repoVisibility = input.repoType;
  if (input.repoUrl !== undefined) {
    Object.assign(patch, repoColumns(input.repoUrl ? await resolveRepository(deps, input.repoUrl) : null));
  }
  if (input.tokenAddress !== undefined) patch.tokenAddress = input.tokenAddress;
  if (input.tokenSymbol !== undefined) patch.tokenSymbol = input.tokenSymbol;
  if (input.tokenDecimals !== undefined) patch.tokenDecimals = input.tokenDecimals;
  if (input.fundingMode !== undefined) patch.fundingMode = input.fundingMode;
  if (input.payoutReview !== undefined) patch.payoutReview = input.payoutReview;
  if (input.repoAccessAfterPayment !== undefined) patch.repoAccessAfterPayment = input.repoAccessAfterPayment;
  if (input.verificationRuns !== undefined) patch.verificationRuns = input.verificationRuns;
  const [updated] = await deps.db.update(projects).set(patch).where(eq(projects.id, project.id)).returning();
  return updated!;
}

/**
 * Projects the caller may see, newest first: every public project plus the private ones of their orgs
 * (admins see all). `orgId` narrows to one org.
 */
export async function listProjects(db: Db, principal: Principal | null, opts: { orgId?: string; limit?: number } = {}) {
  if (!principal) return [];
  const mine = db.select({ id: orgMembers.orgId }).from(orgMembers).where(eq(orgMembers.userId, principal.userId));
  const invited = db
    .select({ id: projectMembers.projectId })
    .from(projectMembers)
    .where(eq(projectMembers.userId, principal.userId));
  const visible = principal.isAdmin
    ? undefined
    : or(eq(projects.repoVisibility, "PUBLIC"), inArray(projects.orgId, mine), inArray(projects.id, invited));
  const rows = await db
    .select({ project: projects, orgName: orgs.name })
    .from(projects)
    .innerJoin(orgs, eq(orgs.id, projects.orgId))
    .where(and(visible, opts.orgId ? eq(projects.orgId, opts.orgId) : undefined))
    .orderBy(desc(projects.createdAt))
    .limit(opts.limit ?? 200);
  return rows.map((r) => ({ ...r.project, orgName: r.orgName }));
}

/** A timestamp as JSON.stringify writes a Date (ISO 8601 in UTC, milliseconds), or null. */
const isoJson = (c: SQL | AnyColumn) => sql`to_char(${c} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** The JSON of a page of visible projects; `admin` sees all, `byOrg` narrows to the `orgId` placeholder. */
function projectsJsonQuery(db: Db, admin: boolean, byOrg: boolean) {
  const p = projects;
  const mine = db
    .select({ id: orgMembers.orgId })
    .from(orgMembers)
    .where(eq(orgMembers.userId, sql.placeholder("userId")));
  const invited = db
    .select({ id: projectMembers.projectId })
    .from(projectMembers)
    .where(eq(projectMembers.userId, sql.placeholder("userId")));
  const visible = admin
    ? undefined
    : or(eq(p.repoVisibility, "PUBLIC"), inArray(p.orgId, mine), inArray(p.id, invited));
  const rows = db
    .select({
      id: sql`${p.id}`.as("id"),
      orgId: sql`${p.orgId}`.as("orgId"),
      title: sql`${p.title}`.as("title"),
      description: sql`${p.description}`.as("description"),
      repoUrl: sql`${p.repoUrl}`.as("repoUrl"),
      repoType: sql`${p.repoVisibility}`.as("repoType"),
      repoProvider: sql`${p.repoProvider}`.as("repoProvider"),
      repoFullName: sql`${p.repoFullName}`.as("repoFullName"),
      repoProviderId: sql`${p.repoProviderId}`.as("repoProviderId"),
      tokenAddress: sql`${p.tokenAddress}`.as("tokenAddress"),
      tokenSymbol: sql`${p.tokenSymbol}`.as("tokenSymbol"),
      tokenDecimals: sql`${p.tokenDecimals}`.as("tokenDecimals"),
      fundingMode: sql`${p.fundingMode}`.as("fundingMode"),
      payoutReview: sql`${p.payoutReview}`.as("payoutReview"),
      repoAccessAfterPayment: sql`${p.repoAccessAfterPayment}`.as("repoAccessAfterPayment"),
      verificationRuns: sql`${p.verificationRuns}`.as("verificationRuns"),
      state: sql`${p.state}`.as("state"),
      totalPoints: sql`${p.totalPoints}`.as("totalPoints"),
      totalTokenAmount: sql`${p.totalTokenAmount}::text`.as("totalTokenAmount"),
      structureApprovedAt: isoJson(p.structureApprovedAt).as("structureApprovedAt"),
      createdAt: isoJson(p.createdAt).as("createdAt"),
      updatedAt: isoJson(p.updatedAt).as("updatedAt"),
    })
    .from(p)
    .where(and(visible, byOrg ? eq(p.orgId, sql.placeholder("orgId")) : undefined))
    .orderBy(desc(p.createdAt))
    .limit(sql.placeholder("limit"))
    .as("p");
  return db
    .select({
      json: sql<string>`'[' || coalesce(string_agg(row_to_json("p")::text, ',' order by ${rows.createdAt} desc), '') || ']'`,
    })
    .from(rows)
    .prepare(`projects_json_${admin ? "all" : "visible"}${byOrg ? "_org" : ""}`);
}

const projectsJson = [false, true].map((admin) =>
  [false, true].map((byOrg) => preparedFor((db) => projectsJsonQuery(db, admin, byOrg))),
);

/**
 * `GET /api/projects`' answer as JSON text, made by the database: the projects of `listProjects` (the same rule
 * and order) in `projectJson`'s shape, so no row is mapped or serialized here (with a hundred projects that was
 * most of the request's CPU time).
 */
export async function listProjectsJson(
  db: Db,
  principal: Principal | null,
  opts: { orgId?: string; limit?: number } = {},
): Promise<string> {
  if (!principal) return "[]";
  const query = projectsJson[principal.isAdmin ? 1 : 0]![opts.orgId ? 1 : 0]!(db);
  const [row] = await query.execute({ userId: principal.userId, orgId: opts.orgId, limit: opts.limit ?? 200 });
  return row?.json ?? "[]";
}

/** Σ points of a project's tasks (the funding quote's input; spec §3.1.5). */
export async function projectPoints(db: Db, projectId: string): Promise<number> {
  const [row] = await db
    .select({ total: sum(tasks.points) })
    .from(tasks)
    .where(eq(tasks.projectId, projectId));
  return Number(row?.total ?? 0);
}

/** What a project page may offer the caller: managing it (milestones, documents) and the AI call audit. */
export async function projectRights(db: Db, principal: Principal, project: Project) {
  const access = await requireOrgRole(db, principal, project.orgId, "project.view").catch(() => null);
  const role = access?.role ?? null;
  // a role given by a project invite counts on this project too
  const invited = role === "OWNER" ? null : await projectMemberRole(db, principal.userId, project.id);
  return {
    canManage: can(role, "project.manageMilestones") || can(invited, "project.manageMilestones"),
    canUpdate: can(role, "project.update") || can(invited, "project.update"),
    canAudit: can(role, "audit.view") || principal.isAdmin,
  };
}

/**
 * The overview's counts: milestones, documents and the draft points of a project the caller may view. Takes the
 * row `loadProject(…, "project.view")` returned to the page, so the access check is not run a second time.
 */
export async function projectSummary(db: Db, project: Project) {
  const [row] = await summaryQuery(db).execute({ id: project.id });
  return { milestoneCount: row?.milestones ?? 0, documentCount: row?.documents ?? 0, draftPoints: row?.points ?? 0 };
}

const summaryQuery = preparedFor((db) =>
  db
    .select({
      milestones: sql<number>`(select count(*)::int from ${milestones} where ${milestones.projectId} = ${projects.id})`,
      documents: sql<number>`(select count(*)::int from ${documents} where ${documents.projectId} = ${projects.id})`,
      points: sql<number>`(select coalesce(sum(${tasks.points}), 0)::int from ${tasks}
        where ${tasks.projectId} = ${projects.id})`,
    })
    .from(projects)
    .where(eq(projects.id, sql.placeholder("id")))
    .prepare("project_summary"),
);

/** An org's name and whether the caller may create projects there (org members only). */
export async function orgForProjects(
  db: Db,
  principal: Principal | null,
  orgId: string,
  action: "org.view" | "project.create" = "org.view",
) {
  const access = await requireOrgRole(db, principal, orgId, action);
  const [org] = await db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, orgId));
  return { id: orgId, name: org?.name ?? "", canCreate: can(access.role, "project.create") };
}

const TRANSITIONS: Record<ProjectState, ProjectState[]> = {
  DRAFT: ["ACTIVE"],
  ACTIVE: ["COMPLETED"],
  COMPLETED: [],
};

/**
 * Moves a project along DRAFT → ACTIVE → COMPLETED (funding activates, the last payout completes). Activation
 * needs an approved structure. Setting the current state again is a no-op, so callers may retry.
 */
export async function setProjectState(db: Db, projectId: string, state: ProjectState): Promise<Project> {
  return db.transaction(async (tx) => {
    const [project] = await tx.select().from(projects).where(eq(projects.id, projectId)).for("update");
    if (!project) throw notFound("Project", "PROJECT_NOT_FOUND");
    if (project.state === state) return project;
    if (!TRANSITIONS[project.state].includes(state)) {
      throw conflict(`A ${project.state} project cannot become ${state}.`, "CONFLICT", {
        from: project.state,
        to: state,
      });
    }
    if (state === "ACTIVE" && !project.structureApprovedAt) {
      throw conflict("Approve the milestone structure before the project is funded.");
    }
    const [updated] = await tx
      .update(projects)
      .set({ state, updatedAt: sql`now()` })
      .where(eq(projects.id, projectId))
      .returning();
    return updated!;
  });
}

/**
 * Where to clone a project's repository now, checked again (names may point elsewhere since they were stored),
 * with the git settings that keep the clone on the checked addresses. A GitHub repository known by its id is
 * looked up by id, so a rename or transfer since creation is followed (and recorded); without network the stored
 * location is used.
 */
export async function currentCloneUrl(deps: ProjectDeps, project: Project): Promise<CheckedRepoUrl | null> {
  if (!project.repoUrl) return null;
  if (project.repoProvider === "github" && project.repoProviderId && project.repoHost) {
    const api = githubApiFor(deps, project.repoHost);
    const found = api ? await fetchGithubRepo(api, { id: project.repoProviderId }) : null;
    if (found && found.fullName !== project.repoFullName) {
      const url = `https://${project.repoHost}/${found.fullName}`;
      await deps.db
        .update(projects)
        .set({ repoFullName: found.fullName, repoUrl: url, updatedAt: new Date() })
        .where(eq(projects.id, project.id));
      project.repoFullName = found.fullName;
      project.repoUrl = url;
    }
  }
  const url = cloneUrlOf({
    url: project.repoUrl,
    provider: project.repoProvider ?? "git",
    host: project.repoHost,
    fullName: project.repoFullName,
  });
  return checkRepoTarget(deps, url, "refuse");
}
