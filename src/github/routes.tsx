import { desc, eq } from "drizzle-orm";
import { Elysia } from "elysia";
import { z } from "zod";
import { html } from "../../ui/layout";
import { siteOrigin } from "../auth/http";
import { type AppContext, requireAdmin } from "../core/context";
import { pageProps, readForm, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { loadTask } from "../tasks/service";
import { accessState, pendingInvite } from "./access";
import { linkIssue } from "./commands";
import { finishManifest, installUrl, startManifest } from "./manifest";
import { githubCheckRuns, githubDeliveries, githubPulls } from "./schema";
import { AppCreatedPage, ManifestPage } from "./views";
import { receiveDelivery } from "./webhooks";

/** The webhook endpoint, the App's one-click setup, and what GitHub knows about a task. */
export const githubRoutes = (ctx: AppContext) =>
  new Elysia({ name: "github" })
    .use(httpContext(ctx))
    .post(
      "/webhooks/github",
      async ({ request, set }) => {
        const r = await receiveDelivery(ctx, request);
        set.status = r.duplicate ? 200 : 202;
        return { delivery: r.deliveryId, duplicate: r.duplicate };
      },
      {
        // The signature covers the raw bytes: nothing may parse the body before it is checked.
        parse: "none",
        detail: { summary: "GitHub webhook deliveries (signed with the App's webhook secret)", tags: ["github"] },
      },
    )
    .post("/admin/github/manifest", async ({ request, principal, body, set }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      requireAdmin(p);
      const form = readForm(body);
      const flow = await startManifest(ctx, p, form.github_org ?? "", siteOrigin(ctx, request));
      // This page posts the manifest to GitHub: allow that one form target (the site's policy allows 'self' only).
      const origin = new URL(flow.target).origin;
      const csp = String(set.headers["content-security-policy"] ?? "");
      set.headers["content-security-policy"] = csp.replace("form-action 'self'", `form-action 'self' ${origin}`);
      return html(<ManifestPage viewer={pageProps(p).viewer} target={flow.target} manifest={flow.manifest} />);
    })
    .get("/admin/github/callback", async ({ request, principal, query }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const q = query as Record<string, string | undefined>;
      const app = await finishManifest(ctx, p, q.code ?? "", q.state ?? "");
      return html(<AppCreatedPage viewer={pageProps(p).viewer} appId={app.appId} installUrl={installUrl(ctx)} />);
    })
    .get(
      "/api/tasks/:id/github",
      async ({ principal, params }) => {
        const p = await principal();
        await loadTask(ctx.db, p, params.id);
        const access = await accessState(ctx, params.id);
        // The caller's own invitation still to accept, with where to accept it on GitHub.
        const invite = p ? await pendingInvite(ctx, params.id, p.userId) : null;
        const pulls = await ctx.db
          .select({
            repoId: githubPulls.repoId,
            number: githubPulls.number,
            headSha: githubPulls.headSha,
            state: githubPulls.state,
          })
          .from(githubPulls)
          .where(eq(githubPulls.taskId, params.id));
        const checks = await ctx.db
          .select({
            verificationId: githubCheckRuns.verificationId,
            checkRunId: githubCheckRuns.checkRunId,
            status: githubCheckRuns.status,
          })
          .from(githubCheckRuns)
          .where(eq(githubCheckRuns.taskId, params.id));
        return { access, invite, pulls, checks };
      },
      { detail: { summary: "A task's repository access, pull requests and check runs on GitHub", tags: ["github"] } },
    )
    .post(
      "/api/tasks/:id/github/issue",
      async ({ principal, params, body, set }) => {
        const link = await linkIssue(ctx, await principal(), params.id, body.url);
        set.status = 201;
        return link;
      },
      {
        body: z.object({ url: z.string().max(500) }),
        detail: {
          summary: "Link a GitHub issue to a task (its slash commands then act on the task)",
          tags: ["github"],
        },
      },
    )
    .get(
      "/api/admin/github/deliveries",
      async ({ principal }) => {
        requireAdmin(await principal());
        const rows = await ctx.db
          .select({
            deliveryId: githubDeliveries.deliveryId,
            event: githubDeliveries.event,
            action: githubDeliveries.action,
            receivedAt: githubDeliveries.receivedAt,
            processedAt: githubDeliveries.processedAt,
            outcome: githubDeliveries.outcome,
          })
          .from(githubDeliveries)
          .orderBy(desc(githubDeliveries.receivedAt))
          .limit(100);
        return { deliveries: rows };
      },
      { detail: { summary: "The last 100 GitHub webhook deliveries and what each did", tags: ["admin", "github"] } },
    );
