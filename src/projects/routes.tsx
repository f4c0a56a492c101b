import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { type AppContext, requireUser } from "../core/context";
import { AppError } from "../core/errors";
import { pageProps, readFlash, readForm, seeOther, signedIn, signInRedirect, trySave } from "../core/http/form";
import { pageCacheOf } from "../core/http/page-cache";
import { httpContext } from "../core/http/plugin";
import { fundingPanel } from "../funding/service";
import { FUNDING_FLASH, FundingPanel } from "../funding/views";
import { sidebarPanel } from "../sidebar/service";
import { SidebarPanel } from "../sidebar/views";
import { loadProject, loadPublicProject } from "./access";
import { PROJECT_CSS, PROJECT_CSS_PATH } from "./assets";
import {
  createProject,
  getProject,
  listProjects,
  listProjectsJson,
  orgForProjects,
  projectJson,
  projectPoints,
  projectRights,
  projectSummary,
  updateProject,
} from "./service";
import { NewProjectPage, ProjectListPage, ProjectOverviewPage } from "./views";

const SETTINGS_FLASH = { saved: "Verification settings saved." };

/** Project pages and the project API (spec §5.4). */
export const projectRoutes = (ctx: AppContext) => {
  // the read-only pages and lists below are served again while the database has not changed (page-cache.ts)
  const cache = pageCacheOf(ctx.database);
  return (
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
        async ({ request, query, principal }) =>
          cache.serve(request, async () => {
            const p = requireUser(await principal());
            const orgId = typeof query.orgId === "string" ? query.orgId : undefined;
            // The database writes the list's JSON (projectJson's shape): nothing to map or serialize here.
            return new Response(`{"projects":${await listProjectsJson(ctx.db, p, { orgId })}}`, {
              headers: { "content-type": "application/json;charset=utf-8" },
            });
          }),
        { detail: { summary: "Projects you can see: public ones and those of your orgs", tags: ["projects"] } },
      )
      .get(
        "/api/projects/:id",
        async ({ request, params, principal }) =>
          cache.serve(request, async () =>
            Response.json(projectJson(await getProject(ctx.db, await principal(), params.id))),
          ),
        {
          detail: { summary: "Project details", tags: ["projects"] },
        },
      )
      .patch(
        "/api/projects/:id",
        async ({ params, body, principal }) =>
          projectJson(await updateProject(ctx, await principal(), params.id, body)),
        {
          detail: {
            summary:
              "Edit a project (repository, token, funding mode only while DRAFT; payoutReview, verificationRuns 1|2 and repoAccessAfterPayment REMOVE|KEEP any time)",
            tags: ["projects"],
          },
        },
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
        { detail: { summary: "Σ task points (draft) and the approved total", tags: ["projects"] } },
      )
      // ---- pages
      .get("/projects", async ({ request, principal }) =>
        cache.serve(request, async () => {
          const p = await signedIn(request, principal);
          if (p instanceof Response) return p;
          return html(<ProjectListPage {...pageProps(p)} projects={await listProjects(ctx.db, p)} title="Projects" />);
        }),
      )
      .get("/orgs/:id/projects", async ({ request, params, principal }) =>
        cache.serve(request, async () => {
          const p = await signedIn(request, principal);
          if (p instanceof Response) return p;
          const org = await orgForProjects(ctx.db, p, params.id);
          return html(
            <ProjectListPage
              {...pageProps(p)}
              projects={await listProjects(ctx.db, p, { orgId: params.id })}
              title={`${org.name || "Organization"}: projects`}
              newHref={org.canCreate ? `/orgs/${params.id}/projects/new` : undefined}
            />,
          );
        }),
      )
      .get("/orgs/:id/projects/new", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const org = await orgForProjects(ctx.db, p, params.id, "project.create");
        return html(<NewProjectPage {...pageProps(p)} orgId={params.id} orgName={org.name} />);
      })
      .post("/orgs/:id/projects", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const values = readForm(body);
        const saved = await trySave(values, () => createProject(ctx, p, params.id, values));
        if (saved.ok) return seeOther(request, `/projects/${saved.value.id}/milestones?created=1`);
        const org = await orgForProjects(ctx.db, p, params.id);
        return html(
          <NewProjectPage
            {...pageProps(p)}
            orgId={params.id}
            orgName={org.name}
            values={saved.values}
            errors={saved.errors}
          />,
          400,
        );
      })
      .get("/projects/:id", async ({ request, params, principal }) =>
        cache.serve(request, async () => {
          const p = await principal();
          if (!p) {
            // signed out: a public project's overview is readable (the service decides); anything else asks to sign in
            const project = await loadPublicProject(ctx.db, params.id).catch((err) => {
              if (err instanceof AppError && err.status === 401) return null;
              throw err;
            });
            if (!project) return signInRedirect(request);
            return html(
              <ProjectOverviewPage
                viewer={null}
                project={project}
                canManage={false}
                canAudit={false}
                {...(await projectSummary(ctx.db, project))}
              />,
            );
          }
          const project = await loadProject(ctx.db, p, params.id, "project.view");
          const [summary, rights, funding, sidebar] = await Promise.all([
            projectSummary(ctx.db, project),
            projectRights(ctx.db, p, project),
            fundingPanel(ctx, p, project),
            sidebarPanel(ctx, p, { scope: "project", scopeId: project.id, projectId: project.id }),
          ]);
          return html(
            <ProjectOverviewPage
              {...pageProps(p)}
              project={project}
              {...rights}
              flash={
                readFlash(request, FUNDING_FLASH, { param: "funding", errors: true }) ??
                readFlash(request, SETTINGS_FLASH, { param: "settings" })
              }
              funding={<FundingPanel project={project} data={funding} csrf={p.csrfToken} />}
              {...summary}
              sidebar={<SidebarPanel {...sidebar} csrf={p.csrfToken} />}
            />,
          );
        }),
      )
      .post("/projects/:id/settings", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const f = readForm(body);
        // An unticked checkbox sends nothing: the form always says what it means.
        await updateProject(ctx, p, params.id, {
          payoutReview: f.payoutReview === "on",
          verificationRuns: f.verificationRuns,
          ...(f.repoAccessAfterPayment ? { repoAccessAfterPayment: f.repoAccessAfterPayment } : {}),
        });
        return seeOther(request, `/projects/${params.id}?settings=saved`);
      })
  );
};
