import { afterEach, expect, test } from "bun:test";
import { describeEachDb } from "../../../test/support/db";
import type { JobEvent } from "./events";
import { createJobQueue, FatalJobError, type JobQueue } from "./queue";

/** Polls `fn` until it returns a truthy value, or fails after `ms`. */
async function waitFor<T>(fn: () => Promise<T> | T, ms = 5000, what = "condition"): Promise<NonNullable<T>> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

const queues: JobQueue[] = [];
afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop(2000)));
});

describeEachDb("job queue", (db) => {
  const queue = (opts: Parameters<typeof createJobQueue>[1] = {}) => {
    const q = createJobQueue(db(), { pollIntervalMs: 50, ...opts });
    queues.push(q);
    return q;
  };

  test("the same idempotency key makes one job that runs once, even after it completed", async () => {
    const jobs = queue();
    const runs: string[] = [];
    jobs.define<{ n: number }>("idem.run", (p, run) => {
      runs.push(`${run.jobId}:${p.n}`);
      return { n: p.n };
    });
    // Concurrent enqueues (batched into one statement) and a batch holding the key twice.
    const [a, b] = await Promise.all([
      jobs.enqueue("idem.run", { n: 1 }, { key: "idem:k1" }),
      jobs.enqueue("idem.run", { n: 2 }, { key: "idem:k1" }),
    ]);
    const many = await jobs.enqueueMany([
      { name: "idem.run", payload: { n: 3 }, key: "idem:k1" },
      { name: "idem.run", payload: { n: 4 }, key: "idem:k2" },
      { name: "idem.run", payload: { n: 5 }, key: "idem:k2" },
    ]);
    expect(a.created).toBe(true);
    expect(b).toEqual({ id: a.id, created: false });
    expect(many[0]).toEqual({ id: a.id, created: false });
    expect(many[1].created).toBe(true);
    expect(many[2]).toEqual({ id: many[1].id, created: false });

    jobs.start();
    await waitFor(
      async () => (await jobs.get(many[1].id))?.state === "completed" && (await jobs.get(a.id))?.state === "completed",
    );
    const again = await jobs.enqueue("idem.run", { n: 6 }, { key: "idem:k1" });
    expect(again).toEqual({ id: a.id, created: false });
    await Bun.sleep(200);
    expect(runs.sort()).toEqual([`${a.id}:1`, `${many[1].id}:4`].sort());
    expect((await jobs.get(a.id))?.result).toEqual({ n: 1 });
  });

  test("a failing job is retried with growing delays, then dead with its last error; retry() revives it", async () => {
    const jobs = queue();
    const starts: number[] = [];
    let healthy = false;
    jobs.define(
      "retry.flaky",
      (_p, run) => {
        starts.push(Date.now());
        if (!healthy) throw new Error(`boom ${run.attempt}`);
        return "ok";
      },
      { maxAttempts: 3, backoffMs: 150 },
    );
    const states: string[] = [];
    jobs.subscribe("*", (e) => {
      if (e.type === "state") states.push(e.state);
    });
    jobs.start();
    const { id } = await jobs.enqueue("retry.flaky", {});
    const dead = await waitFor(async () => {
      const j = await jobs.get(id);
      return j?.state === "dead" ? j : null;
    });
    expect(dead.attempts).toBe(3);
    expect(dead.lastError).toBe("boom 3");
    expect(dead.finishedAt).not.toBeNull();
    expect(starts).toHaveLength(3);
    // Backoff: 150·2^(n−1) with jitter in its upper half, so at least 75 ms then 150 ms.
    expect(starts[1] - starts[0]).toBeGreaterThanOrEqual(75);
    expect(starts[2] - starts[1]).toBeGreaterThanOrEqual(150);
    expect(states).toEqual(["running", "failed", "running", "failed", "running", "dead"]);
    const logs = (await jobs.events(id)).filter((e) => e.type === "log").map((e) => (e as { line: string }).line);
    expect(logs).toHaveLength(3);
    expect(logs[0]).toStartWith("attempt 1 failed: boom 1; retrying in");
    expect(logs[2]).toBe("attempt 3 failed: boom 3; giving up");

    healthy = true;
    const revived = await jobs.retry(id);
    expect(revived.state).toBe("queued");
    expect(revived.attempts).toBe(0);
    await waitFor(async () => (await jobs.get(id))?.state === "completed");
    expect(starts).toHaveLength(4);
    await expect(jobs.retry(id)).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(jobs.retry("00000000-0000-0000-0000-000000000000")).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  test("FatalJobError and a timeout end attempts as the handler cannot finish them", async () => {
    const jobs = queue();
    jobs.define("fatal.job", () => {
      throw new FatalJobError("payload refers to nothing");
    });
    let aborted = false;
    jobs.define(
      "slow.job",
      (_p, run) =>
        new Promise((resolve) => {
          run.signal.addEventListener("abort", () => {
            aborted = true;
            resolve(null);
          });
        }),
      { timeoutMs: 100, maxAttempts: 1 },
    );
    jobs.start();
    const fatal = await jobs.enqueue("fatal.job", {});
    const slow = await jobs.enqueue("slow.job", {});
    const f = await waitFor(async () => {
      const j = await jobs.get(fatal.id);
      return j?.state === "dead" ? j : null;
    });
    expect(f.attempts).toBe(1);
    expect(f.lastError).toBe("FatalJobError: payload refers to nothing");
    const s = await waitFor(async () => {
      const j = await jobs.get(slow.id);
      return j?.state === "dead" ? j : null;
    });
    expect(s.lastError).toBe("the job timed out after 100 ms");
    expect(aborted).toBe(true);
  });

  test("a delayed job does not run before its time", async () => {
    const jobs = queue();
    const ranAt = new Map<string, number>();
    jobs.define("delayed.job", (_p, run) => {
      ranAt.set(run.jobId, Date.now());
    });
    jobs.start();
    const t0 = Date.now();
    const byDelay = await jobs.enqueue("delayed.job", {}, { delayMs: 600 });
    const byDate = await jobs.enqueue("delayed.job", {}, { runAt: new Date(t0 + 400) });
    await Bun.sleep(250);
    expect((await jobs.get(byDelay.id))?.state).toBe("queued");
    expect((await jobs.get(byDate.id))?.state).toBe("queued");
    await waitFor(async () => (await jobs.get(byDelay.id))?.state === "completed");
    const job = await jobs.get(byDelay.id);
    expect(job!.startedAt!.getTime()).toBeGreaterThanOrEqual(job!.runAt.getTime());
    expect(job!.runAt.getTime() - job!.createdAt.getTime()).toBeGreaterThanOrEqual(590);
    expect(ranAt.get(byDelay.id)! - t0).toBeGreaterThanOrEqual(550);
    expect(ranAt.get(byDate.id)! - t0).toBeGreaterThanOrEqual(390);
  });

  test("per-queue concurrency is respected, and one busy queue does not hold up another", async () => {
    const jobs = queue();
    let current = 0;
    let peak = 0;
    let otherRanWhileBusy = false;
    jobs.define(
      "conc.limited",
      async () => {
        current++;
        peak = Math.max(peak, current);
        await Bun.sleep(60);
        current--;
      },
      { concurrency: 3 },
    );
    jobs.define("conc.other", () => {
      if (current > 0) otherRanWhileBusy = true;
    });
    await jobs.enqueueMany(Array.from({ length: 15 }, (_, i) => ({ name: "conc.limited", payload: { i } })));
    jobs.start();
    await waitFor(() => current === 3, 3000, "the limited queue to fill");
    await jobs.enqueue("conc.other", {});
    await waitFor(async () => (await jobs.list({ name: "conc.limited", state: "completed" })).length === 15, 8000);
    expect(peak).toBe(3);
    expect(otherRanWhileBusy).toBe(true);
  });

  test("jobs of one queue start in the order they were enqueued, also when started directly by the enqueuer", async () => {
    const jobs = queue();
    const order: number[] = [];
    let open = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    jobs.define<{ i: number }>(
      "order.job",
      async (p) => {
        order.push(p.i);
        if (p.i === 0) await gate;
        await Bun.sleep(5);
      },
      { concurrency: 1 },
    );
    jobs.start();
    await Bun.sleep(100); // the first claim found the queue empty: enqueues may start jobs directly
    const first = await jobs.enqueue("order.job", { i: 0 }); // starts directly
    await jobs.enqueue("order.job", { i: 1 }); // the queue is full: it waits in the table
    // Enqueue the next job in the instant the slot frees, before the queue claims: it must not pass job 1.
    jobs.subscribe(first.id, (e) => {
      if (e.type === "state" && e.state === "completed") setImmediate(() => jobs.enqueue("order.job", { i: 2 }));
    });
    open();
    await waitFor(() => order.length === 3);
    for (let i = 3; i < 12; i++) {
      await jobs.enqueue("order.job", { i });
      await Bun.sleep(i % 3 === 0 ? 20 : 1);
    }
    await waitFor(() => order.length === 12);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test("progress and log events are stored in order and streamed to subscribers", async () => {
    const jobs = queue();
    let release = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    jobs.define("events.job", async (_p, run) => {
      run.progress(25, "a quarter"); // not awaited: writes are still ordered
      await run.log("halfway there");
      await gate;
      await run.progress(100, "done");
      return { ok: true };
    });
    const { id } = await jobs.enqueue("events.job", {});
    const seen: JobEvent[] = [];
    const off = jobs.subscribe(id, (e) => seen.push(e));
    jobs.start();
    await waitFor(() => seen.some((e) => e.type === "log"));
    expect((await jobs.get(id))?.progress).toBe(25);
    release();
    await waitFor(() => seen.some((e) => e.type === "state" && e.state === "completed"));
    off();
    expect(seen.map((e) => (e.type === "state" ? e.state : e.type))).toEqual([
      "running",
      "progress",
      "log",
      "progress",
      "completed",
    ]);
    const stored = await jobs.events(id);
    expect(stored.map((e) => e.type)).toEqual(["progress", "log", "progress"]);
    const eventId = (e: JobEvent) => ("id" in e ? e.id : 0);
    expect(stored.map(eventId)).toEqual(seen.filter((e) => e.type !== "state").map(eventId));
    expect(stored[0]).toMatchObject({ type: "progress", pct: 25, message: "a quarter" });
    expect(await jobs.events(id, { after: eventId(stored[0]) })).toHaveLength(2);
    const job = await jobs.get(id);
    expect(job).toMatchObject({ state: "completed", progress: 100, result: { ok: true }, attempts: 1 });
  });

  test("stop() waits for running handlers, and past its deadline hands unfinished jobs back", async () => {
    const jobs = queue();
    let signalled = false;
    jobs.define("stop.quick", async () => {
      await Bun.sleep(150);
      return "finished";
    });
    jobs.define(
      "stop.stuck",
      (_p, run) =>
        new Promise((resolve) => {
          run.signal.addEventListener("abort", () => {
            signalled = true;
            setTimeout(resolve, 50);
          });
        }),
    );
    const quick = await jobs.enqueue("stop.quick", {});
    const stuck = await jobs.enqueue("stop.stuck", {});
    jobs.start();
    await waitFor(
      async () => (await jobs.get(stuck.id))?.state === "running" && (await jobs.get(quick.id))?.state === "running",
    );
    await jobs.stop(1000);
    expect((await jobs.get(quick.id))?.state).toBe("completed");
    const back = await jobs.get(stuck.id);
    expect(back).toMatchObject({ state: "queued", attempts: 0, lockedBy: null });
    expect(signalled).toBe(true);
    await Bun.sleep(100); // the handler resolves after the release: its late result must not be recorded
    expect((await jobs.get(stuck.id))?.state).toBe("queued");

    const next = queue();
    next.define("stop.stuck", () => "second time");
    next.start();
    await waitFor(async () => (await next.get(stuck.id))?.state === "completed");
    expect((await next.get(stuck.id))?.result).toBe("second time");
  });

  test("a worker that lost its lease aborts the run and records nothing", async () => {
    const jobs = queue({ leaseMs: 300 });
    let aborted: unknown;
    jobs.define("lease.job", (_p, run) => {
      return new Promise((resolve) => {
        run.signal.addEventListener("abort", () => {
          aborted = run.signal.reason;
          resolve("late result");
        });
      });
    });
    const { id } = await jobs.enqueue("lease.job", {});
    jobs.start();
    await waitFor(async () => (await jobs.get(id))?.state === "running");
    // Another live worker took the job over (as after a long pause of this process past its lease).
    const thief = queue();
    thief.start();
    await db().exec("update jobs set locked_by = $2, locked_until = now() + interval '1 minute' where id = $1", [
      id,
      thief.workerId,
    ]);
    await waitFor(() => aborted, 3000, "the abort");
    expect(String(aborted)).toContain("lease was lost");
    await Bun.sleep(100);
    expect(await jobs.get(id)).toMatchObject({ state: "running", lockedBy: thief.workerId, result: null });
    await db().exec("update jobs set state = 'dead', locked_by = null where id = $1", [id]);
  });

  test("prune deletes old finished jobs that no key protects", async () => {
    const jobs = queue();
    const [plain, keyed, tick, fresh] = await jobs.enqueueMany([
      { name: "prune.job", payload: {} },
      { name: "prune.job", payload: {}, key: "prune:kept" },
      { name: "prune.job", payload: {}, key: "cron:prune.tick:2020-01-01T00:00:00.000Z" },
      { name: "prune.job", payload: {} },
    ]);
    await db().exec(
      "update jobs set state = 'completed', finished_at = now() - interval '40 days' where name = 'prune.job'",
    );
    await db().exec("update jobs set finished_at = now() where id = $1", [fresh.id]);
    expect(await jobs.prune(30 * 86_400_000)).toBe(2);
    expect(await jobs.get(plain.id)).toBeNull();
    expect(await jobs.get(tick.id)).toBeNull();
    expect(await jobs.get(keyed.id)).not.toBeNull();
    expect(await jobs.get(fresh.id)).not.toBeNull();
    // The kept key still refuses a second run.
    expect(await jobs.enqueue("prune.job", {}, { key: "prune:kept" })).toEqual({ id: keyed.id, created: false });
  });

  test("enqueueIn: a job added in a transaction exists only if it commits, then runs once; its key is kept", async () => {
    const jobs = queue({ pollIntervalMs: 5000 }); // the wake after the commit starts it, not the poll
    const runs: number[] = [];
    jobs.define<{ n: number }>("tx.run", (p) => {
      runs.push(p.n);
      return {};
    });
    jobs.start();
    const rolledBack = db()
      .db.transaction(async (tx) => {
        await jobs.enqueueIn(tx, "tx.run", { n: 1 }, { key: "tx:k1" });
        throw new Error("rolled back");
      })
      .catch((e: Error) => e.message);
    expect(await rolledBack).toBe("rolled back");
    const committed = await db().db.transaction(async (tx) => {
      const first = await jobs.enqueueIn(tx, "tx.run", { n: 2 }, { key: "tx:k1" });
      expect(await jobs.enqueueIn(tx, "tx.run", { n: 3 }, { key: "tx:k1" })).toEqual({ id: first.id, created: false });
      return first;
    });
    expect(committed.created).toBe(true);
    await waitFor(async () => (await jobs.get(committed.id))?.state === "completed", 2000, "the committed job");
    expect(runs).toEqual([2]);
    expect(await jobs.enqueue("tx.run", { n: 4 }, { key: "tx:k1" })).toEqual({ id: committed.id, created: false });
  });

  test("enqueue validates its input", async () => {
    const jobs = queue();
    await expect(jobs.enqueue("bad name!", {})).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(jobs.enqueue("ok.name", { n: 1n })).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(jobs.enqueue("ok.name", {}, { key: "" })).rejects.toMatchObject({ code: "INVALID_INPUT" });
    await expect(jobs.enqueue("ok.name", {}, { maxAttempts: 0 })).rejects.toMatchObject({ code: "INVALID_INPUT" });
    expect(await jobs.get("not-a-uuid")).toBeNull();
    expect(() => jobs.define("dup.job", () => {})).not.toThrow();
    expect(() => jobs.define("dup.job", () => {})).toThrow();
  });
});
