// Harness runs on real repositories made by the tests, in real sandboxes (Docker and bubblewrap).
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AppError } from "../core/errors";
import { BwrapBackend } from "../sandbox/bwrap";
import { DockerBackend } from "../sandbox/docker";
import type { SandboxBackend } from "../sandbox/types";
import { ensureSandboxImages } from "../../test/support/docker";
import { bunRepo, failing, flaky, makeRepo, passing, withDependency } from "../../test/fixtures/hostile/repos";
import { harnessCommand } from "./cli";
import { canonicalJson, reportHash } from "./digest";
import { runHarness } from "./run";

const baseDir = mkdtempSync(join(tmpdir(), "devsponsor-harness-test-"));
chmodSync(baseDir, 0o711);

// Real containers: some cases take a few seconds (npm, fork bombs, memory limits).
setDefaultTimeout(60_000);
beforeAll(() => ensureSandboxImages(), 600_000);
afterAll(() => rmSync(baseDir, { recursive: true, force: true }));

const backends: [string, () => SandboxBackend][] = [
  ["docker", () => new DockerBackend()],
  ["bwrap", () => new BwrapBackend()],
];

describe.each(backends)("%s backend", (_name, make) => {
  const backend = make();
  const run = (repo: string, ref: string, extra: Partial<Parameters<typeof runHarness>[0]> = {}) =>
    runHarness({ repo, ref, backend, baseDir, egressAllow: [], ...extra });

  test("a passing repository: PASSED, per-test leaves, commit metadata, image digest", async () => {
    const repo = passing();
    const progress: number[] = [];
    const lines: string[] = [];
    const r = await run(repo.path, repo.sha, { onProgress: (p) => progress.push(p), onLog: (l) => lines.push(l) });
    expect(r.result).toBe("PASSED");
    // A step that ended OK gives no leaf of its own: only tests pass.
    expect(r.digest.tests).toEqual([
      { id: "test > math.test.ts > adds", passed: true },
      { id: "test > math.test.ts > runs in UTC", passed: true },
    ]);
    expect(r.digest.repository).toMatchObject({
      commit: repo.sha,
      author: { name: "Test Author", email: "author@example.test", time: 1767323045 },
      subject: "initial",
    });
    expect(r.digest.repository.tree).toMatch(/^[0-9a-f]{40}$/);
    expect(r.digest.environment).toMatchObject({
      backend: backend.kind,
      imageDigest: r.image.digest,
      sourceDateEpoch: 1767323045,
    });
    expect(r.digest.environment.tools.bun).toBe(Bun.version);
    expect(r.digest.merkle).toMatchObject({ testCount: 2, passedCount: 2, failedCount: 0, newFailures: 0 });
    expect(r.reportHash).toBe(reportHash(r.digest));
    expect(progress.at(0)).toBe(0);
    expect(progress.at(-1)).toBe(100);
    expect(lines.some((l) => l.includes("(pass) adds"))).toBe(true);
    expect(readFileSync(r.logFile, "utf8")).toContain("(pass) adds");
  });

  test("a failing repository: FAILED with the failing test as a failed leaf", async () => {
    const repo = failing();
    const r = await run(repo.path, "main");
    expect(r.result).toBe("FAILED");
    expect(r.steps[0]).toMatchObject({ status: "FAILED", passed: 1, failed: 1 });
    expect(r.digest.tests).toContainEqual({ id: "test > math.test.ts > is wrong", passed: false });
    expect(r.digest.tests).toContainEqual({ id: "test", passed: false });
  });

  test("two runs of one commit give the same digest; another commit does not", async () => {
    const repo = passing();
    const a = await run(repo.path, repo.sha);
    const b = await run(repo.path, repo.sha);
    expect(canonicalJson(b.digest)).toBe(canonicalJson(a.digest));
    expect(b.reportHash).toBe(a.reportHash);
    const next = makeRepo({ "README.md": "changed\n" }, repo.path);
    const c = await run(repo.path, next.sha);
    expect(c.digest.repository.tree).not.toBe(a.digest.repository.tree);
    expect(c.reportHash).not.toBe(a.reportHash);
    expect(c.digest.merkle.root).toBe(a.digest.merkle.root);
  });

  test("a flaky test is reported when the project asks for two runs", async () => {
    const repo = flaky();
    const r = await run(repo.path, repo.sha, { repeat: 2, keepWorkDir: false });
    expect(r.result).toBe("FLAKY");
    expect(r.digest.flaky).toEqual(["test", "test > flaky.test.ts > first time only"]);
  });

  test("configured checks run after the tests and gate the result", async () => {
    const repo = passing();
    const r = await run(repo.path, repo.sha, {
      steps: [
        { name: "style", kind: "lint", run: "test -f math.test.ts", results: "exit" },
        { name: "acceptance", kind: "acceptance", run: "grep -q 'no such text' math.test.ts", results: "exit" },
      ],
    });
    expect(r.steps.map((s) => [s.name, s.status])).toEqual([
      ["test", "OK"],
      ["style", "OK"],
      ["acceptance", "FAILED"],
    ]);
    expect(r.result).toBe("FAILED");
  });
});

describe("dependencies and ecosystems (Docker)", () => {
  const backend = new DockerBackend();

  test("installs from the lockfile through the allow-list, then reruns offline from the cache", async () => {
    const repo = withDependency();
    const first = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      egressAllow: ["registry.npmjs.org"],
    });
    expect(first.cache).toBe("miss");
    expect(first.install?.status).toBe("OK");
    expect(first.egress).toContainEqual({ host: "registry.npmjs.org", port: 443, allowed: true });
    expect(first.result).toBe("PASSED");
    const second = await runHarness({ repo: repo.path, ref: repo.sha, backend, baseDir, egressAllow: [] });
    expect(second.cache).toBe("hit");
    expect(second.result).toBe("PASSED");
    expect(second.reportHash).toBe(first.reportHash);
  });

  test("a pull request that adds a package-manager config does not get another's cached install", async () => {
    const repo = withDependency();
    const first = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      project: "poison",
      egressAllow: ["registry.npmjs.org"],
    });
    expect(first.cache).toBe("miss");
    const withConfig = makeRepo({ ".npmrc": "registry=https://registry.evil.example/\n" }, repo.path);
    const second = await runHarness({
      repo: repo.path,
      ref: withConfig.sha,
      backend,
      baseDir,
      project: "poison",
      egressAllow: [],
    });
    expect(second.cache).toBe("miss");
    expect(second.digest.dependencies?.lockfileHash).not.toBe(first.digest.dependencies?.lockfileHash);
  });

  test("a name reported twice is one test that fails when either fails: a passing twin hides nothing", async () => {
    const repo = bunRepo({
      "twice.test.ts": `import { expect, test } from "bun:test";\ntest("same", () => expect(1).toBe(1));\ntest("same", () => expect(1).toBe(2));\ntest("other", () => expect(1).toBe(1));\n`,
    });
    const r = await runHarness({ repo: repo.path, ref: repo.sha, backend, baseDir, egressAllow: [] });
    expect(r.result).toBe("FAILED");
    expect(r.digest.tests).toEqual([
      { id: "test", passed: false },
      { id: "test > twice.test.ts > other", passed: true },
      { id: "test > twice.test.ts > same", passed: false },
    ]);
    expect(r.steps[0]).toMatchObject({ passed: 1, failed: 1 });
    expect(r.steps[0]!.message).toContain('reported more than once ("twice.test.ts > same")');
  });

  test("a step named with path parts is refused before anything runs", async () => {
    const repo = passing();
    const err = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      egressAllow: [],
      steps: [{ name: "../../escape", kind: "lint", run: "true", results: "exit" }],
    }).catch((e: unknown) => e);
    expect((err as AppError).code).toBe("INVALID_INPUT");
  });

  test("without the registry on the allow-list the install fails and nothing is paid", async () => {
    const repo = withDependency();
    const r = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      project: "other",
      egressAllow: ["pypi.org"],
    });
    expect(r.result).toBe("FAILED");
    expect(r.steps).toMatchObject([{ name: "install", status: "FAILED" }]);
    expect(r.egress).toContainEqual({ host: "registry.npmjs.org", port: 443, allowed: false });
  });

  test("npm project: node --test TAP output is parsed per test", async () => {
    const repo = makeRepo({
      "package.json": JSON.stringify({ name: "fixture", version: "1.0.0", scripts: { test: "node --test" } }),
      "package-lock.json": JSON.stringify({
        name: "fixture",
        version: "1.0.0",
        lockfileVersion: 3,
        requires: true,
        packages: { "": { name: "fixture", version: "1.0.0" } },
      }),
      "test/a.test.mjs": `import test from "node:test";\nimport assert from "node:assert";\ntest("suite", async (t) => { await t.test("ok", () => {}); await t.test("bad", () => assert.equal(1, 2)); });\n`,
    });
    const r = await runHarness({ repo: repo.path, ref: repo.sha, backend, baseDir, egressAllow: [] });
    expect(r.digest.tests.filter((t) => t.id !== "test")).toEqual([
      { id: "test > suite > bad", passed: false },
      { id: "test > suite > ok", passed: true },
    ]);
  });

  test("python project: pytest JUnit report", async () => {
    const repo = makeRepo({
      "pyproject.toml": '[project]\nname = "fixture"\nversion = "0.1.0"\n',
      "tests/test_math.py":
        "def test_adds():\n    assert 1 + 1 == 2\n\ndef test_hash_seed_fixed():\n    assert hash('a') == hash('a')\n",
    });
    const r = await runHarness({ repo: repo.path, ref: repo.sha, backend, baseDir, egressAllow: [] });
    expect(r.result).toBe("PASSED");
    expect(r.digest.tests.map((t) => t.id)).toEqual([
      "test > tests.test_math > test_adds",
      "test > tests.test_math > test_hash_seed_fixed",
    ]);
  });

  test("every test is its own leaf, however many", async () => {
    const files: Record<string, string> = {};
    for (let f = 0; f < 10; f++) {
      files[`t${f}.test.ts`] =
        `import { test } from "bun:test";\n${Array.from({ length: 10 }, (_, i) => `test("case ${i}", () => {});`).join("\n")}\n`;
    }
    const r = await runHarness({ repo: bunRepo(files).path, ref: "main", backend, baseDir, egressAllow: [] });
    expect(r.steps[0]?.passed).toBe(100);
    expect(r.digest.merkle).toMatchObject({ testCount: 100, passedCount: 100 });
    expect(r.digest.tests).toHaveLength(100);
    expect(r.result).toBe("PASSED");
  });

  test("a token for the remote never reaches the sandbox", async () => {
    const repo = bunRepo({
      "env.test.ts": `import { test, expect } from "bun:test";\nimport { readFileSync } from "node:fs";\ntest("no token", () => { expect(JSON.stringify(process.env)).not.toContain("tok-"); expect(readFileSync("/work/src/.git/config", "utf8")).not.toContain("tok-"); });\n`,
    });
    const r = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      egressAllow: [],
      token: "tok-very-secret",
    });
    expect(r.result).toBe("PASSED");
    expect(readFileSync(r.logFile, "utf8")).not.toContain("tok-very-secret");
  });
});

describe("CLI exit codes", () => {
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const log = console.log;
    const err = console.error;
    console.log = (s: string) => out.push(s);
    console.error = () => {};
    process.env.DEVSPONSOR_HARNESS_DIR = baseDir;
    try {
      const code = await harnessCommand(["run", ...args, "--allow-egress", ""]);
      return { code, out: out.join("\n") };
    } finally {
      console.log = log;
      console.error = err;
      delete process.env.DEVSPONSOR_HARNESS_DIR;
    }
  };

  test("0 when all checks pass, with the digest as JSON", async () => {
    const repo = passing();
    const { code, out } = await cli("--repo", repo.path, "--ref", repo.sha, "--json");
    expect(code).toBe(0);
    const parsed = JSON.parse(out);
    expect(parsed.digest.result).toBe("PASSED");
    expect(parsed.reportHash).toMatch(/^0x[0-9a-f]{64}$/);
  });

  test("1 when a check fails", async () => {
    const repo = failing();
    expect((await cli("--repo", repo.path, "--ref", "main")).code).toBe(1);
  });

  test("1 when a configured test command fails; 0 when it passes", async () => {
    const repo = passing();
    expect((await cli("--repo", repo.path, "--ref", "main", "--test-command", "exit 4")).code).toBe(1);
    expect((await cli("--repo", repo.path, "--ref", "main", "--test-command", "bun test")).code).toBe(0);
  });

  test("2 on errors: unknown ref, bad path, missing arguments", async () => {
    const repo = passing();
    expect((await cli("--repo", repo.path, "--ref", "0".repeat(40))).code).toBe(2);
    expect((await cli("--repo", "/nonexistent/repo", "--ref", "main")).code).toBe(2);
    expect((await cli("--repo", repo.path)).code).toBe(2);
  });
});
