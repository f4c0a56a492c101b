import { Elysia } from "elysia";
import { ASSETS_BY_PATH } from "../ui/assets";
import { enterRequestScope, type ScopeViewer } from "../ui/request-scope";
import type { AppContext } from "./core/context";
import { FatalJobError, jobRoutes } from "./core/jobs";
import { defineHarnessJob, sandboxSettings } from "./harness/jobs";
import { join } from "node:path";
import { AppError } from "./core/errors";
import { corsHeaders, isSecure, securityHeaders } from "./core/http/security";
import { errorResponse } from "./core/http/errors";
import { compressResponse } from "./core/http/compression";
import { openApiRoutes } from "./core/http/openapi";
import { inputGuard } from "./core/http/input";
import { getRequestMeta, httpContext, markRequest } from "./core/http/plugin";
import { settingsRoutes } from "./core/settings/routes";
import { statusRoutes } from "./status/routes";
import { chainRoutes } from "./chain/routes";
import { setupChain } from "./chain/setup";
import { fundingRoutes } from "./funding/routes";
import { setupFunding } from "./funding/jobs";
import { setupPayments } from "./payments/setup";
import { auditRoutes } from "./audit/routes";
import { authGuard, authRoutes } from "./auth/routes";
import { setupIdentity } from "./auth/setup";
import { inviteRoutes } from "./invites/routes";
import { notificationRoutes } from "./notifications/routes";
import { orgRoutes } from "./orgs/routes";
import { authorizeRun } from "./orgs/run-access";
import { userRoutes } from "./users/routes";
import { aiRoutes } from "./ai/routes";
import { setupAi } from "./ai/setup";
import { documentRoutes } from "./documents/routes";
import { setupDocuments } from "./documents/jobs";
import { milestoneRoutes } from "./milestones/routes";
import { setupPlanner } from "./planner/jobs";
import { plannerRoutes } from "./planner/routes";
import { projectRoutes } from "./projects/routes";
import { projectMemberRoutes } from "./projects/members-routes";
import { sidebarRoutes } from "./sidebar/routes";
import { setupSidebar } from "./sidebar/setup";
import { registerLinkedUserData } from "./users/linked-data";
import { setupTasks } from "./tasks/jobs";
import { taskRoutes } from "./tasks/routes";
import { githubRoutes } from "./github/routes";
import { exploreRoutes } from "./explore/routes";
import { adminRoutes } from "./admin/routes";
import { metricsOf } from "./admin/metrics";
import { setupGitHub } from "./github/jobs";
import { accountEmailRoutes } from "./auth/account-routes";
import { setupMail } from "./notifications/mail-jobs";
import { setupEvents } from "./events/jobs";
import { eventRoutes } from "./events/routes";
import { setupLiveNotifications } from "./notifications/live";
import { setupWebhooks } from "./webhooks/jobs";
import { webhookRoutes } from "./webhooks/routes";

/** Builds the HTTP application: conventions first, then every domain's routes. The one place listing them all. */
export function createApp(ctx: AppContext) {
  const corsAllowed = () => ctx.settings.get("instance.corsOrigins");
  const metrics = metricsOf(ctx);

  const base = new Elysia({ name: "devsponsor" })
    .onRequest(({ request, set }) => {
      const incoming = request.headers.get("x-request-id");
      const id = incoming && /^[\w.-]{1,64}$/.test(incoming) ? incoming : crypto.randomUUID();
      markRequest(request, id);
      enterRequestScope(new URL(request.url).pathname, () => pageViewer(ctx, request));
      set.headers["x-request-id"] = id;
      const h = new Headers();
      securityHeaders(h, isSecure(request, ctx.config.trustProxy));
      corsHeaders(request, h, corsAllowed());
      h.forEach((v, k) => {
        set.headers[k] = v;
      });
      if (request.method === "OPTIONS") {
        return new Response(null, { status: h.has("access-control-allow-origin") ? 204 : 403, headers: h });
      }
    })
    .use(httpContext(ctx))
    .use(inputGuard())
    .onError({ as: "global" }, ({ code, error, request, set }) => {
      const meta = getRequestMeta(request);
      const appError = toAppError(code, error);
      if (appError.status >= 500) {
        // The path only: query strings carry tokens (invites, OAuth codes); bodies are never logged.
        const path = new URL(request.url).pathname;
        ctx.log.error("request failed", { requestId: meta?.id, method: request.method, path, err: error });
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(set.headers)) if (typeof v === "string") headers[k] = v;
      return errorResponse(request, appError, headers).then((res) => compressResponse(request, res));
    })
    // HTML, CSS and JS go out compressed when the client accepts it (never event streams)
    .mapResponse({ as: "global" }, ({ request, responseValue }) =>
      responseValue instanceof Response ? compressResponse(request, responseValue) : undefined,
    )
    .onAfterResponse({ as: "global" }, ({ request, set, route, responseValue, error, code }: any) => {
      const meta = getRequestMeta(request);
      if (!meta) return;
      // set.status is not the status of a returned Response nor of an error rendered by onError
      const status =
        responseValue instanceof Response
          ? responseValue.status
          : error
            ? toAppError(code, error).status
            : Number(set.status) || 200;
      metrics.recordRequest(request.method, route || "unmatched", status, (performance.now() - meta.start) / 1000);
      const path = new URL(request.url).pathname;
      if (path.startsWith("/static/")) return;
      ctx.log.info("request", {
        requestId: meta.id,
        method: request.method,
        path,
        status: set.status,
        ms: Math.round((performance.now() - meta.start) * 10) / 10,
      });
    })
    .get("/static/*", ({ request }) => {
      const asset = ASSETS_BY_PATH.get(new URL(request.url).pathname);
      if (!asset) throw new AppError("NOT_FOUND", "Asset not found.", 404);
      return new Response(asset.body, {
        headers: { "content-type": asset.type, "cache-control": "public, max-age=31536000, immutable" },
      });
    });

  const app = base
    .use(authGuard(ctx)) // first: its checks (setup, CSRF, key scopes) cover only routes registered after it
    .use(authRoutes(ctx))
    .use(accountEmailRoutes(ctx))
    .use(statusRoutes(ctx))
    .use(settingsRoutes(ctx))
    .use(jobRoutes({ jobs: ctx.jobs, authorize: authorizeRun(ctx) }));
  // Domain routes are added here, one line each.
  app.use(fundingRoutes(ctx));
  app.use(chainRoutes(ctx));
  app.use(orgRoutes(ctx));
  app.use(inviteRoutes(ctx));
  app.use(userRoutes(ctx));
  app.use(notificationRoutes(ctx));
  app.use(eventRoutes(ctx));
  app.use(auditRoutes(ctx));
  app.use(projectRoutes(ctx));
  app.use(projectMemberRoutes(ctx));
  app.use(milestoneRoutes(ctx));
  app.use(taskRoutes(ctx));
  app.use(plannerRoutes(ctx));
  app.use(documentRoutes(ctx));
  app.use(sidebarRoutes(ctx));
  app.use(aiRoutes(ctx));
  app.use(githubRoutes(ctx));
  app.use(exploreRoutes(ctx));
  app.use(adminRoutes(ctx));
  app.use(webhookRoutes(ctx));

  return app.use(openApiRoutes(app, ctx.version));
}

/** The browser session's user as the page header shows it (API keys do not sign a page in). */
async function pageViewer(ctx: AppContext, request: Request): Promise<ScopeViewer | null> {
  if (request.headers.has("authorization")) return null;
  const p = await ctx.authenticate(request);
  return p?.via === "session" ? { viewer: { name: p.name, isAdmin: p.isAdmin }, csrfToken: p.csrfToken } : null;
}

/** The application type, for tests and typed plugins. */
export type App = ReturnType<typeof createApp>;

function toAppError(code: string | number, error: unknown): AppError {
  if (error instanceof AppError) return error;
  switch (code) {
    case "VALIDATION": {
      const fields: Record<string, string> = {};
      for (const issue of ((error as any).all ?? []) as { path?: string; message?: string; summary?: string }[]) {
        const key =
          String(issue.path ?? "")
            .replace(/^\//, "")
            .replace(/\//g, ".") || "_";
        fields[key] ??= issue.message ?? issue.summary ?? "invalid";
      }
      return new AppError("INVALID_INPUT", "The request is not valid.", 400, { fields });
    }
    case "PARSE":
      return new AppError("INVALID_INPUT", "The request body could not be parsed (malformed JSON or form data).", 400);
    case "NOT_FOUND":
      return new AppError("NOT_FOUND", "No such route.", 404);
    case "INVALID_COOKIE_SIGNATURE":
      return new AppError("UNAUTHORIZED", "Your session is not valid; sign in again.", 401);
    default: {
      const status = (error as { status?: number })?.status;
      if (typeof status === "number" && status >= 400 && status < 500) {
        return new AppError(
          status === 413 ? "PAYLOAD_TOO_LARGE" : "INVALID_INPUT",
          "The request was rejected.",
          status,
        );
      }
      return new AppError("INTERNAL", "Something went wrong on our side; the error was logged.", 500);
    }
  }
}

/** What a `serve` process runs: HTTP and enqueueing (web), job workers and cron (worker), or both (all). */
export type ServeRole = "web" | "worker" | "all";

/** Start/stop hooks of background work (job workers, cron, chain followers) registered by domains at boot. */
export interface Lifecycle {
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Lets every domain register its services, jobs, cron entries and health checks on the context, in order.
 * The one place listing them, next to the routes.
 */
export async function setupDomains(ctx: AppContext, opts: { role?: ServeRole } = {}): Promise<Lifecycle> {
  const starts: (() => Promise<void> | void)[] = [];
  const stops: (() => Promise<void> | void)[] = [];
  const on = {
    start: (fn: () => Promise<void> | void) => starts.push(fn),
    stop: (fn: () => Promise<void> | void) => stops.unshift(fn),
  };
  void on; // domains are added here, one line each: await setupX(ctx, on);
  // Finished runs' events are dropped after 30 days; keyed jobs stay so their key keeps refusing a second run.
  ctx.jobs.define("jobs.prune", () => ctx.jobs.prune(30 * 86_400_000), { maxAttempts: 1 });
  ctx.cron.register("jobs.prune", "0 30 3 * * *", "jobs.prune");
  // A web-only node enqueues and never runs jobs: its job workers, cron and mail sender stay off.
  const runsJobs = (opts.role ?? "all") !== "web";
  const work = { start: (fn: () => Promise<void> | void) => runsJobs && on.start(fn), stop: on.stop };
  // Workers start last and stop first: every domain's handlers and cron entries are registered by then.
  work.start(() => ctx.jobs.start());
  work.start(() => ctx.cron.start());
  on.stop(() => ctx.jobs.stop(25_000));
  on.stop(() => ctx.cron.stop());
  await setupEvents(ctx, on); // first: the other domains subscribe to the bus
  setupLiveNotifications(ctx);
  await setupChain(ctx, on);
  await setupPayments(ctx, on);
  setupFunding(ctx);
  await setupIdentity(ctx, on);
  await setupAi(ctx, on);
  await setupSidebar(ctx, on);
  registerLinkedUserData();
  await setupDocuments(ctx, on);
  await setupPlanner(ctx, on);
  await setupTasks(ctx, on);
  await setupGitHub(ctx, on);
  await setupMail(ctx, work);
  setupWebhooks(ctx, on);
  defineHarnessJob(ctx.jobs, {
    baseDir: join(ctx.config.dataDir, "harness"),
    fatal: FatalJobError,
    defaults: () => sandboxSettings(ctx.settings),
  });
  return {
    start: async () => {
      for (const fn of starts) await fn();
    },
    stop: async () => {
      for (const fn of stops) await fn();
    },
  };
}
