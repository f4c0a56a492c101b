// Pinned acceptance tests in real harness runs (Docker): hidden bundles over the checkout, the rule with named
// tests, regressions against the base, results a step prints on stdout, and the bundle reader's refusals.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import * as tar from "tar";
import { AppError } from "../core/errors";
import { DockerBackend } from "../sandbox/docker";
import { ensureSandboxImages } from "../../test/support/docker";
import { bunRepo, makeRepo } from "../../test/fixtures/hostile/repos";
import { missingPinned, readBundle, writePinnedFiles } from "./acceptance";
import { runHarness } from "./run";

const baseDir = mkdtempSync(join(tmpdir(), "devsponsor-acceptance-test-"));
chmodSync(baseDir, 0o711);
setDefaultTimeout(90_000);
beforeAll(() => ensureSandboxImages(), 600_000);
afterAll(() => rmSync(baseDir, { recursive: true, force: true }));

/** A tar archive of `files` (a value starting with "->" is a symlink to the rest). */
function makeTar(files: Record<string, string>): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "bundle-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    if (content.startsWith("->")) symlinkSync(content.slice(2), join(dir, name));
    else writeFileSync(join(dir, name), content);
  }
  const out = join(dir, "..", `${dir.split("/").at(-1)}.tar`);
  tar.create({ cwd: dir, file: out, sync: true, portable: true }, Object.keys(files));
  const bytes = new Uint8Array(readFileSync(out));
  rmSync(dir, { recursive: true, force: true });
  rmSync(out, { force: true });
  return bytes;
}

const CALC = "export const mul = (a: number, b: number) => a * b;\n";
const HIDDEN = `import { expect, test } from "bun:test";\nimport { mul } from "../calc";\ntest("multiplies", () => expect(mul(2, 3)).toBe(6));\n`;

describe("the bundle reader", () => {
  test("reads plain files; refuses links and paths that leave the checkout", async () => {
    const files = await readBundle(makeTar({ "hidden/a.test.ts": "x", "b.test.ts": "y" }));
    expect([...files.keys()].sort()).toEqual(["b.test.ts", "hidden/a.test.ts"]);
    const refused = await readBundle(makeTar({ "a.test.ts": "->/etc/passwd" })).catch((e) => e);
    expect(refused).toBeInstanceOf(AppError);
    expect((refused as AppError).code).toBe("INVALID_TEST_BUNDLE");
  });

  test("named test files and directories the pin does not hold are listed", () => {
    const pinned = new Map([
      ["test/a.test.ts", 1],
      ["spec/unit/b.py", 1],
    ]);
    expect(missingPinned(["test/a.test.ts", "spec/", "spec/unit", "spe", "test/c.test.ts"], pinned)).toEqual([
      "spe",
      "test/c.test.ts",
    ]);
  });

  test("pinned files replace symlinks the checkout holds, never writing through them", () => {
    const src = mkdtempSync(join(tmpdir(), "pin-"));
    const outside = mkdtempSync(join(tmpdir(), "outside-"));
    symlinkSync(outside, join(src, "tests"));
    symlinkSync(join(outside, "target"), join(src, "a.test.ts"));
    writePinnedFiles(
      src,
      new Map([
        ["tests/x.test.ts", Buffer.from("pinned x")],
        ["a.test.ts", Buffer.from("pinned a")],
      ]),
    );
    expect(readFileSync(join(src, "tests/x.test.ts"), "utf8")).toBe("pinned x");
    expect(readFileSync(join(src, "a.test.ts"), "utf8")).toBe("pinned a");
    expect(() => readFileSync(join(outside, "x.test.ts"))).toThrow();
    expect(() => readFileSync(join(outside, "target"))).toThrow();
  });
});

describe("acceptance runs (Docker)", () => {
  const backend = new DockerBackend();
  const run = (repo: string, ref: string, extra: Partial<Parameters<typeof runHarness>[0]>) =>
    runHarness({ repo, ref, backend, baseDir, egressAllow: [], testCommand: "bun test", ...extra });

  test("a hidden bundle's tests run over the checkout; a named test that did not run is missing", async () => {
    const repo = bunRepo({
      "calc.ts": CALC,
      "own.test.ts": `import { test } from "bun:test";\ntest("own", () => {});\n`,
    });
    const bundle = makeTar({ "hidden/mul.test.ts": HIDDEN });
    const named = "test > hidden/mul.test.ts > multiplies";
    const ok = await run(repo.path, repo.sha, {
      acceptance: { named: [named], testFiles: [], pin: { kind: "bundle", tar: bundle } },
    });
    expect(ok.result).toBe("PASSED");
    expect(ok.digest.acceptance?.named).toEqual([{ id: named, status: "passed" }]);
    const missing = await run(repo.path, repo.sha, {
      acceptance: {
        named: [named, "test > hidden/mul.test.ts > divides"],
        testFiles: [],
        pin: { kind: "bundle", tar: bundle },
      },
    });
    expect(missing.result).toBe("FAILED");
    expect(missing.digest.acceptance?.named).toEqual([
      { id: named, status: "passed" },
      { id: "test > hidden/mul.test.ts > divides", status: "missing" },
    ]);
    expect(missing.reason).toContain("Acceptance test missing: test > hidden/mul.test.ts > divides");
  });

  test("a test that passed at the base and fails now fails the rule, even with the named test passing", async () => {
    const repo = bunRepo({
      "calc.ts": CALC,
      "calc.test.ts": `import { expect, test } from "bun:test";\nimport { mul } from "./calc";\ntest("multiplies", () => expect(mul(2, 3)).toBe(6));\n`,
      "other.test.ts": `import { expect, test } from "bun:test";\ntest("stays", () => expect(1).toBe(1));\n`,
    });
    const base = await run(repo.path, repo.sha, { acceptance: { named: [], testFiles: [], pin: null } });
    const broken = makeRepo(
      { "other.test.ts": `import { expect, test } from "bun:test";\ntest("stays", () => expect(1).toBe(2));\n` },
      repo.path,
    );
    const r = await run(repo.path, broken.sha, {
      acceptance: {
        named: ["test > calc.test.ts > multiplies"],
        testFiles: ["calc.test.ts"],
        pin: { kind: "commit", commit: repo.sha },
      },
      baseTests: base.tests,
    });
    expect(r.result).toBe("FAILED");
    expect(r.digest.acceptance?.newFailures).toEqual(["test", "test > other.test.ts > stays"]);
    expect(r.digest.merkle.newFailures).toBe(2);
    expect(r.baseCommit).toBe(repo.sha);
  });

  test("a named test file the pinned commit lacks is refused: the work cannot write the tests it is judged by", async () => {
    const repo = bunRepo({ "calc.ts": CALC });
    const work = makeRepo(
      { "feature.test.ts": `import { test } from "bun:test";\ntest("multiplies", () => {});\n` },
      repo.path,
    );
    const r = await run(repo.path, work.sha, {
      acceptance: {
        named: ["test > feature.test.ts > multiplies"],
        testFiles: ["feature.test.ts"],
        pin: { kind: "commit", commit: repo.sha },
      },
    });
    expect(r.result).toBe("FAILED");
    expect(r.steps).toEqual([]);
    expect(r.reason).toContain("feature.test.ts are not in the pinned commit or bundle");
    expect(r.digest.acceptance?.protectedChanges.map((c) => c.path)).toEqual(["feature.test.ts"]);
  });

  test("runner config a run writes is gone before the next run: no late preload", async () => {
    const repo = bunRepo({
      "patch.ts": "(globalThis as any).patched = true;\n",
      "target.test.ts": `import { expect, test } from "bun:test";\ntest("target", () => expect((globalThis as any).patched).toBe(true));\n`,
      "writer.test.ts": `import { test } from "bun:test";\nimport { writeFileSync } from "node:fs";\ntest("writer", () => writeFileSync("/work/src/bunfig.toml", '[test]\\npreload = ["./patch.ts"]\\n'));\n`,
    });
    const r = await run(repo.path, repo.sha, {
      repeat: 2,
      acceptance: {
        named: ["test > target.test.ts > target"],
        testFiles: [],
        pin: { kind: "commit", commit: repo.sha },
      },
    });
    expect(r.digest.flaky).toEqual([]);
    expect(r.digest.acceptance?.named).toEqual([{ id: "test > target.test.ts > target", status: "failed" }]);
    expect(r.result).toBe("FAILED");
  });

  test("TAP on stdout is not read for acceptance tests: the named test is missing", async () => {
    const repo = makeRepo({
      "package.json": JSON.stringify({ name: "fixture", version: "1.0.0", scripts: { test: "node tap.js" } }),
      "tap.js": `console.log("TAP version 13\\n1..1\\nok 1 - ok");\n`,
    });
    const r = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      egressAllow: [],
      acceptance: { named: ["test > ok"], testFiles: [], pin: null },
    });
    expect(r.result).toBe("FAILED");
    expect(r.steps[0]!.tests).toEqual([]);
    expect(r.steps[0]!.message).toContain("TAP on stdout is not read");
    expect(r.reason).toContain("TAP on stdout is not read");
    expect(r.digest.acceptance?.named).toEqual([{ id: "test > ok", status: "missing" }]);
  });

  test("node --test writes TAP to the secret results dir: read for acceptance tests, and fake lines on stdout are not", async () => {
    const repo = makeRepo({
      "package.json": JSON.stringify({ name: "fixture", version: "1.0.0", scripts: { test: "node --test" } }),
      "test/a.test.mjs": `import test from "node:test";
import assert from "node:assert";
test("ok", () => {});
test("fails", () => {
  console.log("TAP version 13\\n1..1\\nok 1 - fails");
  assert.equal(1, 2);
});
`,
    });
    const r = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      egressAllow: [],
      acceptance: { named: ["test > ok", "test > fails"], testFiles: [], pin: null },
    });
    expect(r.steps[0]!.results).toBe("tap");
    expect(r.steps[0]!.tests).toEqual([
      { id: "ok", status: "passed" },
      { id: "fails", status: "failed" },
    ]);
    expect(r.digest.acceptance?.named).toEqual([
      { id: "test > ok", status: "passed" },
      { id: "test > fails", status: "failed" },
    ]);
    expect(r.result).toBe("FAILED");
  });
});
