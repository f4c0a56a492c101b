import { afterEach, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import { ensureSandboxImages } from "../../test/support/docker";
import { checkSandbox } from "./doctor";

setDefaultTimeout(30_000);
beforeAll(() => ensureSandboxImages(), 600_000);

const saved = process.env.DOCKER_HOST;
afterEach(() => {
  if (saved === undefined) delete process.env.DOCKER_HOST;
  else process.env.DOCKER_HOST = saved;
  delete process.env.DEVSPONSOR_SANDBOX_HARNESS_IMAGE;
});

test("Docker with the images built: ok, naming both images", async () => {
  const r = await checkSandbox();
  expect(r.ok).toBe(true);
  expect(r.detail).toContain("Docker");
  expect(r.detail).toContain("devsponsor/sandbox-harness:current");
  expect(r.detail).toContain("devsponsor/sandbox-prover:current");
});

test("Docker without the image: not ok, and the fix builds it", async () => {
  process.env.DEVSPONSOR_SANDBOX_HARNESS_IMAGE = "devsponsor/sandbox-harness:missing";
  const r = await checkSandbox();
  expect(r.ok).toBe(false);
  expect(r.fix).toContain("scripts/build-sandbox-images");
});

test("no Docker engine: falls back to bubblewrap and says how to get Docker", async () => {
  process.env.DOCKER_HOST = "unix:///nonexistent/docker.sock";
  const r = await checkSandbox();
  expect(r.ok).toBe(true);
  expect(r.detail).toContain("bubblewrap");
  expect(r.detail).not.toContain("not enforced");
});
