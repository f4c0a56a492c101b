import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import type { AppContext, Principal } from "../core/context";
import type { Project } from "../projects/schema";
import { AppError } from "../core/errors";
import { formError, pageProps, readFlash, readForm, seeOther, signedIn, withError } from "../core/http/form";
import { pageCacheOf } from "../core/http/page-cache";
import { httpContext } from "../core/http/plugin";
import { startGeneration } from "../planner/jobs";
import { loadProject } from "../projects/access";
import { projectRights } from "../projects/service";
import { type SidebarPage, sidebarPanel } from "../sidebar/service";
import { SidebarPanel } from "../sidebar/views";
import { type BaseCommit, resolveBaseCommit } from "../tasks/acceptance";
import {
  approveStructure,
  createMilestone,
  createTask,
  deleteMilestone,
  deleteTask,
  getDraft,
  getTask,
  listDrafts,
  listMilestones,
  listTasks,
  loadMilestone,
  loadTree,
  reorderMilestones,
  restoreDraft,
  updateMilestone,
  updateTask,
} from "./service";
import { type FailedForm, MilestonePage, MilestonesPage } from "./views";

const splitLines = (v: string | undefined) =>
  v === undefined
    ? undefined
    : v
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter(Boolean);

const num = (v: string | undefined) => (v === undefined || v === "" ? undefined : Number(v));

/** A milestone edit form as the API's PATCH body. */
function milestoneForm(body: unknown) {
  const f = readForm(body);
  const raw = (body ?? {}) as Record<string, unknown>;
  return {
    title: f.title,
    description: typeof raw.description === "string" ? raw.description : undefined,
    acceptanceCriteria: splitLines(typeof raw.acceptanceCriteria === "string" ? raw.acceptanceCriteria : undefined),
    points: num(f.points),
  };
}

/** A task form as the API's body. */
function taskForm(body: unknown) {
  const f = readForm(body);
  const raw = (body ?? {}) as Record<string, unknown>;
  const verification: Record<string, unknown> = {};
  if (f.minPassingTests !== undefined) verification.minPassingTests = Number(f.minPassingTests);
  if (typeof raw.testCommand === "string") verification.testCommand = raw.testCommand.trim();
  if (typeof raw.rules === "string") verification.rules = splitLines(raw.rules);
  if (typeof raw.acceptanceTests === "string") verification.acceptanceTests = splitLines(raw.acceptanceTests);
  if (typeof raw.testFiles === "string") verification.testFiles = splitLines(raw.testFiles);
  return {
    title: f.title,
    description: typeof raw.description === "string" ? raw.description : undefined,
    points: num(f.points),
    acceptanceCriteria: splitLines(typeof raw.acceptanceCriteria === "string" ? raw.acceptanceCriteria : undefined),
    verification: Object.keys(verification).length ? verification : undefined,
    estimatedHours:
      f.estimatedHours === undefined
        ? typeof raw.estimatedHours === "string"
          ? null
          : undefined
        : Number(f.estimatedHours),
  };
}

/** Runs a form action and redirects back to the milestones tab; input errors come back as a message. */
async function formAction(request: Request, projectId: string, anchor: string, fn: () => Promise<unknown>) {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof AppError) || (err.code !== "INVALID_INPUT" && err.code !== "CONFLICT")) throw err;
    const fields = Object.entries((err.details.fields ?? {}) as Record<string, string>).map(([k, v]) => `${k} ${v}`);
    const message = fields.length ? `${err.message} ${fields.join("; ")}` : err.message;
    return seeOther(request, withError(`/projects/${projectId}/milestones`, message));
  }
  return seeOther(request, `/projects/${projectId}/milestones${anchor}`);
}

/** Field errors under the names of the form's inputs: `verification.minPassingTests` → `minPassingTests`, a list
 * item's `acceptanceCriteria.2` → `acceptanceCriteria` (the first error of a field wins). */
function byField(errors: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(errors)) out[k.replace(/^verification\./, "").replace(/\.\d+.*$/, "")] ??= v;
  return out;
}

const FLASH: Record<string, string> = {
  created: "Project created. Generate a first draft of its milestones, or add them by hand.",
  approved:
    "Structure approved: milestones are frozen, the project's points are fixed and each task's acceptance tests are pinned to the default branch's head.",
  taskDeleted: "Task deleted. Restoring an earlier version under Versions brings it back.",
  milestoneDeleted: "Milestone deleted with its tasks. Restoring an earlier version under Versions brings it back.",
  unpinned:
    "Structure approved: milestones are frozen and the project's points are fixed. The repository could not be read, so the acceptance tests are not pinned yet: save them again on each task's page to pin them.",
};

/** Milestone and task pages, their forms, and the milestones API (spec §5.5, §5.6 reads). */
export const milestoneRoutes = (ctx: AppContext) => {
  /**
   * The commit the plan's acceptance tests are pinned to at approval. Approval goes on without one when the
   * repository cannot be read (tasks stay unpinned and say so); the reason is logged and returned.
   */
  const baseFor = async (project: Project): Promise<{ base: BaseCommit | null; pinError?: string }> => {
    if (!project.repoUrl) return { base: null, pinError: "the project has no repository" };
    try {
      return { base: await resolveBaseCommit(ctx, project) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      ctx.log.warn("acceptance tests not pinned at approval", { projectId: project.id, error: message });
      return { base: null, pinError: message };
    }
  };
  /** The chrome of a project page: layout props, the caller's rights and the sidebar of `where`. */
  const cache = pageCacheOf(ctx.database); // the plan page is served again while the database has not changed
  const chrome = async (p: Principal, project: Project, where: SidebarPage) => {
    const [rights, sidebar] = await Promise.all([projectRights(ctx.db, p, project), sidebarPanel(ctx, p, where)]);
    return { ...pageProps(p), project, ...rights, sidebar: <SidebarPanel {...sidebar} csrf={p.csrfToken} /> };
  };
  const page = async (
    p: Principal,
    projectId: string,
    extra: { runId?: string; error?: string; flash?: string; failed?: FailedForm } = {},
    status = 200,
  ) => {
    const { project, milestones } = await listMilestones(ctx.db, p, projectId);
    const base = await chrome(p, project, { scope: "project", scopeId: project.id, projectId: project.id });
    return html(
      <MilestonesPage
        {...base}
        tree={milestones}
        drafts={await listDrafts(ctx.db, p, project.id)}
        runId={extra.runId}
        error={extra.error}
        flash={extra.flash ? readFlash({ done: extra.flash }, FLASH) : undefined}
        failed={extra.failed}
      />,
      status,
    );
  };
  /**
   * Saves one of the page's forms; when the input is refused the page comes back (400) with that form open, what
   * was typed and the errors by field. Other refusals go back with their message, as formAction does.
   */
  const saveForm = async (
    request: Request,
    p: Principal,
    projectId: string,
    anchor: string,
    form: string,
    body: unknown,
    save: () => Promise<unknown>,
  ) => {
    try {
      await save();
    } catch (err) {
      const state = formError(err, readForm(body));
      if (!state) return formAction(request, projectId, anchor, () => Promise.reject(err));
      return page(p, projectId, { failed: { form, values: state.values, errors: byField(state.errors) } }, 400);
    }
    return seeOther(request, `/projects/${projectId}/milestones${anchor}`);
  };

  return (
    new Elysia({ name: "milestones" })
      .use(httpContext(ctx))
      // ---- API
      .get(
        "/api/projects/:id/milestones",
        async ({ params, principal }) => ({
          milestones: (await listMilestones(ctx.db, await principal(), params.id)).milestones,
        }),
        {
          detail: { summary: "The project's milestones with their tasks", tags: ["milestones"] },
        },
      )
      .post(
        "/api/projects/:id/milestones",
        async ({ params, body, principal, set }) => {
          set.status = 201;
          return createMilestone(ctx.db, await principal(), params.id, body);
        },
        { detail: { summary: "Add a milestone to the draft", tags: ["milestones"] } },
      )
      .post(
        "/api/projects/:id/milestones/reorder",
        async ({ params, body, principal }) => ({
          milestones: await reorderMilestones(ctx.db, await principal(), params.id, body),
        }),
        {
          detail: { summary: "Reorder the draft's milestones (every id once)", tags: ["milestones"] },
        },
      )
      .patch(
        "/api/milestones/:id",
        async ({ params, body, principal }) => updateMilestone(ctx.db, await principal(), params.id, body),
        {
          detail: {
            summary: "Edit a milestone: title, description, points (rescales tasks), acceptance criteria, order",
            tags: ["milestones"],
          },
        },
      )
      .delete(
        "/api/milestones/:id",
        async ({ params, principal, set }) => {
          await deleteMilestone(ctx.db, await principal(), params.id);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Delete a milestone and its tasks", tags: ["milestones"] } },
      )
      .get(
        "/api/milestones/:id/tasks",
        async ({ params, principal }) => ({
          tasks: await listTasks(ctx.db, await principal(), params.id),
        }),
        {
          detail: { summary: "A milestone's tasks", tags: ["milestones"] },
        },
      )
      .post(
        "/api/milestones/:id/tasks",
        async ({ params, body, principal, set }) => {
          set.status = 201;
          return createTask(ctx.db, await principal(), params.id, body);
        },
        { detail: { summary: "Add a task", tags: ["milestones"] } },
      )
      .patch(
        "/api/tasks/:id",
        async ({ params, body, principal }) => updateTask(ctx.db, await principal(), params.id, body),
        {
          detail: { summary: "Edit a task", tags: ["milestones"] },
        },
      )
      .delete(
        "/api/tasks/:id",
        async ({ params, principal, set }) => {
          await deleteTask(ctx.db, await principal(), params.id);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Delete a task", tags: ["milestones"] } },
      )
      .get(
        "/api/projects/:id/drafts",
        async ({ params, principal }) => ({ drafts: await listDrafts(ctx.db, await principal(), params.id) }),
        {
          detail: { summary: "Draft versions of the milestone structure, newest first", tags: ["milestones"] },
        },
      )
      .get(
        "/api/projects/:id/drafts/:version",
        async ({ params, principal }) => getDraft(ctx.db, await principal(), params.id, Number(params.version) || 0),
        {
          detail: { summary: "One draft version with its plan", tags: ["milestones"] },
        },
      )
      .post(
        "/api/projects/:id/drafts/:version/restore",
        async ({ params, principal }) =>
          restoreDraft(ctx.db, await principal(), params.id, Number(params.version) || 0),
        { detail: { summary: "Make an earlier version current again (as a new version)", tags: ["milestones"] } },
      )
      .post(
        "/api/projects/:id/approve-structure",
        async ({ params, principal }) => {
          const p = await principal();
          const project = await loadProject(ctx.db, p, params.id, "project.approveStructure");
          const { base, pinError } = await baseFor(project);
          const r = await approveStructure(ctx.db, p, project.id, base);
          return {
            projectId: r.project.id,
            totalPoints: r.totalPoints,
            version: r.version,
            approvedAt: r.project.structureApprovedAt,
            pinnedTo: base,
            ...(pinError ? { pinError } : {}),
          };
        },
        {
          detail: {
            summary:
              "Approve and freeze the milestone structure; sets the project's total points and pins every task's acceptance tests to the default branch's head",
            tags: ["milestones"],
          },
        },
      )
      // ---- pages
      .get("/projects/:id/milestones", async ({ request, params, query, principal }) =>
        cache.serve(request, async () => {
          const p = await signedIn(request, principal);
          if (p instanceof Response) return p;
          const q = query as Record<string, string | undefined>;
          return page(p, params.id, {
            runId: q.run && /^[0-9a-f-]{36}$/.test(q.run) ? q.run : undefined,
            error: q.error?.slice(0, 300),
            flash: q.created
              ? "created"
              : q.approved
                ? q.approved === "unpinned"
                  ? "unpinned"
                  : "approved"
                : q.deleted === "task" || q.deleted === "milestone"
                  ? `${q.deleted}Deleted`
                  : undefined,
          });
        }),
      )
      .get("/milestones/:id", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { milestone, project } = await loadMilestone(ctx.db, p, params.id, "project.view");
        const tree = await loadTree(ctx.db, project.id);
        const index = tree.findIndex((m) => m.id === milestone.id);
        return html(
          <MilestonePage
            {...(await chrome(p, project, {
              scope: "milestone",
              scopeId: milestone.id,
              projectId: project.id,
              milestoneId: milestone.id,
            }))}
            milestone={tree[index]!}
            index={index}
          />,
        );
      })
      // ---- forms (each redirects back to the milestones tab)
      .post("/projects/:id/milestones/generate", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { runId } = await startGeneration(ctx, p, params.id);
        return seeOther(request, `/projects/${params.id}/milestones?run=${runId}`);
      })
      .post("/milestones/:id/regenerate", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project } = await loadMilestone(ctx.db, p, params.id, "project.manageMilestones");
        const { runId } = await startGeneration(ctx, p, project.id, { milestoneId: params.id });
        return seeOther(request, `/projects/${project.id}/milestones?run=${runId}`);
      })
      .post("/projects/:id/approve", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const project = await loadProject(ctx.db, p, params.id, "project.approveStructure");
        const { base } = await baseFor(project);
        return formAction(request, project.id, `?approved=${base ? "1" : "unpinned"}`, () =>
          approveStructure(ctx.db, p, project.id, base),
        );
      })
      .post("/projects/:id/milestones/new", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const f = readForm(body);
        return saveForm(request, p, params.id, "", "milestone-new", body, () =>
          createMilestone(ctx.db, p, params.id, { title: f.title ?? "", description: f.description ?? "" }),
        );
      })
      .post("/projects/:id/drafts/:version/restore", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return formAction(request, params.id, "", () =>
          restoreDraft(ctx.db, p, params.id, Number(params.version) || 0),
        );
      })
      .post("/milestones/:id/edit", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project } = await loadMilestone(ctx.db, p, params.id, "project.manageMilestones");
        return saveForm(request, p, project.id, `#m-${params.id}`, `milestone-edit:${params.id}`, body, () =>
          updateMilestone(ctx.db, p, params.id, milestoneForm(body)),
        );
      })
      .post("/milestones/:id/move", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project } = await loadMilestone(ctx.db, p, params.id, "project.manageMilestones");
        return formAction(request, project.id, `#m-${params.id}`, () =>
          updateMilestone(ctx.db, p, params.id, { order: Number((query as Record<string, string>).to) || 1 }),
        );
      })
      .post("/milestones/:id/delete", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project } = await loadMilestone(ctx.db, p, params.id, "project.manageMilestones");
        return formAction(request, project.id, "?deleted=milestone", () => deleteMilestone(ctx.db, p, params.id));
      })
      .post("/milestones/:id/tasks/new", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { project } = await loadMilestone(ctx.db, p, params.id, "project.manageMilestones");
        const t = taskForm(body);
        return saveForm(request, p, project.id, `#m-${params.id}`, `task-new:${params.id}`, body, () =>
          createTask(ctx.db, p, params.id, {
            title: t.title ?? "",
            points: t.points,
            acceptanceCriteria: t.acceptanceCriteria,
          }),
        );
      })
      .post("/tasks/:id/edit", async ({ request, params, body, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { sub, project } = await getTask(ctx.db, p, params.id);
        return saveForm(request, p, project.id, `#t-${sub.id}`, `task-edit:${sub.id}`, body, () =>
          updateTask(ctx.db, p, sub.id, taskForm(body)),
        );
      })
      .post("/tasks/:id/move", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { sub, project } = await getTask(ctx.db, p, params.id);
        return formAction(request, project.id, `#t-${sub.id}`, () =>
          updateTask(ctx.db, p, sub.id, { order: Number((query as Record<string, string>).to) || 1 }),
        );
      })
      .post("/tasks/:id/delete", async ({ request, params, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const { sub, project } = await getTask(ctx.db, p, params.id);
        return formAction(request, project.id, `?deleted=task#m-${sub.milestoneId}`, () =>
          deleteTask(ctx.db, p, sub.id),
        );
      })
  );
};
