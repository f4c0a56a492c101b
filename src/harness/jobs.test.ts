// The harness job on the real queue: its progress and log events are stored (and so streamed) with the run.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createJobQueue, FatalJobError, type JobQueue } from "../core/jobs";
import { passing } from "../../test/fixtures/hostile/repos";
import { describeEachDb } from "../../test/support/db";
import { ensureSandboxImages } from "../../test/support/docker";
import { DockerBackend } from "../sandbox/docker";
import { defineHarnessJob, type HarnessJobDeps, type HarnessJobResult } from "./jobs";

setDefaultTimeout(60_000);
const baseDir = mkdtempSync(join(tmpdir(), "devsponsor-harness-job-"));
chmodSync(baseDir, 0o711);
beforeAll(() => ensureSandboxImages(), 600_000);
afterAll(() => rmSync(baseDir, { recursive: true, force: true }));

async function until<T>(fn: () => Promise<T | null | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(50);
  }
}

describeEachDb("harness.run job", (db) => {
  let queue: JobQueue;
  let job: ReturnType<typeof defineHarnessJob>;
  const tokens: string[] = [];
  let admin: NonNullable<ReturnType<NonNullable<HarnessJobDeps["defaults"]>>> = {};
  const setup = () => {
    if (queue) return;
    queue = createJobQueue(db(), { pollIntervalMs: 50 });
    job = defineHarnessJob(queue, {
      backend: new DockerBackend(),
      baseDir,
      defaults: () => admin,
      fatal: FatalJobError,
      token: async (p) => {
        tokens.push(p.repo);
        return undefined;
      },
    });
    queue.start();
  };
  afterAll(() => queue?.stop(5000));

  test("runs the harness and records progress, log lines and the digest", async () => {
    setup();
    const repo = passing();
    const live: { jobId: string; line: string }[] = [];
    const unsubscribe = queue.subscribe("*", (e) => {
      if (e.type === "log") live.push({ jobId: e.jobId, line: e.line });
    });
    const { id } = await job.enqueue(
      { repo: repo.path, ref: repo.sha, egressAllow: [] },
      { key: `harness:${repo.sha}` },
    );
    const done = await until(async () => {
      const j = await queue.get<unknown, HarnessJobResult>(id);
      return j && ["completed", "dead", "failed"].includes(j.state) ? j : null;
    });
    expect(done.state).toBe("completed");
    expect(done.result?.result).toBe("PASSED");
    expect(done.result?.reportHash).toMatch(/^0x[0-9a-f]{64}$/);
    expect(tokens).toEqual([repo.path]);
    const events = await queue.events(id);
    const progress = events.filter((e) => e.type === "progress").map((e) => (e.type === "progress" ? e.pct : -1));
    expect(progress[0]).toBe(0);
    expect(progress.at(-1)).toBe(100);
    expect(events.some((e) => e.type === "log" && e.line.includes("(pass) adds"))).toBe(true);
    expect(live.some((l) => l.jobId === id && l.line.includes("(pass) adds"))).toBe(true);
    unsubscribe();
  });

  test("an unknown commit fails at once, without retries", async () => {
    setup();
    const { id } = await job.enqueue({ repo: passing().path, ref: "0".repeat(40), egressAllow: [] });
    const done = await until(async () => {
      const j = await queue.get(id);
      return j && ["completed", "dead"].includes(j.state) ? j : null;
    });
    expect(done.state).toBe("dead");
    expect(done.attempts).toBe(1);
  });
  const finished = (id: string) =>
    until(async () => {
      const j = await queue.get<unknown, HarnessJobResult>(id);
      return j && ["completed", "dead"].includes(j.state) ? j : null;
    });

  test("a job's limits may narrow the admin's, never widen them", async () => {
    setup();
    admin = { limits: { timeoutMs: 2000 } };
    try {
      const repo = passing();
      const { id } = await job.enqueue({
        repo: repo.path,
        ref: repo.sha,
        testCommand: "sleep 6",
        limits: { timeoutMs: 600_000 },
        egressAllow: [],
      });
      const done = await finished(id);
      expect(done.state).toBe("completed");
      expect(done.result?.result).toBe("FAILED");
      expect(done.result?.digest.steps).toMatchObject([{ name: "test", status: "TIMEOUT" }]);
    } finally {
      admin = {};
    }
  });

  test("a job's egress allow-list is held within the admin's", async () => {
    setup();
    admin = { egressAllow: ["registry.npmjs.org"] };
    try {
      const repo = passing();
      const { id } = await job.enqueue({
        repo: repo.path,
        ref: repo.sha,
        installCommand: `bun -e 'for (const u of ["https://evil.example/", "https://www.evil.example/"]) await fetch(u, { signal: AbortSignal.timeout(5000) }).catch(() => {})'`,
        egressAllow: ["registry.npmjs.org", "evil.example", "*.evil.example"],
      });
      const done = await finished(id);
      expect(done.state).toBe("completed");
      const lines = (await queue.events(id)).flatMap((e) => (e.type === "log" ? [e.line] : []));
      expect(lines.some((l) => l.includes("egress refused: evil.example:443"))).toBe(true);
      expect(lines.some((l) => l.includes("egress refused: www.evil.example:443"))).toBe(true);
    } finally {
      admin = {};
    }
  });
});
