import { and, asc, desc, eq, max, type SQL, sql, sum } from "drizzle-orm";
import type { z } from "zod";
import { audit } from "../audit/service";
import type { Principal } from "../core/context";
import type { Db } from "../core/db";
import { AppError, conflict, invalidInput, notFound, zodFieldErrors } from "../core/errors";
import { isUuid, type OrgAction } from "../orgs/permissions";
import { loadProject } from "../projects/access";
import { type Project, projects } from "../projects/schema";
import { type BaseCommit, pinProjectTasks } from "../tasks/acceptance";
import {
  MilestoneCreateRequest,
  MilestoneUpdateRequest,
  type Plan,
  type PlannedMilestone,
  type PlannedTask,
  ReorderRequest,
  TaskCreateRequest,
  TaskUpdateRequest,
} from "./model";
import {
  type DraftSource,
  type Milestone,
  milestoneDrafts,
  milestones,
  type Task,
  tasks,
  type VerificationRules,
} from "./schema";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
type Q = Db | Tx;

/** A milestone with its tasks, in order. */
export type MilestoneTree = Milestone & { tasks: Task[] };

/** Who made a change to a draft, and how. */
export interface DraftMeta {
  source: DraftSource;
  note?: string;
  model?: string | null;
  runId?: string | null;
  userId?: string | null;
}

function parse<S extends z.ZodType>(schema: S, v: unknown): z.infer<S> {
  const r = schema.safeParse(v);
  if (!r.success) throw invalidInput(zodFieldErrors(r.error.issues));
  return r.data;
}

const frozen = () => conflict("The milestone structure is approved and frozen.");

/** The project's milestones with their tasks, in order. */
export async function loadTree(db: Q, projectId: string): Promise<MilestoneTree[]> {
  const ms = await db
    .select()
    .from(milestones)
    .where(eq(milestones.projectId, projectId))
    .orderBy(asc(milestones.position));
  const subs = await db.select().from(tasks).where(eq(tasks.projectId, projectId)).orderBy(asc(tasks.position));
  return ms.map((m) => ({ ...m, tasks: subs.filter((s) => s.milestoneId === m.id) }));
}

/** A structure as plan JSON (what draft versions store). */
export function treeToPlan(tree: MilestoneTree[]): Plan {
  return {
    milestones: tree.map((m) => ({
      title: m.title,
      description: m.description,
      acceptanceCriteria: m.acceptanceCriteria,
      tasks: m.tasks.map((s) => ({
        title: s.title,
        description: s.description,
        points: s.points,
        acceptanceCriteria: s.acceptanceCriteria,
        verification: s.verification,
        estimatedHours: s.estimatedHours,
      })),
    })),
  };
}

/** Locks the project row for the rest of the transaction and refuses changes once the structure is approved. */
async function lockDraft(tx: Tx, projectId: string): Promise<Project> {
  const [p] = await tx.select().from(projects).where(eq(projects.id, projectId)).for("update");
  if (!p) throw notFound("Project", "PROJECT_NOT_FOUND");
  if (p.structureApprovedAt) throw frozen();
  return p;
}

/** Appends the current structure as the next draft version. */
async function appendVersion(tx: Tx, projectId: string, meta: DraftMeta): Promise<number> {
  const [row] = await tx
    .select({ v: max(milestoneDrafts.version) })
    .from(milestoneDrafts)
    .where(eq(milestoneDrafts.projectId, projectId));
  const version = (row?.v ?? 0) + 1;
  await tx.insert(milestoneDrafts).values({
    projectId,
    version,
    source: meta.source,
    note: (meta.note ?? "").slice(0, 500),
    plan: treeToPlan(await loadTree(tx, projectId)),
    model: meta.model ?? null,
    runId: meta.runId ?? null,
    createdById: meta.userId ?? null,
  });
  return version;
}

function taskValues(projectId: string, milestoneId: string, t: PlannedTask, position: number) {
  return {
    projectId,
    milestoneId,
    title: t.title,
    description: t.description,
    points: t.points,
    acceptanceCriteria: t.acceptanceCriteria,
    verification: t.verification,
    estimatedHours: t.estimatedHours ?? null,
    position,
  };
}

async function insertMilestone(tx: Tx, projectId: string, m: PlannedMilestone, position: number) {
  const [row] = await tx
    .insert(milestones)
    .values({
      projectId,
      title: m.title,
      description: m.description,
      acceptanceCriteria: m.acceptanceCriteria,
      points: m.tasks.reduce((n, t) => n + t.points, 0),
      estimatedHours: hoursOf(m.tasks),
      position,
    })
    .returning();
  if (m.tasks.length) {
    await tx.insert(tasks).values(m.tasks.map((t, i) => taskValues(projectId, row!.id, t, i)));
  }
  return row!;
}

function hoursOf(tasks: { estimatedHours?: number | null }[]) {
  const hours = tasks.map((t) => t.estimatedHours).filter((h): h is number => typeof h === "number");
  return hours.length ? hours.reduce((a, b) => a + b, 0) : null;
}

/** Recomputes a milestone's points (and hours) from its tasks. */
async function recompute(tx: Tx, milestoneId: string) {
  const [row] = await tx
    .select({ points: sum(tasks.points), hours: sum(tasks.estimatedHours) })
    .from(tasks)
    .where(eq(tasks.milestoneId, milestoneId));
  await tx
    .update(milestones)
    .set({
      points: Number(row?.points ?? 0),
      estimatedHours: row?.hours == null ? null : Number(row.hours),
      updatedAt: new Date(),
    })
    .where(eq(milestones.id, milestoneId));
}

/** Renumbers positions 0…n−1 in the given order. */
async function renumber(tx: Tx, table: typeof milestones | typeof tasks, ids: string[]) {
  for (const [i, id] of ids.entries()) {
    await tx.update(table).set({ position: i }).where(eq(table.id, id));
  }
}

/** The ids of the rows of `table` that `where` picks (a project's milestones, a milestone's tasks), in order. */
async function orderedIds(tx: Tx, table: typeof milestones | typeof tasks, where: SQL): Promise<string[]> {
  const rows = await tx.select({ id: table.id }).from(table).where(where).orderBy(asc(table.position));
  return rows.map((r) => r.id);
}
const milestoneIds = (tx: Tx, projectId: string) => orderedIds(tx, milestones, eq(milestones.projectId, projectId));
const taskIds = (tx: Tx, milestoneId: string) => orderedIds(tx, tasks, eq(tasks.milestoneId, milestoneId));

/** `ids` with `id` moved to the 1-based place `order` (past the end: last). */
function moveTo(ids: string[], id: string, order: number): string[] {
  const without = ids.filter((x) => x !== id);
  without.splice(Math.min(order - 1, without.length), 0, id);
  return without;
}

/** Records a hand edit of the structure, by `principal`, as the next draft version. */
const recordEdit = (tx: Tx, projectId: string, principal: Principal | null, note: string) =>
  appendVersion(tx, projectId, { source: "edit", note, userId: principal!.userId });

/**
 * Replaces a project's draft structure with `plan` and records it as a new version (the planner's output,
 * or a restored version). Refused once the structure is approved.
 */
export async function saveDraft(db: Db, projectId: string, plan: Plan, meta: DraftMeta): Promise<{ version: number }> {
  return db.transaction(async (tx) => {
    await lockDraft(tx, projectId);
    await tx.delete(milestones).where(eq(milestones.projectId, projectId));
    for (const [i, m] of plan.milestones.entries()) await insertMilestone(tx, projectId, m, i);
    return { version: await appendVersion(tx, projectId, meta) };
  });
}

/** Replaces one milestone (its fields and tasks) in place, keeping its position and id: "regenerate one". */
export async function replaceMilestone(db: Db, milestoneId: string, m: PlannedMilestone, meta: DraftMeta) {
  return db.transaction(async (tx) => {
    const [current] = await tx.select().from(milestones).where(eq(milestones.id, milestoneId));
    if (!current) throw notFound("Milestone");
    await lockDraft(tx, current.projectId);
    await tx
      .update(milestones)
      .set({
        title: m.title,
        description: m.description,
        acceptanceCriteria: m.acceptanceCriteria,
        updatedAt: new Date(),
      })
      .where(eq(milestones.id, milestoneId));
    await tx.delete(tasks).where(eq(tasks.milestoneId, milestoneId));
    await tx.insert(tasks).values(m.tasks.map((t, i) => taskValues(current.projectId, milestoneId, t, i)));
    await recompute(tx, milestoneId);
    return { version: await appendVersion(tx, current.projectId, meta) };
  });
}

/** The milestones of a project the caller may see, with their tasks. */
export async function listMilestones(db: Db, principal: Principal | null, projectId: string) {
  const project = await loadProject(db, principal, projectId, "project.view");
  return { project, milestones: await loadTree(db, project.id) };
}

/** A milestone and its project, if the caller may `action` on the project (404 otherwise). */
export async function loadMilestone(db: Db, principal: Principal | null, milestoneId: string, action: OrgAction) {
  const [m] = isUuid(milestoneId) ? await db.select().from(milestones).where(eq(milestones.id, milestoneId)) : [];
  if (!m) throw notFound("Milestone");
  const project = await projectOr404(db, principal, m.projectId, action, "Milestone");
  return { milestone: m, project };
}

/** A task with its milestone and project, if the caller may `action` on the project. */
export async function loadSub(db: Db, principal: Principal | null, subId: string, action: OrgAction) {
  const [s] = isUuid(subId) ? await db.select().from(tasks).where(eq(tasks.id, subId)) : [];
  if (!s) throw notFound("Task");
  const project = await projectOr404(db, principal, s.projectId, action, "Task");
  const [m] = await db.select().from(milestones).where(eq(milestones.id, s.milestoneId));
  return { sub: s, milestone: m!, project };
}

async function projectOr404(db: Db, principal: Principal | null, projectId: string, action: OrgAction, what: string) {
  try {
    return await loadProject(db, principal, projectId, action);
  } catch (err) {
    if (err instanceof AppError && err.status === 404) throw notFound(what);
    throw err;
  }
}

/** Splits `target` points over tasks in proportion to their current points (largest remainder; each ≥ 1). */
export function rescale(points: number[], target: number): number[] {
  if (points.length === 0) return [];
  if (target < points.length) throw invalidInput({ points: `must be at least ${points.length} (one per task)` });
  const total = points.reduce((a, b) => a + b, 0) || points.length;
  const exact = points.map((p) => ((p || 1) * target) / total);
  const out = exact.map((x) => Math.max(1, Math.floor(x)));
  let diff = target - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ i, frac: x - Math.floor(x) })).sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (let k = 0; diff > 0; k = (k + 1) % order.length, diff--) out[order[k]!.i]!++;
  for (let k = order.length - 1; diff < 0; k = (k - 1 + order.length) % order.length) {
    const i = order[k]!.i;
    if (out[i]! > 1) {
      out[i]!--;
      diff++;
    }
  }
  return out;
}

/** Edits a milestone: text, criteria, points (rescaling its tasks) and position. */
export async function updateMilestone(db: Db, principal: Principal | null, milestoneId: string, body: unknown) {
  const { milestone, project } = await loadMilestone(db, principal, milestoneId, "project.manageMilestones");
  const input = parse(MilestoneUpdateRequest, body);
  await db.transaction(async (tx) => {
    await lockDraft(tx, project.id);
    const patch: Partial<typeof milestones.$inferInsert> = { updatedAt: new Date() };
    if (input.title !== undefined) patch.title = input.title;
    if (input.description !== undefined) patch.description = input.description;
    if (input.acceptanceCriteria !== undefined) patch.acceptanceCriteria = input.acceptanceCriteria;
    if (input.verificationRules !== undefined) patch.verificationRules = input.verificationRules;
    await tx.update(milestones).set(patch).where(eq(milestones.id, milestone.id));
    if (input.points !== undefined) {
      const subs = await tx
        .select()
        .from(tasks)
        .where(eq(tasks.milestoneId, milestone.id))
        .orderBy(asc(tasks.position));
      if (subs.length === 0)
        throw invalidInput({ points: "add a task first: a milestone's points are its tasks' points" });
      const next = rescale(
        subs.map((s) => s.points),
        input.points,
      );
      for (const [i, s] of subs.entries()) {
        if (next[i]! > 100)
          throw invalidInput({ points: "would give a task more than 100 points; split the work first" });
        await tx.update(tasks).set({ points: next[i]!, updatedAt: new Date() }).where(eq(tasks.id, s.id));
      }
    }
    if (input.estimatedHours !== undefined && input.points === undefined) {
      await tx.update(milestones).set({ estimatedHours: input.estimatedHours }).where(eq(milestones.id, milestone.id));
    } else {
      await recompute(tx, milestone.id);
    }
    if (input.order !== undefined) {
      await renumber(tx, milestones, moveTo(await milestoneIds(tx, project.id), milestone.id, input.order));
    }
    await recordEdit(tx, project.id, principal, `edited milestone “${milestone.title}”`);
  });
  return (await loadTree(db, project.id)).find((m) => m.id === milestone.id)!;
}

/** Adds an empty milestone at the end. */
export async function createMilestone(db: Db, principal: Principal | null, projectId: string, body: unknown) {
  const project = await loadProject(db, principal, projectId, "project.manageMilestones");
  const input = parse(MilestoneCreateRequest, body);
  return db.transaction(async (tx) => {
    await lockDraft(tx, project.id);
    const [row] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(milestones)
      .where(eq(milestones.projectId, project.id));
    const [m] = await tx
      .insert(milestones)
      .values({ projectId: project.id, ...input, position: row?.n ?? 0 })
      .returning();
    await recordEdit(tx, project.id, principal, `added milestone “${m!.title}”`);
    return m!;
  });
}

/** Deletes a milestone and its tasks. */
export async function deleteMilestone(db: Db, principal: Principal | null, milestoneId: string) {
  const { milestone, project } = await loadMilestone(db, principal, milestoneId, "project.manageMilestones");
  await db.transaction(async (tx) => {
    await lockDraft(tx, project.id);
    await tx.delete(milestones).where(eq(milestones.id, milestone.id));
    await renumber(tx, milestones, await milestoneIds(tx, project.id));
    await recordEdit(tx, project.id, principal, `deleted milestone “${milestone.title}”`);
  });
}

/** Puts the project's milestones in the given order (every id exactly once). */
export async function reorderMilestones(db: Db, principal: Principal | null, projectId: string, body: unknown) {
  const project = await loadProject(db, principal, projectId, "project.manageMilestones");
  const { ids } = parse(ReorderRequest, body);
  await db.transaction(async (tx) => {
    await lockDraft(tx, project.id);
    const current = await milestoneIds(tx, project.id);
    if (ids.length !== current.length || new Set(ids).size !== ids.length || !ids.every((id) => current.includes(id))) {
      throw invalidInput({ ids: "must list every milestone of the project exactly once" });
    }
    await renumber(tx, milestones, ids);
    await recordEdit(tx, project.id, principal, "reordered milestones");
  });
  return loadTree(db, project.id);
}

/** The tasks of a milestone. */
export async function listTasks(db: Db, principal: Principal | null, milestoneId: string) {
  const { milestone } = await loadMilestone(db, principal, milestoneId, "project.view");
  return db.select().from(tasks).where(eq(tasks.milestoneId, milestone.id)).orderBy(asc(tasks.position));
}

/** One task, with its milestone and project. */
export const getTask = (db: Db, principal: Principal | null, subId: string) =>
  loadSub(db, principal, subId, "project.view");

const DEFAULT_VERIFICATION: VerificationRules = { minPassingTests: 1, testCommand: "", rules: [] };

/** Adds a task at the end of a milestone. */
export async function createTask(db: Db, principal: Principal | null, milestoneId: string, body: unknown) {
  const { milestone, project } = await loadMilestone(db, principal, milestoneId, "project.manageMilestones");
  const input = parse(TaskCreateRequest, body);
  return db.transaction(async (tx) => {
    await lockDraft(tx, project.id);
    const [row] = await tx
      .select({ n: sql<number>`count(*)::int` })
      .from(tasks)
      .where(eq(tasks.milestoneId, milestone.id));
    const [s] = await tx
      .insert(tasks)
      .values({
        projectId: project.id,
        milestoneId: milestone.id,
        title: input.title,
        description: input.description,
        points: input.points,
        acceptanceCriteria: input.acceptanceCriteria,
        verification: { ...DEFAULT_VERIFICATION, ...input.verification },
        estimatedHours: input.estimatedHours ?? null,
        position: row?.n ?? 0,
      })
      .returning();
    await recompute(tx, milestone.id);
    await recordEdit(tx, project.id, principal, `added task “${s!.title}”`);
    return s!;
  });
}

/** Edits a task: text, points, criteria, verification rules, hours and position. */
export async function updateTask(db: Db, principal: Principal | null, subId: string, body: unknown) {
  const { sub, project } = await loadSub(db, principal, subId, "project.manageMilestones");
  const input = parse(TaskUpdateRequest, body);
  return db.transaction(async (tx) => {
    await lockDraft(tx, project.id);
    const patch: Partial<typeof tasks.$inferInsert> = { updatedAt: new Date() };
    if (input.title !== undefined) patch.title = input.title;
    if (input.description !== undefined) patch.description = input.description;
    if (input.points !== undefined) patch.points = input.points;
    if (input.acceptanceCriteria !== undefined) patch.acceptanceCriteria = input.acceptanceCriteria;
    if (input.verification !== undefined) patch.verification = { ...sub.verification, ...input.verification };
    if (input.estimatedHours !== undefined) patch.estimatedHours = input.estimatedHours;
    const [updated] = await tx.update(tasks).set(patch).where(eq(tasks.id, sub.id)).returning();
    if (input.order !== undefined) {
      await renumber(tx, tasks, moveTo(await taskIds(tx, sub.milestoneId), sub.id, input.order));
    }
    await recompute(tx, sub.milestoneId);
    await recordEdit(tx, project.id, principal, `edited task “${sub.title}”`);
    return updated!;
  });
}

/** Deletes a task. */
export async function deleteTask(db: Db, principal: Principal | null, subId: string) {
  const { sub, project } = await loadSub(db, principal, subId, "project.manageMilestones");
  await db.transaction(async (tx) => {
    await lockDraft(tx, project.id);
    await tx.delete(tasks).where(eq(tasks.id, sub.id));
    await renumber(tx, tasks, await taskIds(tx, sub.milestoneId));
    await recompute(tx, sub.milestoneId);
    await recordEdit(tx, project.id, principal, `deleted task “${sub.title}”`);
  });
}

/** The draft versions of a project, newest first (without their plans). */
export async function listDrafts(db: Db, principal: Principal | null, projectId: string) {
  const project = await loadProject(db, principal, projectId, "project.view");
  return db
    .select({
      version: milestoneDrafts.version,
      source: milestoneDrafts.source,
      note: milestoneDrafts.note,
      model: milestoneDrafts.model,
      runId: milestoneDrafts.runId,
      createdAt: milestoneDrafts.createdAt,
    })
    .from(milestoneDrafts)
    .where(eq(milestoneDrafts.projectId, project.id))
    .orderBy(desc(milestoneDrafts.version));
}

/** One stored draft version with its plan. */
export async function getDraft(db: Db, principal: Principal | null, projectId: string, version: number) {
  const project = await loadProject(db, principal, projectId, "project.view");
  const [d] = await db
    .select()
    .from(milestoneDrafts)
    .where(and(eq(milestoneDrafts.projectId, project.id), eq(milestoneDrafts.version, version)));
  if (!d) throw notFound("Draft version");
  return d;
}

/** Makes an earlier version the current structure again (as a new version). */
export async function restoreDraft(db: Db, principal: Principal | null, projectId: string, version: number) {
  const draft = await getDraft(db, principal, projectId, version);
  await loadProject(db, principal, projectId, "project.manageMilestones");
  return saveDraft(db, projectId, draft.plan as Plan, {
    source: "restore",
    note: `restored version ${version}`,
    userId: principal!.userId,
  });
}

/**
 * Approves the structure: checks it is complete, freezes every milestone, fixes the project's total points (the
 * funding quote's input) and pins every task's acceptance tests to `base`, the head of the repository's default
 * branch read before (src/tasks/acceptance.ts resolveBaseCommit; null: left unpinned, every test must pass).
 * Only once, only for a DRAFT project.
 */
export async function approveStructure(
  db: Db,
  principal: Principal | null,
  projectId: string,
  base: BaseCommit | null = null,
) {
  const project = await loadProject(db, principal, projectId, "project.approveStructure");
  const result = await db.transaction(async (tx) => {
    const p = await lockDraft(tx, project.id);
    if (p.state !== "DRAFT") throw conflict(`The project is ${p.state}; only a draft's structure can be approved.`);
    const tree = await loadTree(tx, p.id);
    if (tree.length === 0) throw invalidInput({ milestones: "generate or add milestones first" });
    const empty = tree.filter((m) => m.tasks.length === 0).map((m) => m.title);
    if (empty.length) throw invalidInput({ milestones: `every milestone needs a task: ${empty.join(", ")}` });
    const total = tree.reduce((n, m) => n + m.tasks.reduce((k, s) => k + s.points, 0), 0);
    if (total <= 0) throw invalidInput({ points: "the structure has no points" });
    await tx.update(milestones).set({ status: "FROZEN", updatedAt: new Date() }).where(eq(milestones.projectId, p.id));
    if (base) await pinProjectTasks(tx, p.id, base);
    const version = await appendVersion(tx, p.id, {
      source: "approved",
      note: `approved: ${total} points`,
      userId: principal!.userId,
    });
    const [updated] = await tx
      .update(projects)
      .set({
        totalPoints: total,
        structureApprovedAt: new Date(),
        structureApprovedById: principal!.userId,
        updatedAt: new Date(),
      })
      .where(eq(projects.id, p.id))
      .returning();
    return { project: updated!, version, totalPoints: total, pinnedTo: base };
  });
  await audit(db, {
    actorId: principal!.userId,
    action: "project.approveStructure",
    targetType: "project",
    targetId: project.id,
    orgId: project.orgId,
    payload: { totalPoints: result.totalPoints, version: result.version, pinnedTo: base?.commit ?? null },
  });
  return result;
}
