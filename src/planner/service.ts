import { asc, eq } from "drizzle-orm";
import type { z } from "zod";
import { modelConfig } from "../ai/provider";
import type { ChatMessage, SystemPrompt } from "../ai/prompt";
import { generateStructured, hasChatModel } from "../ai/service";
import { audit } from "../audit/service";
import { dataPaths } from "../core/boot";
import type { AppContext } from "../core/context";
import { conflict, notFound } from "../core/errors";
import { type Passage, retrieve } from "../documents/service";
import { OneMilestonePlan, Plan, type PlannedMilestone } from "../milestones/model";
import { milestones } from "../milestones/schema";
import { type DraftMeta, loadTree, replaceMilestone, saveDraft, treeToPlan } from "../milestones/service";
import { notify } from "../notifications/service";
import { findProject } from "../projects/access";
import type { Project } from "../projects/schema";
import { projectGitToken } from "../github/api";
import { currentCloneUrl } from "../projects/service";
import {
  oneMilestoneRequest,
  PLANNER_ONE_SYSTEM,
  PLANNER_SYSTEM,
  type PlannerContext,
  planRequest,
  repairRequest,
} from "./prompt";
import { type RepoSnapshot, snapshotRepo } from "./repo-snapshot";
import { detectStack, templatePlan } from "./template";

/** What a planner run reports to (the job's run context, or a no-op). */
export interface PlannerRun {
  id: string | null;
  progress(pct: number, message?: string): unknown;
  log(line: string): unknown;
  signal?: AbortSignal;
}

/** A planner job's payload. */
export interface PlannerPayload {
  projectId: string;
  /** Regenerate only this milestone. */
  milestoneId?: string | null;
  requestedBy?: string | null;
}

/** Knobs for tests: attempts and backoff. */
export interface PlannerOptions {
  attempts?: number;
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Skip reading the repository (tests of the model paths). */
  skipRepo?: boolean;
}

/** What a run produced. */
export interface PlannerResult {
  version: number;
  source: "ai" | "template";
  attempts: number;
  note: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Gathers the planner's context: description, retrieved passages, repository tree and README, current plan. */
export async function gatherContext(
  ctx: AppContext,
  project: Project,
  run: PlannerRun,
  opts: PlannerOptions = {},
): Promise<PlannerContext> {
  let passages: Passage[] = [];
  try {
    passages = (
      await retrieve(ctx, project.id, `${project.title}\n${project.description}`, { k: 8, orgId: project.orgId })
    ).passages;
  } catch (err) {
    run.log(`documents not searched: ${(err as Error).message}`);
  }
  let repo: RepoSnapshot | null = null;
  if (project.repoUrl && !opts.skipRepo) {
    try {
      const source = await currentCloneUrl(ctx, project);
      if (source) {
        await run.progress(10, "reading the repository");
        repo = await snapshotRepo(source.url, {
          // a private GitHub repository: the App's installation token, sent in git's environment config only
          token: await projectGitToken(ctx, project.id, source.url),
          tmpDir: dataPaths(ctx.config.dataDir).tmp,
          timeoutMs: 90_000,
          gitConfig: source.gitConfig,
        });
        run.log(`repository: ${repo.files.length} files${repo.readmePath ? `, ${repo.readmePath}` : ", no README"}`);
      }
    } catch (err) {
      run.log(`repository not read: ${(err as Error).message}`);
    }
  }
  const tree = await loadTree(ctx.db, project.id);
  return {
    title: project.title,
    description: project.description,
    repo,
    stack: detectStack(repo?.files ?? []),
    passages,
    previous: tree.length ? treeToPlan(tree) : null,
  };
}

/** Reports streamed partial output: the milestones drafted so far, at most every 250 ms. */
function partialReporter(run: PlannerRun, base: number) {
  let last = 0;
  let seen = 0;
  return (text: string) => {
    const now = performance.now();
    if (now - last < 250) return;
    last = now;
    void import("ai")
      .then(({ parsePartialJson }) => parsePartialJson(text))
      .then(({ value }) => {
        const ms = (value as { milestones?: { title?: string }[] } | undefined)?.milestones ?? [];
        const one = (value as { milestone?: { title?: string; tasks?: unknown[] } } | undefined)?.milestone;
        const titles = one ? [one.title] : ms.map((m) => m?.title);
        const complete = titles.filter((t): t is string => typeof t === "string" && t.length > 0);
        for (const t of complete.slice(seen, Math.max(seen, complete.length - 1))) run.log(`drafted: ${t}`);
        seen = Math.max(seen, complete.length - 1);
        run.progress(Math.min(base + 5 * complete.length, 85), `drafting… ${complete.length} milestone(s) so far`);
      });
  };
}

/**
 * Asks the model for a valid answer: each attempt is one call plus, when its output is invalid, one repair call
 * that shows the model its validation errors. Failed attempts wait with exponential backoff. Returns null when
 * every attempt failed (the caller falls back to the template planner).
 */
async function askModel<T>(
  ctx: AppContext,
  project: Project,
  payload: PlannerPayload,
  run: PlannerRun,
  req: { system: SystemPrompt; messages: ChatMessage[]; schema: z.ZodType<T> },
  opts: PlannerOptions,
): Promise<{ value: T; attempts: number } | { value: null; attempts: number; lastError: string }> {
  const attempts = opts.attempts ?? 3;
  const backoff = opts.backoffMs ?? 1000;
  const meta = { orgId: project.orgId, projectId: project.id, userId: payload.requestedBy ?? null, runId: run.id };
  let lastError = "";
  for (let attempt = 1; attempt <= attempts; attempt++) {
    await run.progress(20, `asking the model (attempt ${attempt} of ${attempts})`);
    const first = await generateStructured(
      ctx,
      { ...meta, purpose: "planner" },
      { ...req, onText: partialReporter(run, 25), abortSignal: run.signal },
    );
    if (first.ok) return { value: first.value, attempts: attempt };
    lastError = first.errors.slice(0, 3).join("; ");
    run.log(`attempt ${attempt}: ${first.transport ? "model error" : "invalid output"}: ${lastError}`);
    if (!first.transport) {
      await run.progress(60, `repairing the output (attempt ${attempt})`);
      const repaired = await generateStructured(
        ctx,
        { ...meta, purpose: "planner.repair" },
        {
          system: req.system,
          messages: [
            ...req.messages,
            { role: "assistant", content: first.text.slice(0, 20_000) },
            repairRequest(first.errors),
          ],
          schema: req.schema,
          abortSignal: run.signal,
        },
      );
      if (repaired.ok) {
        run.log(`attempt ${attempt}: repaired`);
        return { value: repaired.value, attempts: attempt };
      }
      lastError = repaired.errors.slice(0, 3).join("; ");
      run.log(`attempt ${attempt}: repair failed: ${lastError}`);
    }
    if (attempt < attempts) await (opts.sleep ?? sleep)(backoff * 2 ** (attempt - 1));
  }
  return { value: null, attempts, lastError };
}

/**
 * The milestone planner (spec §6.1.1). Drafts a whole structure, or regenerates one milestone, from the project's
 * context with the configured model; invalid output gets one repair attempt, then retries with backoff (3
 * attempts); without a model, or when every attempt fails, the deterministic template planner drafts instead,
 * labelled as a template draft. The result is stored as a new draft version; the sponsor is notified.
 */
export async function runPlanner(
  ctx: AppContext,
  payload: PlannerPayload,
  run: PlannerRun,
  opts: PlannerOptions = {},
): Promise<PlannerResult> {
  const project = await findProject(ctx.db, payload.projectId);
  if (!project) throw notFound("Project", "PROJECT_NOT_FOUND");
  if (project.structureApprovedAt) throw conflict("The milestone structure is approved and frozen.");
  let target: { id: string; index: number } | null = null;
  if (payload.milestoneId) {
    const ids = (
      await ctx.db
        .select({ id: milestones.id })
        .from(milestones)
        .where(eq(milestones.projectId, project.id))
        .orderBy(asc(milestones.position))
    ).map((r) => r.id);
    const index = ids.indexOf(payload.milestoneId);
    if (index < 0) throw notFound("Milestone");
    target = { id: payload.milestoneId, index };
  }
  await run.progress(5, "gathering context");
  const context = await gatherContext(ctx, project, run, opts);
  const templateInput = {
    title: project.title,
    description: project.description,
    repo: context.repo,
    documentHints: context.passages.map((p) => p.heading ?? p.text.split("\n")[0]!).slice(0, 8),
  };
  const model = modelConfig(ctx.settings).chatModel;

  let plan: Plan | null = null;
  let one: PlannedMilestone | null = null;
  let source: "ai" | "template" = "ai";
  let attempts = 0;
  let note: string;
  if (hasChatModel(ctx)) {
    if (target) {
      const current = context.previous!;
      const r = await askModel(
        ctx,
        project,
        payload,
        run,
        {
          system: PLANNER_ONE_SYSTEM,
          messages: oneMilestoneRequest(context, current, target.index, current.milestones[target.index]!),
          schema: OneMilestonePlan,
        },
        opts,
      );
      attempts = r.attempts;
      one = r.value?.milestone ?? null;
      note = one
        ? `regenerated milestone ${target.index + 1} with ${model}`
        : `the model failed ${r.attempts} times (${"lastError" in r ? r.lastError : ""})`;
    } else {
      const r = await askModel(
        ctx,
        project,
        payload,
        run,
        { system: PLANNER_SYSTEM, messages: planRequest(context), schema: Plan },
        opts,
      );
      attempts = r.attempts;
      plan = r.value;
      note = plan
        ? `drafted by ${model}`
        : `the model failed ${r.attempts} times (${"lastError" in r ? r.lastError : ""})`;
    }
  } else {
    note = "no language model is configured";
  }

  if (!plan && !one) {
    source = "template";
    await run.progress(80, "drafting from the template planner");
    const t = templatePlan(templateInput);
    if (target) one = t.milestones[Math.min(target.index, t.milestones.length - 1)]!;
    else plan = t;
    if (attempts > 0 && payload.requestedBy) {
      await notify(ctx.db, payload.requestedBy, {
        type: "AI_GENERATION_FAILED",
        title: `The model could not plan ${project.title}`,
        body: "Its output stayed invalid after 3 attempts; a template draft was made instead. Edit it, or adjust the description and regenerate.",
        link: `/projects/${project.id}/milestones`,
      }).catch(() => {});
    }
  }
  await run.progress(90, "saving the draft");
  const meta: DraftMeta = {
    source: target ? (source === "ai" ? "regenerate" : "template") : source,
    note,
    model: source === "ai" ? model : null,
    runId: run.id,
    userId: payload.requestedBy ?? null,
  };
  const { version } = target
    ? await replaceMilestone(ctx.db, target.id, one!, meta)
    : await saveDraft(ctx.db, project.id, plan!, meta);
  await audit(ctx.db, {
    actorId: payload.requestedBy ?? null,
    action: "ai.generate",
    targetType: target ? "milestone" : "project",
    targetId: target?.id ?? project.id,
    orgId: project.orgId,
    payload: { projectId: project.id, source, version, attempts, runId: run.id },
  });
  if (payload.requestedBy && (source === "ai" || attempts === 0)) {
    await notify(ctx.db, payload.requestedBy, {
      type: "AI_MILESTONE_READY",
      title:
        source === "ai"
          ? `Milestones drafted for ${project.title}`
          : `Template milestones drafted for ${project.title}`,
      body: `Version ${version} is ready to review.`,
      link: `/projects/${project.id}/milestones`,
    }).catch(() => {});
  }
  await run.progress(100, `version ${version} saved (${source === "ai" ? "model" : "template"} draft)`);
  return { version, source, attempts, note };
}
