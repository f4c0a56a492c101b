import { describe, expect, test } from "bun:test";
import { createProject, projectPoints, setProjectState } from "../projects/service";
import { describeEachDb } from "../../test/support/db";
import { seedOrg, seedUser } from "../../test/support/projects";
import type { AppContext } from "../core/context";
import type { Plan } from "./model";
import {
  approveStructure,
  createTask,
  deleteMilestone,
  deleteTask,
  listDrafts,
  listMilestones,
  loadTree,
  reorderMilestones,
  rescale,
  restoreDraft,
  saveDraft,
  updateMilestone,
  updateTask,
} from "./service";

const task = (title: string, points: number) => ({
  title,
  description: "",
  points,
  acceptanceCriteria: [`${title} done`],
  verification: { minPassingTests: 1, testCommand: "", rules: [] },
});
const PLAN: Plan = {
  milestones: [
    { title: "A", description: "", acceptanceCriteria: [], tasks: [task("a1", 2), task("a2", 6)] },
    { title: "B", description: "", acceptanceCriteria: [], tasks: [task("b1", 5)] },
    { title: "C", description: "", acceptanceCriteria: [], tasks: [task("c1", 1)] },
  ],
};

describe("rescale", () => {
  test("keeps proportions, sums exactly, never below 1", () => {
    expect(rescale([2, 6], 16)).toEqual([4, 12]);
    expect(rescale([1, 1, 1], 10).reduce((a, b) => a + b)).toBe(10);
    expect(rescale([1, 100], 3)).toEqual([1, 2]);
    expect(() => rescale([1, 1, 1], 2)).toThrow(
      expect.objectContaining({ details: { fields: { points: "must be at least 3 (one per task)" } } }),
    );
  });
});

describeEachDb("milestones", (get) => {
  const setup = async () => {
    const db = get().db;
    const org = await seedOrg(db);
    const ctx = { db, settings: { get: () => "https://github.com" } } as unknown as AppContext;
    const project = await createProject(ctx, org.OWNER.principal, org.org.id, { title: "P", repoType: "PRIVATE" });
    await saveDraft(db, project.id, PLAN, { source: "ai" });
    return { db, org, project };
  };

  test("edits are versioned: title, points (rescaling tasks), order, tasks; restore brings a version back", async () => {
    const { db, org, project } = await setup();
    const sponsor = org.SPONSOR.principal;
    let tree = await loadTree(db, project.id);
    expect(tree.map((m) => m.points)).toEqual([8, 5, 1]);
    await updateMilestone(db, sponsor, tree[0]!.id, { title: "Alpha", points: 16 });
    tree = await loadTree(db, project.id);
    expect(tree[0]!.title).toBe("Alpha");
    expect(tree[0]!.tasks.map((s) => s.points)).toEqual([4, 12]);
    expect(tree[0]!.points).toBe(16);
    await updateMilestone(db, sponsor, tree[2]!.id, { order: 1 });
    expect((await loadTree(db, project.id)).map((m) => m.title)).toEqual(["C", "Alpha", "B"]);
    await createTask(db, sponsor, tree[1]!.id, { title: "b2", points: 3 });
    await updateTask(db, sponsor, tree[0]!.tasks[0]!.id, {
      points: 7,
      verification: { testCommand: "npm test" },
    });
    await deleteTask(db, sponsor, tree[0]!.tasks[1]!.id);
    tree = await loadTree(db, project.id);
    expect(
      tree.find((m) => m.title === "Alpha")!.tasks.map((s) => [s.title, s.points, s.verification.testCommand]),
    ).toEqual([["a1", 7, "npm test"]]);
    expect(tree.find((m) => m.title === "B")!.points).toBe(8);
    expect(await projectPoints(db, project.id)).toBe(7 + 8 + 1);
    await deleteMilestone(db, sponsor, tree[0]!.id);
    await reorderMilestones(db, sponsor, project.id, { ids: [tree[2]!.id, tree[1]!.id] });
    expect((await loadTree(db, project.id)).map((m) => [m.title, m.position])).toEqual([
      ["B", 0],
      ["Alpha", 1],
    ]);
    const drafts = await listDrafts(db, sponsor, project.id);
    expect(drafts.map((d) => d.version)).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    await restoreDraft(db, sponsor, project.id, 1);
    expect((await loadTree(db, project.id)).map((m) => [m.title, m.points])).toEqual([
      ["A", 8],
      ["B", 5],
      ["C", 1],
    ]);
  });

  test("input is validated: unknown fields, bad points, incomplete reorder", async () => {
    const { db, org, project } = await setup();
    const [m] = await loadTree(db, project.id);
    await expect(updateMilestone(db, org.OWNER.principal, m!.id, { budget: 5 })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
    await expect(updateTask(db, org.OWNER.principal, m!.tasks[0]!.id, { points: 0 })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
    await expect(updateTask(db, org.OWNER.principal, m!.tasks[0]!.id, { points: 2.5 })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
    await expect(reorderMilestones(db, org.OWNER.principal, project.id, { ids: [m!.id] })).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
  });

  test("approval freezes the structure and fixes the total; state moves DRAFT → ACTIVE → COMPLETED", async () => {
    const { db, org, project } = await setup();
    await expect(setProjectState(db, project.id, "ACTIVE")).rejects.toMatchObject({ code: "CONFLICT" });
    const r = await approveStructure(db, org.SPONSOR.principal, project.id);
    expect(r.totalPoints).toBe(14);
    expect(r.project.totalPoints).toBe(14);
    const { milestones } = await listMilestones(db, org.CONTRIBUTOR.principal, project.id);
    expect(milestones.every((m) => m.status === "FROZEN")).toBe(true);
    await expect(updateMilestone(db, org.OWNER.principal, milestones[0]!.id, { title: "x" })).rejects.toMatchObject({
      code: "CONFLICT",
    });
    await expect(saveDraft(db, project.id, PLAN, { source: "ai" })).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(approveStructure(db, org.OWNER.principal, project.id)).rejects.toMatchObject({ code: "CONFLICT" });
    expect((await setProjectState(db, project.id, "ACTIVE")).state).toBe("ACTIVE");
    expect((await setProjectState(db, project.id, "ACTIVE")).state).toBe("ACTIVE"); // idempotent
    await expect(setProjectState(db, project.id, "DRAFT")).rejects.toMatchObject({ code: "CONFLICT" });
    expect((await setProjectState(db, project.id, "COMPLETED")).state).toBe("COMPLETED");
  });

  test("approval needs tasks in every milestone", async () => {
    const { db, org, project } = await setup();
    const tree = await loadTree(db, project.id);
    await deleteTask(db, org.OWNER.principal, tree[2]!.tasks[0]!.id);
    await expect(approveStructure(db, org.OWNER.principal, project.id)).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
  });

  test("permissions: contributors read but do not edit; outsiders see nothing of a private project", async () => {
    const { db, org, project } = await setup();
    const [m] = await loadTree(db, project.id);
    await expect(updateMilestone(db, org.CONTRIBUTOR.principal, m!.id, { title: "x" })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(approveStructure(db, org.CONTRIBUTOR.principal, project.id)).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const outsider = await seedUser(db);
    await expect(listMilestones(db, outsider.principal, project.id)).rejects.toMatchObject({
      code: "PROJECT_NOT_FOUND",
    });
    await expect(updateMilestone(db, outsider.principal, m!.id, { title: "x" })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(updateMilestone(db, null, m!.id, { title: "x" })).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});
