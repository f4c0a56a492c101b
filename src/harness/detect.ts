// What to run for a repository: how to install its dependencies from its lockfile, and how to run its tests
// so that they report each test (bun, npm/node, pytest, go test, cargo test). A project can configure its own
// commands instead; configured commands come from the project's settings, never from the repository under test.
import { lstatSync } from "node:fs";
import { join } from "node:path";
import { AppError, type FieldErrors, invalidInput } from "../core/errors";
import type { Limits } from "../sandbox/types";
import type { ResultFormat } from "./results";
import { listPlainDir, readPlainFile } from "../core/safe-fs";
import { parsePackageManager, TOOLCHAIN_FILES } from "./toolchain";

/** The lockfile of each Node package manager. */
const LOCKFILE: Record<string, string> = { npm: "package-lock.json", pnpm: "pnpm-lock.yaml", yarn: "yarn.lock" };

/** What a verification step checks; every kind gates payment the same way. */
export type StepKind = "test" | "lint" | "analysis" | "acceptance";

/** How a step's results are read: a report format, "auto" (TAP on stdout or JUnit files), or the exit code only. */
export type ResultSource = ResultFormat | "auto" | "exit";

/** One verification step, run with `sh -c` in the checkout, without network. */
export interface StepConfig {
  /** Stable name, part of every test id of the step. */
  name: string;
  kind: StepKind;
  run: string;
  results: ResultSource;
  /** For junit, or tap read from a file: the report file, relative to the step's results dir (/work/out/<name>). */
  resultFile?: string;
  limits?: Partial<Limits>;
}

/** The dependency install: a command and the files whose content keys the dependency cache. */
export interface InstallPlan {
  run: string;
  inputs: string[];
}

/** Everything the harness runs for one repository. */
export interface Plan {
  ecosystem: "bun" | "npm" | "python" | "go" | "cargo" | "custom" | "none";
  install: InstallPlan | null;
  steps: StepConfig[];
}

/** Overrides a project may configure. */
export interface PlanOverrides {
  testCommand?: string;
  installCommand?: string;
  /** Extra checks (lint, static analysis, acceptance) after the tests. */
  steps?: StepConfig[];
}

/** Where a step writes reports inside the sandbox. */
export const resultsDir = (step: string) => `/work/out/${step}`;

/** The TAP report node:test writes into the step's results dir (never read from stdout, where tests can print). */
const NODE_TAP = "node-test.tap";

/** True for a command that runs node's own test runner and picks no reporter of its own. */
const runsNodeTest = (cmd: string) =>
  /(^|[\s;&|(])node\b[^;&|]*\s--test(\s|=|$)/.test(cmd) && !/--test-reporter\b/.test(cmd);

/**
 * node:test's reporters for a test step: spec on stdout for people, TAP to a file in the results dir for the
 * harness. Every Node the image carries (18 to 24) takes them from NODE_OPTIONS; Node 23 and later print spec,
 * not TAP, when no reporter is named, so without this their results would be lost.
 */
const NODE_TEST_OPTIONS = `--test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination=${resultsDir("test")}/${NODE_TAP}`;

/** The test step of a package.json test script, run by its package manager. */
function npmTest(manager: string, script: string): StepConfig {
  return runsNodeTest(script)
    ? {
        name: "test",
        kind: "test",
        run: `NODE_OPTIONS="${NODE_TEST_OPTIONS}" ${manager} test`,
        results: "tap",
        resultFile: NODE_TAP,
      }
    : { name: "test", kind: "test", run: `${manager} test`, results: "auto" };
}

const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$|_test\.[cm]?[jt]sx?$/;

/** A step name: its results dir is named after it and it starts each of its test ids, so no path parts. */
const STEP_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A report file below the step's results dir: plain names joined by `/`, none of them `.` or `..`. */
const RESULT_FILE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

/** Refuses step names and report paths that could name a file outside the step's results dir, and duplicates. */
export function validateSteps(steps: readonly StepConfig[]): void {
  const fields: FieldErrors = {};
  const seen = new Set<string>();
  for (const [i, step] of steps.entries()) {
    if (typeof step.name !== "string" || !STEP_NAME.test(step.name))
      fields[`steps.${i}.name`] =
        "Use 1 to 64 letters, digits, dots, dashes or underscores, starting with a letter or digit.";
    else if (seen.has(step.name)) fields[`steps.${i}.name`] = `Another step is already named ${step.name}.`;
    seen.add(step.name);
    if (step.resultFile !== undefined && (typeof step.resultFile !== "string" || !RESULT_FILE.test(step.resultFile)))
      fields[`steps.${i}.resultFile`] = "Use a relative path of plain names inside the step's results directory.";
  }
  if (Object.keys(fields).length) throw invalidInput(fields, "A verification step is not valid.");
}

/** True when the checkout has an entry of this name (a symlink counts; it is never followed). */
function present(src: string, name: string): boolean {
  try {
    lstatSync(join(src, name));
    return true;
  } catch {
    return false;
  }
}

function listFiles(src: string, dir: string, depth = 3): string[] {
  if (depth < 0) return [];
  return listPlainDir(src, dir).flatMap((e) => {
    if (e.name === "node_modules" || e.name.startsWith(".")) return [];
    if (e.isDirectory()) return listFiles(src, join(dir, e.name), depth - 1).map((f) => `${e.name}/${f}`);
    return e.isFile() ? [e.name] : [];
  });
}

function readJson(src: string, name: string): Record<string, any> | null {
  // A checkout may hold symlinks to anywhere on the host: only a plain file is read.
  const text = readPlainFile(src, join(src, name), 4 << 20)?.toString("utf8");
  try {
    return text === undefined ? null : JSON.parse(text);
  } catch {
    return null;
  }
}

/** Reads the checkout and decides the install command and the test step. */
export function detectPlan(src: string, overrides: PlanOverrides = {}): Plan {
  const has = (f: string) => present(src, f);
  const pkg = has("package.json") ? readJson(src, "package.json") : null;
  let ecosystem: Plan["ecosystem"] = "none";
  let install: InstallPlan | null = null;
  let test: StepConfig | null = null;
  const junit = (run: string): StepConfig => ({
    name: "test",
    kind: "test",
    run,
    results: "junit",
    resultFile: "junit.xml",
  });

  const bunTests =
    pkg && !pkg.scripts?.test && !has("package-lock.json") && listFiles(src, src).some((f) => TEST_FILE.test(f));
  if (has("bun.lock") || has("bun.lockb") || bunTests) {
    ecosystem = "bun";
    const lock = has("bun.lock") ? "bun.lock" : has("bun.lockb") ? "bun.lockb" : null;
    if (lock) install = { run: "bun install --frozen-lockfile", inputs: ["package.json", lock] };
    else requireNoDependencies(pkg);
    test = junit(`bun test --reporter=junit --reporter-outfile=${resultsDir("test")}/junit.xml`);
  } else if (pkg) {
    ecosystem = "npm";
    // packageManager names the manager when the repository has its lockfile; otherwise the lockfile does.
    const named = parsePackageManager(pkg.packageManager);
    const npmLock = ["package-lock.json", "npm-shrinkwrap.json"].find(has);
    const manager =
      named && named.name !== "bun" && has(LOCKFILE[named.name] ?? "package-lock.json")
        ? named.name
        : npmLock
          ? "npm"
          : has("pnpm-lock.yaml")
            ? "pnpm"
            : has("yarn.lock")
              ? "yarn"
              : "npm";
    if (manager === "npm" && npmLock)
      install = { run: "npm ci --no-audit --no-fund", inputs: ["package.json", npmLock] };
    else if (manager === "pnpm" && has("pnpm-lock.yaml"))
      install = { run: "pnpm install --frozen-lockfile", inputs: ["package.json", "pnpm-lock.yaml"] };
    else if (manager === "yarn" && has("yarn.lock")) {
      // Yarn 2+ (a .yarnrc.yml, or packageManager yarn@2+) says --immutable; Yarn 1 says --frozen-lockfile.
      const modern = has(".yarnrc.yml") || (named?.name === "yarn" && Number(named.version.split(".")[0]) >= 2);
      const run = modern ? "yarn install --immutable" : "yarn install --frozen-lockfile --non-interactive";
      install = { run, inputs: ["package.json", "yarn.lock"] };
    } else requireNoDependencies(pkg);
    if (pkg.scripts?.test) test = npmTest(manager, String(pkg.scripts.test));
  } else if (has("go.mod")) {
    ecosystem = "go";
    if (has("go.sum")) install = { run: "go mod download", inputs: ["go.mod", "go.sum"] };
    test = { name: "test", kind: "test", run: "go test -json ./...", results: "go-json" };
  } else if (has("Cargo.toml")) {
    ecosystem = "cargo";
    if (has("Cargo.lock")) install = { run: "cargo fetch --locked", inputs: ["Cargo.toml", "Cargo.lock"] };
    test = { name: "test", kind: "test", run: "cargo test --locked --offline --no-fail-fast 2>&1", results: "cargo" };
  } else if (
    ["pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "requirements.txt", "tox.ini"].some(has) ||
    listFiles(src, src).some((f) => /(^|\/)test_[^/]*\.py$|_test\.py$/.test(f))
  ) {
    ecosystem = "python";
    const reqs = ["requirements.txt", "requirements-dev.txt", "requirements-test.txt"].filter(has);
    if (reqs.length) {
      install = {
        run: `python3 -m venv --system-site-packages .venv && .venv/bin/pip install --no-input --disable-pip-version-check ${reqs.map((r) => `-r ${r}`).join(" ")}`,
        inputs: reqs,
      };
    }
    const py = reqs.length ? ".venv/bin/python" : "python3";
    test = junit(`${py} -m pytest -p no:cacheprovider --junitxml=${resultsDir("test")}/junit.xml`);
  }

  if (overrides.installCommand) {
    install = { run: overrides.installCommand, inputs: install?.inputs ?? lockfilesIn(src) };
  }
  // What was installed depends on the toolchain too (native addons are built for one Node): its files key the cache.
  if (install) install.inputs = [...new Set([...install.inputs, ...TOOLCHAIN_FILES.filter(has)])];
  if (overrides.testCommand) {
    test = configuredTest(overrides.testCommand);
    if (ecosystem === "none") ecosystem = "custom";
  }
  const steps = [...(test ? [test] : []), ...(overrides.steps ?? [])];
  validateSteps(steps);
  if (steps.length === 0) {
    throw new AppError("NO_TEST_COMMAND", "No test command was detected; configure one for the project.", 422);
  }
  return { ecosystem, install, steps };
}

/**
 * The test step of a configured command. A plain `bun test …`, `pytest …` or `go test …` gets the runner's own
 * machine-readable report added, so each test is its own result (a planner's "bun test" would otherwise be judged
 * by its exit code alone); any other command is read as JUnit XML or TAP if it writes either.
 */
function configuredTest(command: string): StepConfig {
  const cmd = command.trim();
  const out = `${resultsDir("test")}/junit.xml`;
  if (/^bun test(\s|$)/.test(cmd) && !/--reporter\b/.test(cmd)) {
    return {
      name: "test",
      kind: "test",
      run: `bun test --reporter=junit --reporter-outfile=${out}${cmd.slice(8)}`,
      results: "junit",
      resultFile: "junit.xml",
    };
  }
  if (/^(python3? -m )?pytest(\s|$)/.test(cmd) && !/--junit-?xml\b/.test(cmd)) {
    return { name: "test", kind: "test", run: `${cmd} --junitxml=${out}`, results: "junit", resultFile: "junit.xml" };
  }
  if (/^go test(\s|$)/.test(cmd) && !/\s-json\b/.test(cmd)) {
    return { name: "test", kind: "test", run: `go test -json${cmd.slice(7) || " ./..."}`, results: "go-json" };
  }
  if (runsNodeTest(cmd)) {
    return {
      name: "test",
      kind: "test",
      run: `NODE_OPTIONS="${NODE_TEST_OPTIONS}" ${cmd}`,
      results: "tap",
      resultFile: NODE_TAP,
    };
  }
  return { name: "test", kind: "test", run: cmd, results: "auto" };
}

/** Every lockfile or manifest in the checkout's top directory (keys the cache of a configured install). */
export function lockfilesIn(src: string): string[] {
  const known = [
    "package.json",
    "bun.lock",
    "bun.lockb",
    "package-lock.json",
    "npm-shrinkwrap.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
    "pyproject.toml",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "go.mod",
    "go.sum",
    "Cargo.toml",
    "Cargo.lock",
  ];
  return known.filter((f) => present(src, f));
}

function requireNoDependencies(pkg: Record<string, any> | null) {
  const deps = { ...pkg?.dependencies, ...pkg?.devDependencies, ...pkg?.optionalDependencies };
  if (Object.keys(deps).length > 0) {
    throw new AppError(
      "LOCKFILE_MISSING",
      "The repository has dependencies but no lockfile; installs must be reproducible.",
      422,
    );
  }
}
