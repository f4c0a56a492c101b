import { Elysia } from "elysia";
import { intInRange, storableDate } from "../core/http/input";
import { html } from "../../ui/layout";
import type { AppContext, Principal } from "../core/context";
import { pageProps, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { requireOrgRole } from "../orgs/permissions";
import { loadProject } from "../projects/access";
import { projectRights } from "../projects/service";
import { listAiCalls, verifyAiCall } from "./audit";
import type { AiCall } from "./schema";
import { AiCallsPage } from "./views";

const withCheck = (calls: AiCall[]) => calls.map((c) => ({ ...c, verified: verifyAiCall(c) }));
const before = (q: Record<string, unknown>) => storableDate(q.before);

/** The AI audit (spec §4.5): every model call of an org or project, for its owners (and platform admins). */
export const aiRoutes = (ctx: AppContext) => {
  const projectCalls = async (p: Principal | null, projectId: string, q: Record<string, unknown>) => {
    const project = await loadProject(ctx.db, p, projectId, "audit.view");
    return {
      project,
      calls: withCheck(
        await listAiCalls(ctx.db, {
          orgId: project.orgId,
          projectId: project.id,
          before: before(q),
          limit: Number(q.limit) || 50,
        }),
      ),
    };
  };
  return new Elysia({ name: "ai" })
    .use(httpContext(ctx))
    .get(
      "/api/projects/:id/ai-calls",
      async ({ params, query, principal }) => ({
        calls: (await projectCalls(await principal(), params.id, query)).calls,
      }),
      {
        detail: { summary: "Model calls made for a project, with their checksum verified (org owners)", tags: ["ai"] },
      },
    )
    .get(
      "/api/orgs/:id/ai-calls",
      async ({ params, query, principal }) => {
        await requireOrgRole(ctx.db, await principal(), params.id, "audit.view");
        return {
          calls: withCheck(
            await listAiCalls(ctx.db, {
              orgId: params.id,
              before: before(query),
              limit: intInRange(1, 200).catch(50).parse(query.limit),
            }),
          ),
        };
      },
      { detail: { summary: "Model calls made for an org's projects (org owners)", tags: ["ai"] } },
    )
    .get("/projects/:id/ai-calls", async ({ request, params, query, principal }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const { project, calls } = await projectCalls(p, params.id, query);
      const rights = await projectRights(ctx.db, p, project);
      return html(<AiCallsPage {...pageProps(p)} project={project} {...rights} calls={calls} />);
    });
};
