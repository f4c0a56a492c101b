// The domain event bus on the real job queue (PGlite, and PostgreSQL when TEST_DATABASE_URL is set): only committed
// events are delivered, each subscriber gets each event once even when a delivery fails, and events left behind by
// a stopped instance are delivered by the next one on the same database.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq, sql } from "drizzle-orm";
import { type Lifecycle, setupDomains } from "../app";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createOrgAs, createUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { bootstrap } from "../core/boot";
import { loadConfig } from "../core/config";
import type { AppContext } from "../core/context";
import type { Db } from "../core/db";
import { notifications } from "../notifications/schema";
import { projects } from "../projects/schema";
import { emitTaskEvent } from "../tasks/events";
import { domainEvents } from "./schema";
import { DELIVER_JOB, type DomainEvent, emitEvent, emitEvents } from "./service";

const ORG = "00000000-0000-4000-8000-000000000001";

/** Waits until `check` is true (polling), or fails after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 10_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(25);
  }
}

/** A second appliance on the same database, as after a restart: its own queue, bus and subscribers. */
async function restartOn(t: TestApp): Promise<{ ctx: AppContext; lifecycle: Lifecycle }> {
  const env = { DEVSPONSOR_DATA_DIR: t.ctx.config.dataDir, DEVSPONSOR_MASTER_KEY: "11".repeat(32) };
  const ctx = await bootstrap(loadConfig(env), { database: t.ctx.database, env });
  const lifecycle = await setupDomains(ctx);
  return { ctx, lifecycle };
}

for (const kind of dbKinds()) {
  describe(`domain event bus [${kind}]`, () => {
    let t: TestApp;
    const seen: { sub: string; event: DomainEvent }[] = [];
    let failNext = 0;
    beforeAll(async () => {
      t = await createTestApp(kind);
      t.ctx.events!.subscribe("test.audit", "test.*", (event) => void seen.push({ sub: "test.audit", event }));
      t.ctx.events!.subscribe("test.flaky", "test.*", async (event, tx) => {
        // Database work through `tx` commits with the record of the delivery: a failed one leaves nothing.
        await tx.execute(sql`select 1`);
        if (failNext > 0) {
          failNext--;
          throw new Error("the receiver is down");
        }
        seen.push({ sub: "test.flaky", event });
      });
      t.ctx.jobs.start();
    }, 60_000);
    afterAll(() => t.close());

    const got = (sub: string, id: string) => seen.filter((s) => s.sub === sub && s.event.id === id).length;

    test("a committed event reaches every subscriber once, even when one delivery fails first", async () => {
      failNext = 1;
      const { id } = await t.ctx.db.transaction((tx) => emitEvent(tx as Db, "test.happened", { orgId: ORG, n: 1 }));
      await until(() => got("test.flaky", id) === 1, 15_000);
      expect(got("test.audit", id)).toBe(1);
      // a handler runs inside the transaction that records its delivery: wait for that transaction's commit
      const stored = async () => (await t.ctx.db.select().from(domainEvents).where(eq(domainEvents.id, id)))[0]!;
      await until(async () => (await stored()).deliveredAt !== null, 15_000);
      const row = await stored();
      // the app's own subscribers (outgoing webhooks take every event) are recorded too
      expect(row.deliveredTo.filter((s) => s.startsWith("test.")).sort()).toEqual(["test.audit", "test.flaky"]);
      expect(row.attempts).toBe(2);
      expect(row.deliveredAt).not.toBeNull();
      expect(row.orgId).toBe(ORG);
      expect(seen.find((s) => s.event.id === id)?.event).toMatchObject({ name: "test.happened", payload: { n: 1 } });
      // a late duplicate run of the job (at-least-once queues may run one) finds nothing left to deliver
      expect(await t.ctx.events!.deliver(id)).toEqual({ delivered: [] });
      expect(got("test.flaky", id) + got("test.audit", id)).toBe(2);
    }, 30_000);

    test("events written together are each stored, delivered once, and announced to their topics", async () => {
      const topics: string[] = [];
      const stop = await t.ctx.database.listen("topic_events", (p) => void topics.push(...p.split(" ")));
      const projectIds = [1, 2, 3].map(() => crypto.randomUUID());
      const written = await t.ctx.db.transaction((tx) =>
        emitEvents(
          tx as Db,
          [1, 2, 3].map((n) => ({
            name: "test.together",
            payload: { orgId: ORG, projectId: projectIds[n - 1], taskId: n === 2 ? "t2" : undefined, n },
          })),
        ),
      );
      expect(new Set(written.map((w) => w.id)).size).toBe(3);
      await until(() => written.every((w) => got("test.audit", w.id) === 1), 15_000);
      expect(written.map((w) => seen.find((s) => s.event.id === w.id)?.event.payload.n)).toEqual([1, 2, 3]);
      const jobs = await t.ctx.database.exec<{ id: string }>(
        "select payload->>'eventId' as id from jobs where name = $1 and payload->>'eventId' = any($2)",
        [DELIVER_JOB, written.map((w) => w.id)],
      );
      expect(jobs.map((j) => j.id).sort()).toEqual(written.map((w) => w.id).sort());
      await until(() => topics.length >= 4, 5_000);
      expect(topics.sort()).toEqual([...projectIds.map((p) => `project:${p}`), "task:t2"].sort());
      await stop();
    }, 30_000);

    test("an event written in a rolled-back transaction is never delivered", async () => {
      let rolledBack = "";
      const refused = t.ctx.db.transaction(async (tx) => {
        rolledBack = (await emitEvent(tx as Db, "test.rolled_back", {})).id;
        throw new Error("the change failed");
      });
      await expect(refused).rejects.toThrow("the change failed");
      const { id: after } = await t.ctx.db.transaction((tx) => emitEvent(tx as Db, "test.after", {}));
      await until(() => got("test.audit", after) === 1);
      await Bun.sleep(300);
      expect(seen.some((s) => s.event.id === rolledBack)).toBe(false);
      expect(await t.ctx.db.select().from(domainEvents).where(eq(domainEvents.id, rolledBack))).toHaveLength(0);
      const jobs = await t.ctx.database.exec("select 1 from jobs where name = $1 and payload->>'eventId' = $2", [
        DELIVER_JOB,
        rolledBack,
      ]);
      expect(jobs).toHaveLength(0);
    }, 30_000);

    test("task events go on the bus; project.funded becomes one notification per owner, even when delivered twice", async () => {
      const owner = await createUser(t);
      const orgId = await createOrgAs(owner);
      const [project] = await t.ctx.db.insert(projects).values({ orgId, title: "Bus project" }).returning();
      const taskId = crypto.randomUUID();
      await t.ctx.db.transaction((tx) =>
        emitTaskEvent(tx, "task.claimed", { taskId, projectId: project!.id, orgId, title: "T", actorId: null }),
      );
      const [claimed] = await t.ctx.db.select().from(domainEvents).where(eq(domainEvents.name, "task.claimed"));
      expect(claimed).toMatchObject({ orgId, projectId: project!.id, payload: { taskId, title: "T" } });

      const { id } = await t.ctx.db.transaction((tx) =>
        emitEvent(tx as Db, "project.funded", { orgId, projectId: project!.id, amount: "1" }),
      );
      const funded = () =>
        t.ctx.db
          .select()
          .from(notifications)
          .where(eq(notifications.userId, owner.id))
          .then((rows) => rows.filter((n) => n.type === "PROJECT_FUNDED"));
      await until(async () => (await funded()).length > 0);
      // a second run of the delivery (a job run twice) finds the subscriber recorded with its notification
      await t.ctx.db.update(domainEvents).set({ deliveredAt: null }).where(eq(domainEvents.id, id));
      await t.ctx.events!.deliver(id);
      expect(await funded()).toHaveLength(1);
      expect((await funded())[0]).toMatchObject({
        title: "Project funded: Bus project",
        link: `/projects/${project!.id}`,
      });
    }, 30_000);

    test("events a stopped instance never delivered are delivered by the next one on the same database", async () => {
      await t.ctx.jobs.stop(1000); // the first instance dies right after the commit, before any delivery
      const { id } = await t.ctx.db.transaction((tx) => emitEvent(tx as Db, "test.orphaned", {}));
      // and one whose delivery job died (retries used up) is picked up by the start-up sweep
      const { id: dead } = await t.ctx.db.transaction((tx) => emitEvent(tx as Db, "test.dead_job", {}));
      await t.ctx.database.exec("update jobs set state = 'dead' where name = $1 and payload->>'eventId' = $2", [
        DELIVER_JOB,
        dead,
      ]);
      await Bun.sleep(200);
      expect(got("test.audit", id)).toBe(0);

      const next = await restartOn(t);
      const heard: string[] = [];
      next.ctx.events!.subscribe("test.audit", "test.*", (e) => void heard.push(e.id));
      try {
        await next.lifecycle.start();
        await until(() => heard.includes(id) && heard.includes(dead), 15_000);
        expect(heard.filter((x) => x === id)).toHaveLength(1);
        expect(heard.filter((x) => x === dead)).toHaveLength(1);
        expect(got("test.audit", id)).toBe(0); // the first instance is gone
      } finally {
        await next.lifecycle.stop();
      }
    }, 60_000);

    test("delivered events are dropped after the retention period; undelivered ones stay", async () => {
      const { id: waiting } = await t.ctx.db.transaction((tx) => emitEvent(tx as Db, "test.waiting", {}));
      const delivered = await t.ctx.database.exec("select id from domain_events where delivered_at is not null");
      expect(delivered.length).toBeGreaterThan(0);
      expect(await t.ctx.events!.prune(60_000)).toBe(0); // none is a minute old yet
      expect(await t.ctx.events!.prune(0)).toBe(delivered.length);
      const left = await t.ctx.database.exec<{ id: string }>("select id from domain_events where delivered_at is null");
      expect(left.map((r) => r.id)).toContain(waiting);
    });
  });
}
