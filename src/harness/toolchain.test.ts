// Toolchain selection: the version files parsed, ranges resolved against what an image has, and real harness runs
// in both sandboxes on repositories made here that ask for a Node or Python version.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { makeRepo } from "../../test/fixtures/hostile/repos";
import { ensureSandboxImages } from "../../test/support/docker";
import { AppError } from "../core/errors";
import { BwrapBackend } from "../sandbox/bwrap";
import { DockerBackend } from "../sandbox/docker";
import type { SandboxBackend } from "../sandbox/types";
import { detectPlan } from "./detect";
import { runHarness } from "./run";
import {
  availableVersions,
  parseGoMod,
  parseNodeSpec,
  parsePackageManager,
  parsePythonSpec,
  parseRustToolchain,
  readToolRequests,
  resolveVersion,
  selectToolchain,
  type ToolRequest,
} from "./toolchain";

/** Tools as an image built by scripts/build-sandbox-images lists them (tools.env). */
const TOOLS: Record<string, string> = {
  bun: "1.4.5",
  node: "18.20.4",
  "node.versions": "18.20.4,20.20.2,22.23.5,24.22.3",
  npm: "10.9.9",
  pnpm: "10.34.9",
  yarn: "1.22.22",
  python: "3.11.2",
  "python.versions": "3.11.2",
  go: "1.24.4",
  "go.versions": "1.24.4",
  rust: "1.96.0",
  "rust.versions": "1.96.0",
};
const NODES = availableVersions(TOOLS, "node");

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "toolchain-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(d, name)), { recursive: true });
    writeFileSync(join(d, name), content);
  }
  return d;
}

const node = (spec: string): ToolRequest => {
  const parsed = parseNodeSpec(spec);
  if (!parsed) throw new Error(`unreadable: ${spec}`);
  return { tool: "node", source: ".nvmrc", spec, ...parsed };
};

/** The error a call throws (fails the test when it returns). */
function thrown(fn: () => unknown): AppError {
  try {
    fn();
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("expected an AppError");
}

describe("Node versions", () => {
  test.each([
    ["22", "22.23.5"],
    ["v22", "22.23.5"],
    ["22.x", "22.23.5"],
    ["v22.12.0", "22.23.5"],
    ["20.20.2", "20.20.2"],
    [">=22.12.0", "24.22.3"],
    ["^20", "20.20.2"],
    [">=18 <21", "20.20.2"],
    ["lts/*", "24.22.3"],
    ["lts/iron", "20.20.2"],
    ["lts/hydrogen", "18.20.4"],
    ["node", "24.22.3"],
    ["stable", "24.22.3"],
  ])("%s runs on %s, the newest the image has that satisfies it", (spec, want) => {
    expect(resolveVersion("node", [node(spec)], NODES)).toBe(want);
  });

  test.each(["30", ">=30", "v22.99.0", "lts/argon", "19"])(
    "%s is TOOLCHAIN_UNAVAILABLE naming the versions",
    (spec) => {
      const err = thrown(() => resolveVersion("node", [node(spec)], NODES));
      expect(err.code).toBe("TOOLCHAIN_UNAVAILABLE");
      expect(err.status).toBeGreaterThanOrEqual(400);
      expect(err.status).toBeLessThan(500);
      expect(err.message).toContain(spec);
      expect(err.message).toContain("it has node 18.20.4, 20.20.2, 22.23.5, 24.22.3");
      expect(err.details).toMatchObject({ tool: "node", available: NODES });
    },
  );

  test("unreadable .nvmrc values are refused by name, not guessed", () => {
    expect(parseNodeSpec("lts/nonsense")).toBeNull();
    expect(parseNodeSpec("")).toBeNull();
    const d = dir({ ".nvmrc": "lts/nonsense\n" });
    const err = thrown(() => selectToolchain(d, { ecosystem: "npm" }, TOOLS));
    expect(err.message).toContain(".nvmrc asks for lts/nonsense");
  });

  test(".nvmrc, .node-version and engines.node must all hold: the newest version satisfying every one", () => {
    const d = dir({
      "package.json": JSON.stringify({ engines: { node: ">=20" } }),
      ".nvmrc": "# the team's version\nv22\n",
    });
    const { requests } = readToolRequests(d);
    expect(requests.map((r) => [r.source, r.spec])).toEqual([
      [".nvmrc", "v22"],
      ["package.json engines.node", ">=20"],
    ]);
    expect(selectToolchain(d, { ecosystem: "npm" }, TOOLS).chosen.node).toBe("22.23.5");

    const clash = dir({ "package.json": JSON.stringify({ engines: { node: ">=22" } }), ".node-version": "20\n" });
    const err = thrown(() => selectToolchain(clash, { ecosystem: "npm" }, TOOLS));
    expect(err.code).toBe("TOOLCHAIN_UNAVAILABLE");
    expect(err.message).toContain("each alone would fit, not all together");
  });

  test("the chosen Node goes first on PATH, with its headers for native addons; nothing asked keeps the default", () => {
    const d = dir({ "package.json": JSON.stringify({ engines: { node: "^22" } }) });
    const t = selectToolchain(d, { ecosystem: "npm" }, TOOLS);
    expect(t.env.PATH).toBe("/opt/node/22.23.5/bin:/usr/local/bin:/usr/bin:/bin");
    expect(t.env.npm_config_nodedir).toBe("/opt/node/22.23.5");
    expect(t.tools).toMatchObject({ node: "22.23.5", "node.versions": TOOLS["node.versions"] });
    expect(t.notes.join("\n")).toContain("node 22.23.5: newest of 18.20.4, 20.20.2, 22.23.5, 24.22.3");

    const plain = selectToolchain(dir({ "package.json": "{}" }), { ecosystem: "npm" }, TOOLS);
    expect(plain.env).toEqual({});
    expect(plain.chosen.node).toBe("18.20.4");
    expect(plain.tools).toEqual(TOOLS);
  });

  test("an image without the per-version layout runs its one version and leaves PATH alone", () => {
    const d = dir({ ".nvmrc": "18\n" });
    const old = { bun: "1.4.5", node: "v18.20.4" };
    const t = selectToolchain(d, { ecosystem: "npm" }, old);
    expect(t.chosen.node).toBe("18.20.4");
    expect(t.env).toEqual({});
    expect(thrown(() => selectToolchain(dir({ ".nvmrc": "22\n" }), { ecosystem: "npm" }, old)).message).toContain(
      "it has node 18.20.4",
    );
  });

  test("a version file that is a symlink is not followed", () => {
    const d = dir({});
    const outside = dir({ secret: "22\n" });
    symlinkSync(join(outside, "secret"), join(d, ".nvmrc"));
    expect(readToolRequests(d).requests).toEqual([]);
  });
});

describe("Python, Go and Rust versions", () => {
  const versions = (tool: "python" | "go" | "rust") => availableVersions(TOOLS, tool);
  const req = (tool: ToolRequest["tool"], p: Pick<ToolRequest, "reads" | "matches" | "spec"> | null): ToolRequest => {
    if (!p) throw new Error("unreadable");
    return { tool, source: "file", ...p };
  };

  test.each([
    ["3.11\n", "3.11.2"],
    ["3.11.1\n", "3.11.2"],
    ["3\n", "3.11.2"],
    ["# pyenv\n3.11\n3.10\n", "3.11.2"],
    ["system\n", "3.11.2"],
  ])(".python-version %j runs Python %s", (text, want) => {
    expect(resolveVersion("python", [req("python", parsePythonSpec(text))], versions("python"))).toBe(want);
  });

  test.each(["3.12\n", "3.11.9\n", "pypy3.10\n", "2.7\n"])(".python-version %j is unavailable", (text) => {
    const err = thrown(() => resolveVersion("python", [req("python", parsePythonSpec(text))], versions("python")));
    expect(err.code).toBe("TOOLCHAIN_UNAVAILABLE");
    expect(err.message).toContain("it has python 3.11.2");
  });

  test("go.mod's go line is the oldest Go that builds the module", () => {
    expect(parseGoMod("module example.com/x\n\ngo 1.22\n\nrequire (\n)\n")).toMatchObject({ spec: "go 1.22" });
    expect(parseGoMod("module x\ngo 1.21.3 // minimum\ntoolchain go1.23.1\n")).toMatchObject({ reads: ">=1.21.3" });
    expect(parseGoMod("module x\n")).toBeNull();
    expect(resolveVersion("go", [req("go", parseGoMod("module x\ngo 1.22\n"))], versions("go"))).toBe("1.24.4");
    expect(resolveVersion("go", [req("go", parseGoMod("module x\ngo 1.24.4\n"))], versions("go"))).toBe("1.24.4");
    const err = thrown(() => resolveVersion("go", [req("go", parseGoMod("module x\ngo 1.25.0\n"))], versions("go")));
    expect(err.message).toBe(
      "This appliance cannot run go as the repository asks: file asks for go 1.25.0 (>=1.25.0); it has go 1.24.4.",
    );
  });

  test("rust-toolchain.toml and rust-toolchain: stable or a minimum release; beta and nightly are unavailable", () => {
    const toml = '[toolchain]\nchannel = "1.80.0"\ncomponents = ["rustfmt", "clippy"]\nprofile = "minimal"\n';
    expect(parseRustToolchain(toml)).toMatchObject({ spec: "1.80.0", reads: ">=1.80.0" });
    expect(parseRustToolchain("stable\n")).toMatchObject({ spec: "stable" });
    expect(parseRustToolchain("1.70\n")).toMatchObject({ reads: ">=1.70" });
    expect(parseRustToolchain('[toolchain]\ncomponents = ["rustfmt"]\n')).toBeNull();
    expect(resolveVersion("rust", [req("rust", parseRustToolchain(toml))], versions("rust"))).toBe("1.96.0");
    for (const text of ['[toolchain]\nchannel = "nightly-2025-01-01"\n', "beta\n", "1.99.0\n"]) {
      const err = thrown(() => resolveVersion("rust", [req("rust", parseRustToolchain(text))], versions("rust")));
      expect(err.message).toContain("it has rust 1.96.0");
    }
    // rust-toolchain.toml wins over the legacy file, as with rustup.
    const d = dir({ "rust-toolchain.toml": toml, "rust-toolchain": "nightly\n", "Cargo.toml": "" });
    const t = selectToolchain(d, { ecosystem: "cargo" }, TOOLS);
    expect(t.chosen.rust).toBe("1.96.0");
    expect(t.env.PATH?.startsWith("/opt/rust/1.96.0/bin:")).toBe(true);
  });
});

describe("packageManager", () => {
  test("parses name@version with or without the corepack hash", () => {
    expect(
      parsePackageManager("pnpm@9.15.0+sha512.76e2379760a4328ec4415815bcd6628dee727af3779aaa4c914e3944156c4299"),
    ).toEqual({ name: "pnpm", version: "9.15.0" });
    expect(parsePackageManager("yarn@4.5.1")).toEqual({ name: "yarn", version: "4.5.1" });
    expect(parsePackageManager("deno@2.0.0")).toBeNull();
    expect(parsePackageManager(42)).toBeNull();
  });

  const pm = (value: string, files: Record<string, string> = {}) =>
    selectToolchain(
      dir({ "package.json": JSON.stringify({ packageManager: value }), ...files }),
      { ecosystem: "npm" },
      TOOLS,
    );

  test("the image's npm, pnpm (9 and 10 share a lockfile format), yarn 1 and bun run what the repository names", () => {
    expect(pm("npm@11.6.2").chosen.npm).toBe("10.9.9");
    expect(pm("npm@11.6.2").notes.join()).toContain("packageManager npm@11.6.2: runs the image's npm 10.9.9");
    expect(pm("pnpm@9.15.0").chosen.pnpm).toBe("10.34.9");
    expect(pm("yarn@1.22.19").chosen.yarn).toBe("1.22.22");
    expect(pm("bun@1.2.0").chosen.bun).toBe("1.4.5");
  });

  test("Yarn 2+ runs from the release the repository commits; without one, and for other majors, a clear error", () => {
    const ok = pm("yarn@4.5.1", {
      ".yarnrc.yml": "nodeLinker: node-modules\nyarnPath: .yarn/releases/yarn-4.5.1.cjs\n",
      ".yarn/releases/yarn-4.5.1.cjs": "// release\n",
    });
    expect(ok.chosen.yarn).toBe("4.5.1");
    expect(ok.tools.yarn).toBe("4.5.1");
    const missing = thrown(() => pm("yarn@4.5.1", { ".yarnrc.yml": "nodeLinker: node-modules\n" }));
    expect(missing.code).toBe("TOOLCHAIN_UNAVAILABLE");
    expect(missing.message).toContain("this appliance has yarn 1.22.22");
    expect(thrown(() => pm("pnpm@8.15.0")).message).toBe(
      "packageManager pnpm@8.15.0: this appliance has pnpm 10.34.9 only.",
    );
    expect(thrown(() => pm("bun@2.0.0")).message).toContain("bun 1.4.5 only");
  });

  test("detect installs with the named manager and keys the dependency cache by the version files too", () => {
    const pnpm = dir({
      "package.json": JSON.stringify({ packageManager: "pnpm@10.2.0", scripts: { test: "vitest" } }),
      "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
      ".nvmrc": "22\n",
    });
    const plan = detectPlan(pnpm);
    expect(plan.install).toEqual({
      run: "pnpm install --frozen-lockfile",
      inputs: ["package.json", "pnpm-lock.yaml", ".nvmrc"],
    });
    expect(plan.steps[0]?.run).toBe("pnpm test");
    const yarn = detectPlan(dir({ "package.json": JSON.stringify({ scripts: { test: "jest" } }), "yarn.lock": "" }));
    expect(yarn.install?.run).toBe("yarn install --frozen-lockfile --non-interactive");
    expect(yarn.steps[0]?.run).toBe("yarn test");
    const berry = detectPlan(
      dir({ "package.json": JSON.stringify({ scripts: { test: "jest" } }), "yarn.lock": "", ".yarnrc.yml": "" }),
    );
    expect(berry.install?.run).toBe("yarn install --immutable");
    // A package-lock.json and no packageManager: npm, as before.
    const npm = detectPlan(
      dir({
        "package.json": JSON.stringify({ scripts: { test: "jest" } }),
        "package-lock.json": "{}",
        "pnpm-lock.yaml": "",
      }),
    );
    expect(npm.install?.run).toBe("npm ci --no-audit --no-fund");
  });
});

// Real runs: the Docker image and the bubblewrap root filesystem carry the same toolchains.
const baseDir = mkdtempSync(join(tmpdir(), "devsponsor-toolchain-test-"));
chmodSync(baseDir, 0o711);
setDefaultTimeout(120_000);
beforeAll(() => ensureSandboxImages(), 900_000);
afterAll(() => rmSync(baseDir, { recursive: true, force: true }));

/** A Node project whose node:test suite asserts the major version it runs on. */
function nodeRepo(engines: string, nvmrc: string | null, expectMajor: number) {
  return makeRepo({
    "package.json": `${JSON.stringify({ name: "fixture", private: true, engines: { node: engines }, scripts: { test: "node --test" } }, null, 2)}\n`,
    ...(nvmrc === null ? {} : { ".nvmrc": `${nvmrc}\n` }),
    "test/version.test.js": `const test = require("node:test");
const assert = require("node:assert");
test("runs on Node ${expectMajor}", () => assert.ok(process.version.startsWith("v${expectMajor}."), process.version));
`,
  });
}

describe.each([
  ["docker", () => new DockerBackend()],
  ["bwrap", () => new BwrapBackend()],
] as [string, () => SandboxBackend][])("%s sandbox", (_name, make) => {
  const backend = make();
  const run = (repo: string, ref: string) => runHarness({ repo, ref, backend, baseDir, egressAllow: [] });

  test("a repository asking for Node >=22 (.nvmrc 22) runs on Node 22: PASSED, and the digest records it", async () => {
    const image = await backend.image("harness");
    const repo = nodeRepo(">=22", "22", 22);
    const lines: string[] = [];
    const r = await runHarness({
      repo: repo.path,
      ref: repo.sha,
      backend,
      baseDir,
      egressAllow: [],
      onLog: (l) => lines.push(l),
    });
    const want = resolveVersion("node", [node("22")], availableVersions(image.tools, "node"));
    expect(r.result).toBe("PASSED");
    expect(r.steps[0]).toMatchObject({ status: "OK", passed: 1, failed: 0 });
    expect(r.digest.tests).toContainEqual({ id: "test > runs on Node 22", passed: true });
    expect(r.digest.environment.tools.node).toBe(want);
    expect(lines.some((l) => l.includes(`toolchain: node ${want}`))).toBe(true);
  });

  test("the same test on a repository that asks for Node 20 fails: the version really changes", async () => {
    const r = await run(...(({ path, sha }) => [path, sha] as const)(nodeRepo(">=20 <21", null, 22)));
    expect(r.result).toBe("FAILED");
    expect(r.digest.environment.tools.node?.startsWith("20.")).toBe(true);
    expect(r.digest.tests).toContainEqual({ id: "test > runs on Node 22", passed: false });
  });

  test("a repository asking for Node >=30 gets TOOLCHAIN_UNAVAILABLE naming the versions the image has", async () => {
    const image = await backend.image("harness");
    const repo = nodeRepo(">=30", null, 30);
    const err = await run(repo.path, repo.sha).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect(err.code).toBe("TOOLCHAIN_UNAVAILABLE");
    expect(err.status).toBe(422);
    expect(err.message).toContain(`it has node ${availableVersions(image.tools, "node").join(", ")}`);
  });

  test("a Python repository asking for 3.11 runs pytest on 3.11", async () => {
    const image = await backend.image("harness");
    const repo = makeRepo({
      ".python-version": "3.11\n",
      "test_version.py":
        "import sys\n\ndef test_python_311():\n    assert sys.version_info[:2] == (3, 11), sys.version\n",
    });
    const r = await run(repo.path, repo.sha);
    expect(r.result).toBe("PASSED");
    expect(r.digest.environment.tools.python).toBe(availableVersions(image.tools, "python").at(-1) ?? "none");
    expect(r.digest.tests.filter((t) => t.id.includes("test_python_311"))).toEqual([
      expect.objectContaining({ passed: true }),
    ]);
  });
});
