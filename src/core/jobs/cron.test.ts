import { expect, test } from "bun:test";
import { describeEachDb } from "../../../test/support/db";
import { createCron, cronKey } from "./cron";
import { createJobQueue } from "./queue";

describeEachDb("cron", (db) => {
  test("two processes' registries fire each tick once: one job per tick, run once", async () => {
    // Two queues and two registries on one database stand for two appliance processes.
    const ran: string[] = [];
    const parts = [0, 1].map(() => {
      const jobs = createJobQueue(db(), { pollIntervalMs: 50 });
      jobs.define("cron.tick", (_p, run) => {
        ran.push(run.jobId);
      });
      const cron = createCron(db(), jobs);
      cron.register("test.every-second", "* * * * * *", "cron.tick", { from: "cron" });
      return { jobs, cron };
    });
    for (const p of parts) {
      p.jobs.start();
      p.cron.start();
    }
    await Bun.sleep(3200);
    for (const p of parts) p.cron.stop();
    await Bun.sleep(300);
    await Promise.all(parts.map((p) => p.jobs.stop()));

    const rows = await db().exec<{ id: string; key: string; state: string }>(
      "select id, key, state from jobs where name = 'cron.tick' order by key",
    );
    expect(rows.length).toBeGreaterThanOrEqual(2);
    expect(rows.every((r) => r.state === "completed")).toBe(true);
    // One job per tick, named by the scheduled second, and each ran once.
    for (const r of rows) expect(r.key).toMatch(/^cron:test\.every-second:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    expect(new Set(ran).size).toBe(ran.length);
    expect(ran.sort()).toEqual(rows.map((r) => r.id).sort());
    // Both registries fired the ticks; only one of them created each job.
    const [a, b] = await Promise.all(parts.map(async (p) => (await p.cron.list())[0]));
    expect(a.firedHere).toBeGreaterThanOrEqual(2);
    expect(b.firedHere).toBeGreaterThanOrEqual(2);
    expect(a.createdHere + b.createdHere).toBe(rows.length);
    expect(a.firedHere + b.firedHere).toBeGreaterThan(rows.length);
  });

  test("entries are listed with their ticks, can run now, and reject bad patterns", async () => {
    const jobs = createJobQueue(db(), { pollIntervalMs: 50 });
    const cron = createCron(db(), jobs);
    cron.register("repo-access.sync", "0 */15 * * * *", "repo-access.sync", { all: true });
    expect(() => cron.register("repo-access.sync", "* * * * *", "x")).toThrow();
    expect(() => cron.register("bad", "every tuesday", "x")).toThrow();

    const previous = new Date(Math.floor(Date.now() / 900_000) * 900_000);
    await jobs.enqueue("repo-access.sync", { all: true }, { key: cronKey("repo-access.sync", previous) });
    const [entry] = await cron.list();
    expect(entry).toMatchObject({ id: "repo-access.sync", pattern: "0 */15 * * * *", job: "repo-access.sync" });
    expect(entry.nextRun!.getTime() - previous.getTime()).toBe(900_000);
    expect(entry.previousTick).toEqual(previous);
    expect(entry.previousJob?.state).toBe("queued");

    const now = await cron.runNow("repo-access.sync");
    expect(now.created).toBe(true);
    expect((await jobs.get(now.id))?.payload).toEqual({ all: true });
    await expect(cron.runNow("missing")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
