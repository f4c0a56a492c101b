import { Elysia } from "elysia";
import { z } from "zod";
import { html } from "../../ui/layout";
import { type AppContext, type Principal, requireAdmin } from "../core/context";
import { AppError } from "../core/errors";
import { pageProps, readFlash, readForm, seeOther, signedIn, withError, withFlash } from "../core/http/form";
import { intInRange } from "../core/http/input";
import { httpContext } from "../core/http/plugin";
import { JOB_STATES } from "../core/jobs/schema";
import { checkScrapeToken, metricsOf } from "./metrics";
import {
  cronEntries,
  discardJob,
  doctorReport,
  feesOverview,
  feeWithdrawals,
  jobsOverview,
  listJobs,
  listPayments,
  PAYMENT_STATES,
  retryFailedJobs,
  retryJob,
  retryPayment,
  runCronNow,
  withdrawFees,
} from "./service";
import { endSessions, listUsers, setAdmin, setDisabled } from "./users";
import { CronPage, DoctorPage, FeesPage, JobsPage, PaymentsPage, UsersPage } from "./views";

const admin = (summary: string) => ({ detail: { summary, tags: ["admin"] } });

const FLASHES: Record<string, string> = {
  retried: "The job runs again now.",
  "retried-all": "Every failed and dead job runs again now.",
  discarded: "The job was discarded.",
  "cron-run": "The entry's job was enqueued; it runs now.",
  "payment-retried": "The payment's payout job runs again now.",
  withdrawn: "The fees were sent to the treasury.",
  "admin-granted": "The user is now an admin.",
  "admin-removed": "The user is no longer an admin.",
  disabled: "The account is disabled and its sessions ended.",
  enabled: "The account is enabled again.",
  "sessions-ended": "The user's sessions ended.",
};

/**
 * Runs a page form's action and redirects back with a flash; a refusal the admin can act on (conflict, bad input,
 * not found) comes back as the page's error message. Anything else (403 for a non-admin) goes to the error page.
 */
async function act(request: Request, back: string, done: string, action: () => Promise<unknown>) {
  try {
    await action();
    return seeOther(request, withFlash(back, done));
  } catch (err) {
    if (err instanceof AppError && [400, 404, 409].includes(err.status))
      return seeOther(request, withError(back, err.message));
    throw err;
  }
}

/** The admin console: pages under /admin, the same actions under /api/admin, and the Prometheus /metrics. */
export const adminRoutes = (ctx: AppContext) => {
  const page = async (request: Request, principal: () => Promise<Principal | null>) => signedIn(request, principal);
  return (
    new Elysia({ name: "admin" })
      .use(httpContext(ctx))
      // ---- JSON API
      .get(
        "/api/admin/jobs",
        async ({ query, principal }) => ({ jobs: await listJobs(ctx, await principal(), query) }),
        {
          query: z.object({
            state: z.enum(JOB_STATES).optional(),
            name: z.string().max(100).optional(),
            limit: z.coerce.number().int().min(1).max(500).optional(),
          }),
          ...admin("Recent background jobs"),
        },
      )
      .get("/api/admin/jobs/summary", async ({ principal }) => jobsOverview(ctx, await principal()), {
        ...admin("Jobs by name and state, and the failed and dead jobs with their errors"),
      })
      .post("/api/admin/jobs/:id/retry", async ({ params, principal }) => retryJob(ctx, await principal(), params.id), {
        ...admin("Run a dead or failed job again now"),
      })
      .post(
        "/api/admin/jobs/:id/discard",
        async ({ params, principal }) => discardJob(ctx, await principal(), params.id),
        admin("Delete a dead or failed job; it never runs again"),
      )
      .post(
        "/api/admin/jobs/retry-failed",
        async ({ body, principal }) => retryFailedJobs(ctx, await principal(), { name: body?.name }),
        {
          body: z.object({ name: z.string().max(100).optional() }).optional(),
          ...admin("Run every dead and failed job (of one name, if given) again now"),
        },
      )
      .get("/api/admin/cron", async ({ principal }) => ({ entries: await cronEntries(ctx, await principal()) }), {
        ...admin("Cron entries with their schedule, previous and next ticks and the last run's result"),
      })
      .post(
        "/api/admin/cron/:id/run",
        async ({ params, principal }) => runCronNow(ctx, await principal(), params.id),
        admin("Enqueue a cron entry's job now"),
      )
      .get("/api/admin/payments", async ({ query, principal }) => listPayments(ctx, await principal(), query), {
        query: z.object({ state: z.enum(PAYMENT_STATES).optional(), page: intInRange(1, 100_000).optional() }),
        ...admin("Payments with state, transaction, payout attempts and failure reason"),
      })
      .post(
        "/api/admin/payments/:id/retry",
        async ({ params, principal }) => retryPayment(ctx, await principal(), params.id),
        admin("Retry a failed payment through its payout job"),
      )
      .get("/api/admin/fees", async ({ principal }) => feesOverview(ctx, await principal()), {
        ...admin("Fees the escrow owes the treasury, per token, and past withdrawals"),
      })
      .post(
        "/api/admin/fees/withdraw",
        async ({ body, principal }) => withdrawFees(ctx, await principal(), body.token),
        {
          body: z.object({ token: z.string().max(42) }),
          ...admin("Send a token's fees to the treasury (the escrow's withdrawFees)"),
        },
      )
      .get("/api/admin/users", async ({ query, principal }) => listUsers(ctx.db, await principal(), query), {
        query: z.object({ q: z.string().max(100).optional(), page: intInRange(1, 100_000).optional() }),
        ...admin("Accounts, searched by name, e-mail or GitHub login, 25 per page"),
      })
      .post(
        "/api/admin/users/:id/admin",
        async ({ params, body, principal }) => setAdmin(ctx.db, await principal(), params.id, body.isAdmin),
        {
          body: z.object({ isAdmin: z.boolean() }),
          ...admin("Make a user an admin or remove the right (never from the last admin)"),
        },
      )
      .post(
        "/api/admin/users/:id/disabled",
        async ({ params, body, principal }) => setDisabled(ctx.db, await principal(), params.id, body.disabled),
        {
          body: z.object({ disabled: z.boolean() }),
          ...admin("Disable an account (no sign-in, sessions end, API keys stop) or enable it"),
        },
      )
      .post(
        "/api/admin/users/:id/sessions/end",
        async ({ params, principal }) => endSessions(ctx.db, await principal(), params.id),
        admin("End every session of a user"),
      )
      .get("/api/admin/doctor", async ({ principal }) => doctorReport(ctx, await principal()), {
        ...admin("The doctor's checks with their status and fixes"),
      })
      // ---- Prometheus
      .get("/metrics", async ({ request, set }) => {
        set.headers["www-authenticate"] = 'Bearer realm="metrics"';
        checkScrapeToken(ctx, request.headers.get("authorization"));
        const body = await metricsOf(ctx).render(ctx);
        return new Response(body, {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8", "cache-control": "no-store" },
        });
      })
      // ---- pages
      .get("/admin", async ({ request, principal }) => {
        const p = await page(request, principal);
        if (p instanceof Response) return p;
        requireAdmin(p);
        return seeOther(request, "/admin/jobs");
      })
      .get("/admin/jobs", async ({ request, principal }) => {
        const p = await page(request, principal);
        if (p instanceof Response) return p;
        const data = await jobsOverview(ctx, p);
        const { viewer, csrf } = pageProps(p);
        return html(
          <JobsPage viewer={viewer} csrf={csrf} flash={readFlash(request, FLASHES, { errors: true })} {...data} />,
        );
      })
      .post("/admin/jobs/retry-failed", async ({ request, principal }) =>
        act(request, "/admin/jobs", "retried-all", async () => retryFailedJobs(ctx, await principal())),
      )
      .post("/admin/jobs/:id/retry", async ({ request, params, principal }) =>
        act(request, "/admin/jobs", "retried", async () => retryJob(ctx, await principal(), params.id)),
      )
      .post("/admin/jobs/:id/discard", async ({ request, params, principal }) =>
        act(request, "/admin/jobs", "discarded", async () => discardJob(ctx, await principal(), params.id)),
      )
      .get("/admin/cron", async ({ request, principal }) => {
        const p = await page(request, principal);
        if (p instanceof Response) return p;
        const entries = await cronEntries(ctx, p);
        const { viewer, csrf } = pageProps(p);
        return html(
          <CronPage
            viewer={viewer}
            csrf={csrf}
            flash={readFlash(request, FLASHES, { errors: true })}
            entries={entries}
          />,
        );
      })
      .post("/admin/cron/:entry/run", async ({ request, params, principal }) =>
        act(request, "/admin/cron", "cron-run", async () => runCronNow(ctx, await principal(), params.entry)),
      )
      .get(
        "/admin/payments",
        async ({ request, query, principal }) => {
          const p = await page(request, principal);
          if (p instanceof Response) return p;
          const data = await listPayments(ctx, p, query);
          const { viewer, csrf } = pageProps(p);
          return html(
            <PaymentsPage
              viewer={viewer}
              csrf={csrf}
              flash={readFlash(request, FLASHES, { errors: true })}
              state={query.state}
              {...data}
            />,
          );
        },
        { query: z.object({ state: z.enum(PAYMENT_STATES).optional(), page: intInRange(1, 100_000).optional() }) },
      )
      .post("/admin/payments/:id/retry", async ({ request, params, principal }) =>
        act(request, "/admin/payments", "payment-retried", async () => retryPayment(ctx, await principal(), params.id)),
      )
      .get("/admin/fees", async ({ request, principal }) => {
        const p = await page(request, principal);
        if (p instanceof Response) return p;
        const { viewer, csrf } = pageProps(p);
        const flash = readFlash(request, FLASHES, { errors: true });
        try {
          const data = await feesOverview(ctx, p);
          return html(<FeesPage viewer={viewer} csrf={csrf} flash={flash} {...data} />);
        } catch (err) {
          if (!(err instanceof AppError && err.code === "UNAVAILABLE")) throw err;
          return html(
            <FeesPage
              viewer={viewer}
              csrf={csrf}
              flash={flash}
              balances={[]}
              withdrawals={await feeWithdrawals(ctx, p)}
              unavailable={err.message}
            />,
          );
        }
      })
      .post("/admin/fees/withdraw", async ({ request, body, principal }) => {
        const token = readForm(body).token ?? "";
        return act(request, "/admin/fees", "withdrawn", async () => withdrawFees(ctx, await principal(), token));
      })
      .get(
        "/admin/users",
        async ({ request, query, principal }) => {
          const p = await page(request, principal);
          if (p instanceof Response) return p;
          const data = await listUsers(ctx.db, p, query);
          const { viewer, csrf } = pageProps(p);
          return html(
            <UsersPage
              viewer={viewer}
              csrf={csrf}
              flash={readFlash(request, FLASHES, { errors: true })}
              me={p.userId}
              {...data}
            />,
          );
        },
        { query: z.object({ q: z.string().max(100).optional(), page: intInRange(1, 100_000).optional() }) },
      )
      .post("/admin/users/:id/admin/grant", async ({ request, params, principal }) =>
        act(request, "/admin/users", "admin-granted", async () => setAdmin(ctx.db, await principal(), params.id, true)),
      )
      .post("/admin/users/:id/admin/remove", async ({ request, params, principal }) =>
        act(request, "/admin/users", "admin-removed", async () =>
          setAdmin(ctx.db, await principal(), params.id, false),
        ),
      )
      .post("/admin/users/:id/disable", async ({ request, params, principal }) =>
        act(request, "/admin/users", "disabled", async () => setDisabled(ctx.db, await principal(), params.id, true)),
      )
      .post("/admin/users/:id/enable", async ({ request, params, principal }) =>
        act(request, "/admin/users", "enabled", async () => setDisabled(ctx.db, await principal(), params.id, false)),
      )
      .post("/admin/users/:id/sessions/end", async ({ request, params, principal }) =>
        act(request, "/admin/users", "sessions-ended", async () => endSessions(ctx.db, await principal(), params.id)),
      )
      .get("/admin/doctor", async ({ request, principal }) => {
        const p = await page(request, principal);
        if (p instanceof Response) return p;
        const { checks } = await doctorReport(ctx, p);
        const { viewer, csrf } = pageProps(p);
        return html(<DoctorPage viewer={viewer} csrf={csrf} checks={checks} />);
      })
  );
};
