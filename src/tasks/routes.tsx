import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { earningsCharts } from "../charts/funding";
import type { AppContext, Principal } from "../core/context";
import { AppError, invalidInput } from "../core/errors";
import {
  formError,
  pageProps,
  parseForm,
  readFlash,
  seeOther,
  signedIn,
  signInRedirect,
  withError,
  withFlash,
} from "../core/http/form";
import { getRequestMeta, httpContext } from "../core/http/plugin";
import { checkRepoUrl } from "../core/net/ssrf";
import { publicTask } from "../explore/service";
import { PublicTaskPage } from "../explore/views";
import { pendingInvite } from "../github/access";
import type { Project } from "../projects/schema";
import { projectRights } from "../projects/service";
import { type SidebarPage, sidebarPanel } from "../sidebar/service";
import { SidebarPanel } from "../sidebar/views";
import { MAX_BUNDLE_BYTES, removeTestBundle, updateAcceptance, uploadTestBundle } from "./acceptance";
import {
  approvePayout,
  claimTask,
  earnings,
  LinkWorkRequest,
  linkWork,
  myTasks,
  projectPayments,
  projectTasks,
  rejectPayout,
  releaseTask,
  type TaskDetail,
  taskDetail,
  taskJson,
  unclaimTask,
  verifyAgain,
} from "./service";
import { EarningsPage, MyTasksPage, ProjectTasksPage, TaskActions, TaskBadge, TaskPage, Timeline } from "./views";

const DONE: Record<string, string> = {
  claimed: "Claimed. Link your work when you have pushed a commit.",
  unclaimed: "You gave the task up.",
  released: "The claim was released; the task is open again.",
  linked: "Work linked; verification has started.",
  verifying: "Verification started again.",
  approved: "Approved; the payment is on its way.",
  rejected: "Sent back to the claimer with your comment.",
  acceptance: "Acceptance tests saved.",
  bundle: "Hidden test bundle stored (encrypted); the task is pinned to it.",
  "bundle-removed": "Hidden test bundle removed.",
};

/** The `bundle` file of a multipart body, read into memory (size checked again by the service). */
async function bundleOf(body: unknown): Promise<Uint8Array> {
  const f = (body as Record<string, unknown> | null)?.bundle;
  if (!(f instanceof Blob) || f.size === 0) throw invalidInput({ bundle: "Choose a .tar or .tar.gz file." });
  if (f.size > MAX_BUNDLE_BYTES) {
    throw new AppError("PAYLOAD_TOO_LARGE", "A test bundle can be at most 5 MB.", 413, { maxBytes: MAX_BUNDLE_BYTES });
  }
  return new Uint8Array(await f.arrayBuffer());
}

/** The acceptance form as the API's body: one test id or path per line. */
function acceptanceForm(body: unknown) {
  const raw = (body ?? {}) as Record<string, unknown>;
  const lines = (v: unknown) =>
    typeof v === "string"
      ? v
          .split(/\r?\n/)
          .map((l) => l.trim())
          .filter(Boolean)
      : [];
  return {
    acceptanceTests: lines(raw.acceptanceTests),
    testFiles: lines(raw.testFiles),
    ...(typeof raw.testCommand === "string" ? { testCommand: raw.testCommand } : {}),
  };
}

/** Tasks: the task page and workbench, claims, work links, reviews, my tasks and earnings (spec §3.2, §5.6). */
export const taskRoutes = (ctx: AppContext) => {
  const guardUrl = async (url: string) => {
    await checkRepoUrl(url, { allow: ctx.settings.get("security.allowedRepoHosts") });
  };
  const logOf = async (d: TaskDetail) => {
    const jobId = d.verifications.at(-1)?.jobId;
    return jobId ? ctx.jobs.events(jobId, { limit: 1000 }) : [];
  };
  /** The caller's repository invitation not accepted yet, when they hold the task's claim. */
  const inviteOf = (p: Principal, d: TaskDetail) => (d.isClaimer ? pendingInvite(ctx, d.task.id, p.userId) : null);
  /** What every page inside a project shows around its content: header rights and the AI sidebar. */
  const chrome = async (p: Principal, project: Project, where: SidebarPage) => {
    const [rights, sidebar] = await Promise.all([projectRights(ctx.db, p, project), sidebarPanel(ctx, p, where)]);
    return { ...pageProps(p), canAudit: rights.canAudit, sidebar: <SidebarPanel {...sidebar} csrf={p.csrfToken} /> };
  };
  const taskChrome = (p: Principal, d: TaskDetail) =>
    chrome(p, d.project, { scope: "task", scopeId: d.task.id, projectId: d.project.id, taskId: d.task.id });
  const detailJson = (d: TaskDetail) => ({
    task: taskJson(d.task),
    milestone: { id: d.task.milestoneId, title: d.milestoneTitle },
    project: { id: d.project.id, title: d.project.title, state: d.project.state, payoutReview: d.project.payoutReview },
    claim: d.claim && {
      id: d.claim.id,
      userId: d.claim.userId,
      userName: d.claim.userName,
      state: d.claim.state,
      claimedAt: d.claim.claimedAt,
      expiresAt: d.claim.expiresAt,
    },
    links: d.links,
    verifications: d.verifications.map(({ digest: _d, ...v }) => v),
    payment: d.payment,
    acceptance: {
      tests: d.acceptance.tests,
      files: d.acceptance.files,
      testCommand: d.acceptance.testCommand,
      pin: d.acceptance.pin,
      hiddenFiles: d.acceptance.hiddenFiles,
      ...(d.acceptance.bundle ? { bundle: d.acceptance.bundle } : {}),
    },
    actions: d.actions,
    approveBlocked: d.approveBlocked,
  });
  /** Runs a task action from a form and redirects back to the task with its outcome in words. */
  const act = async (request: Request, p: Principal, taskId: string, done: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      return seeOther(request, withFlash(`/tasks/${taskId}`, done));
    } catch (err) {
      if (err instanceof AppError && err.status < 500) {
        if (err.code === "PAYOUT_WALLET_REQUIRED") {
          return seeOther(request, withError(`/profile?next=${encodeURIComponent(`/tasks/${taskId}`)}`, err.message));
        }
        if (err.status === 401) return seeOther(request, `/signin?next=/tasks/${taskId}`);
        // a caller who may not act gets the refusal with its status, not the task page with a message
        if (err.status === 403 || err.status === 404) throw err;
        void p;
        const fields = Object.values((err.details.fields ?? {}) as Record<string, string>);
        return seeOther(request, withError(`/tasks/${taskId}`, [err.message, ...fields].join(" ")));
      }
      throw err;
    }
  };

  /** A page form's handler for one task action: signed in, then `act` with its outcome message. */
  const action =
    (done: string, fn: (p: Principal, taskId: string, body: unknown) => Promise<unknown>) =>
    async (c: {
      request: Request;
      params: { id: string };
      body: unknown;
      principal: () => Promise<Principal | null>;
    }) => {
      const p = await signedIn(c.request, c.principal);
      if (p instanceof Response) return p;
      return act(c.request, p, c.params.id, done, () => fn(p, c.params.id, c.body));
    };

  return (
    new Elysia({ name: "tasks" })
      .use(httpContext(ctx))
      // ---- API
      .get(
        "/api/tasks/:id",
        async ({ params, principal }) => detailJson(await taskDetail(ctx.db, await principal(), params.id)),
        {
          detail: {
            summary: "A task with its claim, work links, verifications, payment and your allowed actions",
            tags: ["tasks"],
          },
        },
      )
      .get(
        "/api/projects/:id/tasks",
        async ({ params, principal }) => {
          const { tasks } = await projectTasks(ctx.db, await principal(), params.id);
          return {
            tasks: tasks.map((r) => ({ ...taskJson(r.task), milestoneTitle: r.milestoneTitle, claimer: r.claimer })),
          };
        },
        { detail: { summary: "A project's tasks with state, points, payout and claimer", tags: ["tasks"] } },
      )
      .post(
        "/api/tasks/:id/claim",
        async ({ request, params, principal, set }) => {
          const claim = await claimTask(ctx, principal(), params.id, getRequestMeta(request)?.start);
          set.status = 201;
          return { claim };
        },
        {
          detail: {
            summary:
              "Claim a task (funded projects; one winner; TASK_ALREADY_CLAIMED, CLAIM_LIMIT_REACHED, PAYOUT_WALLET_REQUIRED)",
            tags: ["tasks"],
          },
        },
      )
      .post(
        "/api/tasks/:id/unclaim",
        async ({ params, principal }) => {
          await unclaimTask(ctx, await principal(), params.id);
          return { ok: true };
        },
        { detail: { summary: "Give up your claim", tags: ["tasks"] } },
      )
      .post(
        "/api/tasks/:id/release",
        async ({ params, body, principal }) => {
          await releaseTask(ctx, await principal(), params.id, (body as { reason?: string } | undefined)?.reason);
          return { ok: true };
        },
        { detail: { summary: "Release a claim and reopen the task (reviewers)", tags: ["tasks"] } },
      )
      .post(
        "/api/tasks/:id/work",
        async ({ params, body, principal, set }) => {
          const r = await linkWork(ctx, await principal(), params.id, body, { guardUrl });
          set.status = 201;
          return { link: r.link, verification: { ...r.verification, digest: undefined } };
        },
        {
          detail: {
            summary: "Link work (pull request URL, or repository + branch [+ commit]) and start its verification",
            tags: ["tasks"],
          },
        },
      )
      .post(
        "/api/tasks/:id/verify",
        async ({ params, principal, set }) => {
          const v = await verifyAgain(ctx, await principal(), params.id);
          set.status = 202;
          return { verification: { ...v, digest: undefined } };
        },
        { detail: { summary: "Verify the latest linked commit again", tags: ["tasks"] } },
      )
      .post(
        "/api/tasks/:id/approve",
        async ({ params, principal }) => {
          await approvePayout(ctx, await principal(), params.id);
          return { ok: true };
        },
        { detail: { summary: "Approve verified work for payment (projects with payout review)", tags: ["tasks"] } },
      )
      .post(
        "/api/tasks/:id/reject",
        async ({ params, body, principal }) => {
          await rejectPayout(
            ctx,
            await principal(),
            params.id,
            String((body as { comment?: unknown } | undefined)?.comment ?? ""),
          );
          return { ok: true };
        },
        { detail: { summary: "Send verified work back to the claimer with a comment", tags: ["tasks"] } },
      )
      .get(
        "/api/me/tasks",
        async ({ principal }) => ({
          tasks: (await myTasks(ctx.db, await principal())).map((r) => ({
            ...taskJson(r.task),
            projectTitle: r.projectTitle,
            claim: { id: r.claim.id, state: r.claim.state, claimedAt: r.claim.claimedAt, expiresAt: r.claim.expiresAt },
          })),
        }),
        { detail: { summary: "Your claims, open ones first", tags: ["tasks"] } },
      )
      .put(
        "/api/tasks/:id/acceptance",
        async ({ params, body, principal }) => {
          const task = await updateAcceptance(ctx, await principal(), params.id, body);
          return { task: taskJson(task) };
        },
        {
          detail: {
            summary:
              "Set a task's acceptance tests (≤ 32 test ids), test files and suite command; after approval this re-pins the task to the default branch's head",
            tags: ["tasks"],
          },
        },
      )
      .post(
        "/api/tasks/:id/test-bundle",
        async ({ params, body, principal, set }) => {
          const r = await uploadTestBundle(ctx, await principal(), params.id, await bundleOf(body));
          set.status = 201;
          return r;
        },
        {
          detail: {
            summary:
              "Upload a hidden acceptance test bundle (multipart field `bundle`: .tar or .tar.gz, ≤ 5 MB), stored encrypted; the task is pinned to it",
            tags: ["tasks"],
          },
        },
      )
      .delete(
        "/api/tasks/:id/test-bundle",
        async ({ params, principal, set }) => {
          await removeTestBundle(ctx, await principal(), params.id);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Remove a task's hidden test bundle", tags: ["tasks"] } },
      )
      .get("/api/me/earnings", async ({ principal }) => ({ earnings: await earnings(ctx.db, await principal()) }), {
        detail: { summary: "Payments you received: amount, token, transaction, proof receipt, date", tags: ["tasks"] },
      })
      // ---- pages
      .get("/tasks/:id", async ({ request, params, query, principal }) => {
        const p = await principal();
        if (!p) {
          // signed out: a public project's task is readable (the service decides); anything else asks to sign in
          const t = await publicTask(ctx.db, params.id).catch((err) => {
            if (err instanceof AppError && err.status === 401) return null;
            throw err;
          });
          return t ? html(<PublicTaskPage t={t} />) : signInRedirect(request);
        }
        const d = await taskDetail(ctx.db, p, params.id);
        return html(
          <TaskPage
            {...(await taskChrome(p, d))}
            d={d}
            log={await logOf(d)}
            invite={await inviteOf(p, d)}
            pointRateUsdCents={ctx.settings.get("funding.pointRateUsdCents")}
            flash={readFlash(query, DONE, { errors: true })}
          />,
        );
      })
      .get("/tasks/:id/timeline", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const d = await taskDetail(ctx.db, p, params.id);
        // The poll says which state the page shows; when it moved on, the badge and the actions follow out of band.
        const moved = typeof query.shown === "string" && query.shown !== d.task.status;
        return html(
          <>
            <Timeline d={d} log={await logOf(d)} />
            {moved ? (
              <>
                <TaskBadge status={d.task.status} oob />
                <TaskActions d={d} csrf={p.csrfToken} oob />
              </>
            ) : (
              ""
            )}
          </>,
        );
      })
      .post(
        "/tasks/:id/claim",
        action("claimed", (p, id) => claimTask(ctx, p, id)),
      )
      .post(
        "/tasks/:id/unclaim",
        action("unclaimed", (p, id) => unclaimTask(ctx, p, id)),
      )
      .post(
        "/tasks/:id/release",
        action("released", (p, id) => releaseTask(ctx, p, id)),
      )
      .post(
        "/tasks/:id/verify",
        action("verifying", (p, id) => verifyAgain(ctx, p, id)),
      )
      .post(
        "/tasks/:id/approve",
        action("approved", (p, id) => approvePayout(ctx, p, id)),
      )
      .post(
        "/tasks/:id/reject",
        action("rejected", (p, id, body) =>
          rejectPayout(ctx, p, id, String((body as { comment?: unknown } | undefined)?.comment ?? "")),
        ),
      )
      .post(
        "/tasks/:id/acceptance",
        action("acceptance", (p, id, body) => updateAcceptance(ctx, p, id, acceptanceForm(body))),
      )
      .post(
        "/tasks/:id/test-bundle",
        action("bundle", async (p, id, body) => uploadTestBundle(ctx, p, id, await bundleOf(body))),
      )
      .post(
        "/tasks/:id/test-bundle/delete",
        action("bundle-removed", (p, id) => removeTestBundle(ctx, p, id)),
      )
      .post("/tasks/:id/work", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const form = parseForm(LinkWorkRequest, body);
        const again = async (values: typeof form.values, errors: Record<string, string>, message?: string) => {
          const d = await taskDetail(ctx.db, p, params.id);
          return html(
            <TaskPage
              {...(await taskChrome(p, d))}
              d={d}
              log={await logOf(d)}
              invite={await inviteOf(p, d)}
              values={values}
              errors={errors}
              pointRateUsdCents={ctx.settings.get("funding.pointRateUsdCents")}
              flash={message ? { kind: "error", message } : undefined}
            />,
            422,
          );
        };
        if (!form.ok) return again(form.values, form.errors, form.message);
        try {
          await linkWork(ctx, p, params.id, form.data, { guardUrl });
          return seeOther(request, withFlash(`/tasks/${params.id}`, "linked"));
        } catch (err) {
          const f = formError(err, form.values);
          if (f) return again(f.values, f.errors, f.message);
          if (err instanceof AppError && err.status < 500 && err.status !== 403 && err.status !== 404) {
            return again(form.values, {}, err.message);
          }
          throw err;
        }
      })
      .get("/projects/:id/tasks", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project, tasks } = await projectTasks(ctx.db, p, params.id);
        const pay = await projectPayments(ctx.db, project.id, project.totalTokenAmount);
        return html(
          <ProjectTasksPage
            {...(await chrome(p, project, { scope: "project", scopeId: project.id, projectId: project.id }))}
            project={project}
            tasks={tasks.map((r) => ({
              id: r.task.id,
              title: r.task.title,
              milestoneTitle: r.milestoneTitle,
              points: r.task.points,
              status: r.task.status,
              payoutAmount: r.task.payoutAmount,
              claimer: r.claimer,
            }))}
            pointRateUsdCents={ctx.settings.get("funding.pointRateUsdCents")}
            payments={pay.payments}
            remaining={pay.remaining}
            flash={readFlash(query, {}, { errors: true })}
          />,
        );
      })
      .get("/me/tasks", async ({ request, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const rows = await myTasks(ctx.db, p);
        return html(
          <MyTasksPage
            {...pageProps(p)}
            rows={rows.map((r) => ({
              taskId: r.task.id,
              title: r.task.title,
              projectTitle: r.projectTitle,
              status: r.task.status,
              claimState: r.claim.state,
              expiresAt: r.claim.expiresAt,
            }))}
          />,
        );
      })
      .get("/me/earnings", async ({ request, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const rows = await earnings(ctx.db, p);
        return html(<EarningsPage {...pageProps(p)} rows={rows} chart={earningsCharts(rows)} />);
      })
  );
};
