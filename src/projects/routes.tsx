import { count, eq } from "drizzle-orm";
import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { seeOther, viewerOf } from "../auth/web";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { AppError } from "../core/errors";
import { httpContext } from "../core/http/plugin";
import { documents } from "../documents/schema";
import { milestones } from "../milestones/schema";
import { FUNDING_FLASH } from "../funding/routes";
import { fundingPanel } from "../funding/service";
import { FundingPanel } from "../funding/views";
import { can, requireOrgRole } from "../orgs/permissions";
import { orgs } from "../orgs/schema";
import { SidebarPanel } from "../sidebar/views";
import { loadProject } from "./access";
import { PROJECT_CSS, PROJECT_CSS_PATH } from "./assets";
import type { Project } from "./schema";
import { createProject, getProject, listProjects, projectJson, projectPoints, updateProject } from "./service";
import { NewProjectPage, ProjectListPage, ProjectOverviewPage, type ProjectPageProps } from "./views";

const signIn = (request: Request) =>
  seeOther(request, `/signin?next=${encodeURIComponent(new URL(request.url).pathname)}`);

/** Form bodies: strings only, empty strings dropped (so optional fields stay optional). */
export function formValues(body: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((body ?? {}) as Record<string, unknown>)) {
    if (k === "_csrf") continue;
    if (typeof v === "string" && v !== "") out[k] = v;
  }
  return out;
}

/** What every project page needs to know about the caller: may they manage, may they read the AI audit. */
export async function projectPageProps(
  ctx: AppContext,
  p: Principal,
  project: Project,
): Promise<Omit<ProjectPageProps, "sidebar" | "flash">> {
  const access = await requireOrgRole(ctx.db, p, project.orgId, "project.view").catch(() => null);
  const role = access?.role ?? null;
  return {
    viewer: viewerOf(p)!,
    csrf: p.csrfToken,
    project,
    canManage: can(role, "project.manageMilestones"),
    canAudit: can(role, "audit.view") || p.isAdmin,
  };
}

/** Project pages and the project API (spec §5.4). */
export const projectRoutes = (ctx: AppContext) =>
  new Elysia({ name: "projects" })
    .use(httpContext(ctx))
    .get(
      PROJECT_CSS_PATH,
      () =>
        new Response(PROJECT_CSS, {
          headers: {
            "content-type": "text/css; charset=utf-8",
            "cache-control": "public, max-age=31536000, immutable",
          },
        }),
    )
    // ---- API
    .post(
      "/api/orgs/:id/projects",
      async ({ params, body, principal, set }) => {
        const project = await createProject(ctx, await principal(), params.id, body);
        set.status = 201;
        return projectJson(project);
      },
      { detail: { summary: "Create a project in an org (DRAFT)", tags: ["projects"] } },
    )
    .get(
      "/api/projects",
      async ({ query, principal }) => {
        const p = requireUser(await principal());
        const orgId = typeof query.orgId === "string" ? query.orgId : undefined;
        return { projects: (await listProjects(ctx.db, p, { orgId })).map(projectJson) };
      },
      { detail: { summary: "Projects you can see: public ones and those of your orgs", tags: ["projects"] } },
    )
    .get(
      "/api/projects/:id",
      async ({ params, principal }) => projectJson(await getProject(ctx.db, await principal(), params.id)),
      {
        detail: { summary: "Project details", tags: ["projects"] },
      },
    )
    .patch(
      "/api/projects/:id",
      async ({ params, body, principal }) => projectJson(await updateProject(ctx, await principal(), params.id, body)),
      { detail: { summary: "Edit a project (repository, token, funding mode only while DRAFT)", tags: ["projects"] } },
    )
    .get(
      "/api/projects/:id/points",
      async ({ params, principal }) => {
        const project = await getProject(ctx.db, await principal(), params.id);
        return {
          projectId: project.id,
          draftPoints: await projectPoints(ctx.db, project.id),
          totalPoints: project.totalPoints,
        };
      },
      { detail: { summary: "Σ sub-milestone points (draft) and the approved total", tags: ["projects"] } },
    )
    // ---- pages
    .get("/projects", async ({ request, principal }) => {
      const p = await principal();
      if (!p) return signIn(request);
      return html(
        <ProjectListPage
          viewer={viewerOf(p)!}
          csrf={p.csrfToken}
          projects={await listProjects(ctx.db, p)}
          title="Projects"
        />,
      );
    })
    .get("/orgs/:id/projects", async ({ request, params, principal }) => {
      const p = await principal();
      if (!p) return signIn(request);
      const access = await requireOrgRole(ctx.db, p, params.id, "org.view");
      const [org] = await ctx.db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, params.id));
      return html(
        <ProjectListPage
          viewer={viewerOf(p)!}
          csrf={p.csrfToken}
          projects={await listProjects(ctx.db, p, { orgId: params.id })}
          title={`${org?.name ?? "Organization"}: projects`}
          newHref={can(access.role, "project.create") ? `/orgs/${params.id}/projects/new` : undefined}
        />,
      );
    })
    .get("/orgs/:id/projects/new", async ({ request, params, principal }) => {
      const p = await principal();
      if (!p) return signIn(request);
      await requireOrgRole(ctx.db, p, params.id, "project.create");
      const [org] = await ctx.db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, params.id));
      return html(
        <NewProjectPage viewer={viewerOf(p)!} csrf={p.csrfToken} orgId={params.id} orgName={org?.name ?? ""} />,
      );
    })
    .post("/orgs/:id/projects", async ({ request, params, body, principal }) => {
      const p = await principal();
      if (!p) return signIn(request);
      const values = formValues(body);
      try {
        const project = await createProject(ctx, p, params.id, values);
        return seeOther(request, `/projects/${project.id}/milestones?created=1`);
      } catch (err) {
        if (!(err instanceof AppError && err.code === "INVALID_INPUT")) throw err;
        const [org] = await ctx.db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, params.id));
        const errors = (err.details.fields ?? {}) as Record<string, string>;
        return html(
          <NewProjectPage
            viewer={viewerOf(p)!}
            csrf={p.csrfToken}
            orgId={params.id}
            orgName={org?.name ?? ""}
            values={values}
            errors={errors}
          />,
          400,
        );
      }
    })
    .get("/projects/:id", async ({ request, params, principal }) => {
      const p = await principal();
      if (!p) return signIn(request);
      const project = await loadProject(ctx.db, p, params.id, "project.view");
      const [[ms], [docs], points, base, funding] = await Promise.all([
        ctx.db.select({ n: count() }).from(milestones).where(eq(milestones.projectId, project.id)),
        ctx.db.select({ n: count() }).from(documents).where(eq(documents.projectId, project.id)),
        projectPoints(ctx.db, project.id),
        projectPageProps(ctx, p, project),
        fundingPanel(ctx, p, project),
      ]);
      const query = new URL(request.url).searchParams;
      const error = query.get("error");
      const notice = FUNDING_FLASH[query.get("funding") ?? ""];
      return html(
        <ProjectOverviewPage
          {...base}
          flash={error ? { kind: "error", message: error } : notice ? { kind: "success", message: notice } : undefined}
          funding={<FundingPanel project={project} data={funding} csrf={p.csrfToken} />}
          milestoneCount={ms?.n ?? 0}
          documentCount={docs?.n ?? 0}
          draftPoints={points}
          sidebar={
            await SidebarPanel({ ctx, principal: p, scope: "project", scopeId: project.id, projectId: project.id })
          }
        />,
      );
    });
