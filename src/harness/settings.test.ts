// The admin's sandbox settings reach the harness job as the appliance defines it at boot: a step limit set on the
// settings page ends an endless test with TIMEOUT, and a job's own limits still win over the settings.
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { hostile } from "../../test/fixtures/hostile/repos";
import { createTestApp, type TestApp } from "../../test/support/app";
import { ensureSandboxImages } from "../../test/support/docker";
import type { HarnessJobPayload, HarnessJobResult } from "./jobs";
import { HARNESS_JOB } from "./jobs";

setDefaultTimeout(120_000);
let t: TestApp;
beforeAll(async () => {
  await ensureSandboxImages();
  t = await createTestApp("pglite", { DEVSPONSOR_SANDBOX_BACKEND: "docker" });
  await t.ctx.settings.update({ "sandbox.timeoutSeconds": 5, "sandbox.backend": "docker" }, null);
  t.ctx.jobs.start();
}, 600_000);
afterAll(async () => {
  await t.ctx.jobs.stop();
  await t.close();
});

async function runJob(payload: HarnessJobPayload) {
  const { id } = await t.ctx.jobs.enqueue(HARNESS_JOB, payload);
  for (let i = 0; i < 1200; i++) {
    const job = await t.ctx.jobs.get<HarnessJobPayload, HarnessJobResult>(id);
    if (job && ["completed", "dead"].includes(job.state)) return job;
    await Bun.sleep(100);
  }
  throw new Error("the harness job did not finish");
}

test("sandbox.timeoutSeconds from the settings ends an endless test with TIMEOUT", async () => {
  const repo = hostile.endlessLoop();
  const t0 = performance.now();
  const job = await runJob({ repo: repo.path, ref: repo.sha, egressAllow: [] });
  expect(job.state).toBe("completed");
  expect(job.result?.result).toBe("FAILED");
  expect(job.result?.digest.steps[0]?.status).toBe("TIMEOUT");
  expect(performance.now() - t0).toBeLessThan(60_000); // the default is 10 minutes
  expect(job.result?.digest.environment.backend).toBe("docker"); // sandbox.backend from the settings
});

test("a job's own limits win over the settings", async () => {
  const repo = hostile.endlessLoop();
  const job = await runJob({ repo: repo.path, ref: repo.sha, egressAllow: [], limits: { timeoutMs: 1_000 } });
  expect(job.result?.digest.steps[0]?.status).toBe("TIMEOUT");
  expect(job.result!.durationMs).toBeLessThan(30_000);
});
