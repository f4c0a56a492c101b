// Task events mirrored on GitHub are queued inside the transaction that emits them, on each database: the job
// exists when the task's change commits (a delivery marked processed afterwards cannot have lost it) and a rolled
// back change queues nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { generateKeyPairSync } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { dbKinds } from "../../test/support/db";
import { jobs } from "../core/jobs/schema";
import { milestones, tasks } from "../milestones/schema";
import { orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { emitTaskEvent, type TaskEvent } from "../tasks/events";
import { TASK_EVENT_JOB } from "./jobs";
import { githubRepositories } from "./schema";

for (const kind of dbKinds()) {
  describe(`github.task-event jobs are queued in the event's transaction [${kind}]`, () => {
    let t: TestApp;
    let event: TaskEvent;

    const queued = () =>
      t.ctx.db
        .select({ payload: jobs.payload })
        .from(jobs)
        .where(and(eq(jobs.name, TASK_EVENT_JOB), sql`${jobs.payload}->>'taskId' = ${event.taskId}`));

    beforeAll(async () => {
      t = await createTestApp(kind);
      const { privateKey } = generateKeyPairSync("rsa", {
        modulusLength: 2048,
        privateKeyEncoding: { type: "pkcs1", format: "pem" },
        publicKeyEncoding: { type: "spki", format: "pem" },
      });
      await t.ctx.settings.update({ "github.appId": "424242", "github.privateKey": privateKey }, null);
      const [org] = await t.ctx.db.insert(orgs).values({ name: "Events" }).returning();
      const [project] = await t.ctx.db
        .insert(projects)
        .values({ orgId: org!.id, title: "P", state: "ACTIVE", repoUrl: "https://github.com/octo-org/widgets" })
        .returning();
      const [m] = await t.ctx.db
        .insert(milestones)
        .values({ projectId: project!.id, title: "M", position: 0 })
        .returning();
      const [task] = await t.ctx.db
        .insert(tasks)
        .values({ milestoneId: m!.id, projectId: project!.id, title: "T", points: 1, position: 0 })
        .returning();
      await t.ctx.db.insert(githubRepositories).values({
        repoId: 77,
        installationId: 1,
        fullName: "octo-org/widgets",
        private: true,
        projectId: project!.id,
        eventAt: new Date(),
      });
      event = { taskId: task!.id, projectId: project!.id, orgId: org!.id, title: "T", actorId: null };
    }, 120_000);
    afterAll(() => t?.close());

    test("a rolled-back change queues nothing", async () => {
      const rollback = t.ctx.db.transaction(async (tx) => {
        await emitTaskEvent(tx, "task.claimed", event);
        throw new Error("rolled back");
      });
      await expect(rollback).rejects.toThrow("rolled back");
      await Bun.sleep(300); // time for anything queued after the transaction to land
      expect(await queued()).toEqual([]);
    });

    test("a committed change has its job the moment its transaction returns", async () => {
      await t.ctx.db.transaction((tx) => emitTaskEvent(tx, "task.claimed", event));
      expect(await queued()).toEqual([{ payload: { name: "task.claimed", taskId: event.taskId } }]);
      // Events GitHub does not mirror queue nothing.
      await t.ctx.db.transaction((tx) => emitTaskEvent(tx, "task.work_linked", event));
      expect(await queued()).toHaveLength(1);
    });
  });
}
