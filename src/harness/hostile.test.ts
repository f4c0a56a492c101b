// Hostile repositories (made by the tests) run through the whole harness on each backend: every attack is
// contained, reported with a clear status, and the host and the next run stay healthy.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostile, passing } from "../../test/fixtures/hostile/repos";
import { ensureSandboxImages } from "../../test/support/docker";
import { BwrapBackend } from "../sandbox/bwrap";
import { DockerBackend } from "../sandbox/docker";
import type { SandboxBackend } from "../sandbox/types";
import { canonicalJson as canonical } from "./digest";
import { type HarnessRunOptions, runHarness } from "./run";

const baseDir = mkdtempSync(join(tmpdir(), "devsponsor-hostile-test-"));
chmodSync(baseDir, 0o711);
// Stands for the appliance's data dir: nothing in it may leak into a run.
const dataDir = join(baseDir, "appliance-data");
mkdirSync(dataDir);
writeFileSync(join(dataDir, "master.key"), "appliance-master-key-material");

setDefaultTimeout(60_000);
beforeAll(() => ensureSandboxImages(), 600_000);
afterAll(() => rmSync(baseDir, { recursive: true, force: true }));

const fileStarted = Date.now() - 1000;
const limits = { timeoutMs: 8_000, memoryMb: 256, pids: 64, outputBytes: 1 << 20 };

const backends: [string, () => SandboxBackend][] = [
  ["docker", () => new DockerBackend()],
  ["bwrap", () => new BwrapBackend()],
];

describe.each(backends)("%s backend", (_name, make) => {
  const backend = make();
  const run = async (repo: { path: string; sha: string }, extra: Partial<HarnessRunOptions> = {}) => {
    const r = await runHarness({ repo: repo.path, ref: repo.sha, backend, baseDir, egressAllow: [], limits, ...extra });
    return { ...r, log: readFileSync(r.logFile, "utf8") };
  };

  test("a fork bomb is contained and the next run is healthy", async () => {
    const r = await run(hostile.forkBomb());
    // Contained: the run ends by itself (whether the runner survives the pids limit or not) before the time limit.
    expect(r.steps[0]!.status).not.toBe("TIMEOUT");
    expect((await run(passing())).result).toBe("PASSED");
  });

  test("a memory hog ends with OOM", async () => {
    const r = await run(hostile.memoryHog());
    expect(r.steps[0]!.status).toBe("OOM");
    expect(r.result).toBe("FAILED");
  });

  test("an endless loop ends with TIMEOUT", async () => {
    const r = await run(hostile.endlessLoop(), { limits: { ...limits, timeoutMs: 2_000 } });
    expect(r.steps[0]!.status).toBe("TIMEOUT");
    expect(r.steps[0]!.durationMs).toBeLessThan(6_000);
  });

  test("a test that reaches for the network gets nothing", async () => {
    const r = await run(hostile.network());
    expect(r.log).not.toContain("REACHED");
    expect(r.egress).toEqual([]);
  });

  test("a test that reads /etc/shadow, the appliance's data dir or the environment finds nothing", async () => {
    process.env.DEVSPONSOR_MASTER_KEY = "host-env-master-key";
    try {
      const r = await run(hostile.readSecrets([join(dataDir, "master.key"), dataDir, join(baseDir, "cache")]));
      expect(r.log).toContain("ENV {");
      expect(r.log).not.toContain("LEAKED");
      expect(r.log).not.toContain("LISTED");
      expect(r.log).not.toContain("appliance-master-key-material");
      expect(r.log).not.toContain("host-env-master-key");
    } finally {
      delete process.env.DEVSPONSOR_MASTER_KEY;
    }
  });

  test("a test that writes outside the work dir changes nothing on the host", async () => {
    const target = join(baseDir, `pwned-${backend.kind}`);
    const r = await run(hostile.writeOutside(target));
    expect(r.log).not.toContain("WROTE");
    expect(existsSync(target)).toBe(false);
  });

  test("a test that prints gigabytes ends with OUTPUT_LIMIT and a bounded log", async () => {
    const r = await run(hostile.printsGigabytes());
    expect(r.steps[0]!.status).toBe("OUTPUT_LIMIT");
    expect(r.steps[0]!.durationMs).toBeLessThan(8_000);
    expect(statSync(r.logFile).size).toBeLessThan(2 << 20);
  });

  test("an install script that tries to escape is contained", async () => {
    const target = join(baseDir, `pwned-install-${backend.kind}`);
    const r = await run(hostile.installEscape(target), { egressAllow: ["registry.npmjs.org"] });
    expect(r.install?.status).toBe("OK");
    expect(r.egress).toContainEqual({ host: "example.com", port: 443, allowed: false });
    // The script's own text is echoed into the log: look for its outputs, at the start of a line.
    expect(r.log).toContain("$ bun -e");
    expect(r.log).not.toMatch(/^(REACHED|WROTE|LEAKED|root:)/m);
    expect(existsSync(target)).toBe(false);
    expect(r.result).toBe("PASSED");
  });
  test("an install that swaps the checkout for a symlink to / fails and caches nothing of the host", async () => {
    const r = await run(hostile.swapCheckout(), { egressAllow: ["registry.npmjs.org"] });
    expect(r.result).toBe("FAILED");
    expect(r.steps.map((s) => s.name)).toEqual(["install"]);
    expect(r.cache).toBe("miss");
    const archives = Array.from(new Bun.Glob("**/*.tar").scanSync({ cwd: join(baseDir, "cache"), onlyFiles: true }));
    for (const a of archives) {
      const list = Bun.spawnSync(["tar", "-tf", join(baseDir, "cache", a)]).stdout.toString();
      expect(list).not.toMatch(/^src\/(etc|root|proc)\b/m);
    }
  });

  test("a report left as a symlink to a host file is not read", async () => {
    const hostReport = join(dataDir, "planted.xml");
    writeFileSync(hostReport, '<testsuite name="s"><testcase classname="leak" name="host-secret-report"/></testsuite>');
    const r = await run(hostile.reportSymlink(hostReport), { testCommand: "bun test" });
    expect(canonical(r.digest)).not.toContain("host-secret-report");
    expect(r.result).toBe("PASSED");
  });
});

test("no sandbox container is left behind", async () => {
  const docker = new DockerBackend().docker;
  const left = await docker.listContainers({ all: true, filters: { label: ["org.devsponsor.sandbox=1"] } });
  expect(left.filter((c) => c.Created * 1000 >= fileStarted)).toEqual([]);
});
