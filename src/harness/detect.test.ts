import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { AppError } from "../core/errors";
import { detectPlan } from "./detect";

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "detect-"));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(d, name)), { recursive: true });
    writeFileSync(join(d, name), content);
  }
  return d;
}

const pkg = (extra: object = {}) => JSON.stringify({ name: "x", ...extra });

describe("detectPlan", () => {
  const cases: [
    string,
    Record<string, string>,
    { ecosystem: string; install: string | null; test: string; results: string },
  ][] = [
    [
      "bun with a lockfile",
      { "package.json": pkg(), "bun.lock": "{}" },
      {
        ecosystem: "bun",
        install: "bun install --frozen-lockfile",
        test: "bun test --reporter=junit",
        results: "junit",
      },
    ],
    [
      "bun test files, no dependencies",
      { "package.json": pkg(), "src/a.test.ts": "" },
      { ecosystem: "bun", install: null, test: "bun test", results: "junit" },
    ],
    [
      "npm with package-lock",
      { "package.json": pkg({ scripts: { test: "jest" } }), "package-lock.json": "{}" },
      { ecosystem: "npm", install: "npm ci", test: "npm test", results: "auto" },
    ],
    [
      "npm whose test script runs node --test: TAP to a report file, on every Node",
      { "package.json": pkg({ scripts: { test: "node --test" } }), "package-lock.json": "{}" },
      { ecosystem: "npm", install: "npm ci", test: 'NODE_OPTIONS="--test-reporter=spec', results: "tap" },
    ],
    [
      "npm whose test script picks its own node --test reporter",
      { "package.json": pkg({ scripts: { test: "node --test --test-reporter=dot" } }), "package-lock.json": "{}" },
      { ecosystem: "npm", install: "npm ci", test: "npm test", results: "auto" },
    ],
    [
      "pytest with requirements",
      { "requirements.txt": "pytest\n", "tests/test_a.py": "" },
      { ecosystem: "python", install: "python3 -m venv", test: ".venv/bin/python -m pytest", results: "junit" },
    ],
    [
      "pytest without dependencies",
      { "test_a.py": "" },
      { ecosystem: "python", install: null, test: "python3 -m pytest", results: "junit" },
    ],
    [
      "go modules",
      { "go.mod": "module x\n", "go.sum": "" },
      { ecosystem: "go", install: "go mod download", test: "go test -json ./...", results: "go-json" },
    ],
    [
      "cargo",
      { "Cargo.toml": "[package]\n", "Cargo.lock": "" },
      { ecosystem: "cargo", install: "cargo fetch --locked", test: "cargo test --locked --offline", results: "cargo" },
    ],
  ];
  for (const [name, files, want] of cases) {
    test(name, () => {
      const plan = detectPlan(dir(files));
      expect(plan.ecosystem).toBe(want.ecosystem as typeof plan.ecosystem);
      if (want.install === null) expect(plan.install).toBeNull();
      else expect(plan.install?.run.startsWith(want.install)).toBe(true);
      expect(plan.steps[0]!.run.startsWith(want.test)).toBe(true);
      expect(plan.steps[0]!.results).toBe(want.results as never);
    });
  }

  test("dependencies without a lockfile are refused", () => {
    expect(() => detectPlan(dir({ "package.json": pkg({ dependencies: { a: "1" } }), "a.test.ts": "" }))).toThrow(
      AppError,
    );
  });

  test("configured commands win, and a repo with nothing to run needs one", () => {
    expect(() => detectPlan(dir({ "README.md": "" }))).toThrow("No test command");
    const plan = detectPlan(dir({ "README.md": "" }), {
      testCommand: "make check",
      steps: [{ name: "lint", kind: "lint", run: "make lint", results: "exit" }],
    });
    expect(plan.ecosystem).toBe("custom");
    expect(plan.steps.map((s) => s.run)).toEqual(["make check", "make lint"]);
    const withInstall = detectPlan(dir({ "package.json": pkg(), "bun.lock": "{}" }), {
      installCommand: "bun install --production",
    });
    expect(withInstall.install).toEqual({ run: "bun install --production", inputs: ["package.json", "bun.lock"] });
  });
});

describe("configured test commands keep per-test results", () => {
  const repo = () => dir({ "package.json": pkg(), "a.test.ts": "" });
  const cases: [string, string, string][] = [
    ["bun test", "bun test --reporter=junit --reporter-outfile=/work/out/test/junit.xml", "junit"],
    ["bun test src/x", "bun test --reporter=junit --reporter-outfile=/work/out/test/junit.xml src/x", "junit"],
    [
      "bun test --reporter=junit --reporter-outfile=r.xml",
      "bun test --reporter=junit --reporter-outfile=r.xml",
      "auto",
    ],
    ["pytest -q", "pytest -q --junitxml=/work/out/test/junit.xml", "junit"],
    ["python3 -m pytest", "python3 -m pytest --junitxml=/work/out/test/junit.xml", "junit"],
    ["go test", "go test -json ./...", "go-json"],
    ["go test ./pkg/...", "go test -json ./pkg/...", "go-json"],
    ["make check", "make check", "auto"],
    [
      "node --test test/",
      'NODE_OPTIONS="--test-reporter=spec --test-reporter-destination=stdout --test-reporter=tap --test-reporter-destination=/work/out/test/node-test.tap" node --test test/',
      "tap",
    ],
    ["node --test --test-reporter=junit", "node --test --test-reporter=junit", "auto"],
  ];
  for (const [command, run, results] of cases) {
    test(command, () => {
      const step = detectPlan(repo(), { testCommand: command }).steps[0]!;
      expect(step.run).toBe(run);
      expect(step.results).toBe(results as never);
    });
  }
});

describe("step names and report paths", () => {
  const repo = () => dir({ "package.json": pkg({ scripts: { test: "true" } }) });
  const step = (extra: Record<string, unknown>) => ({
    name: "lint",
    kind: "lint" as const,
    run: "true",
    results: "exit" as const,
    ...extra,
  });
  const refused = (steps: ReturnType<typeof step>[]) => {
    try {
      detectPlan(repo(), { steps });
    } catch (err) {
      return err as AppError;
    }
    throw new Error("accepted");
  };

  test.each(["../../etc", "a/b", "a\\b", "..", ".", "", "x\0y", "x\ny", " lint", "test > x", "a".repeat(65)])(
    "the step name %j is refused",
    (name) => {
      const err = refused([step({ name })]);
      expect(err).toBeInstanceOf(AppError);
      expect(err.code).toBe("INVALID_INPUT");
      expect(Object.keys(err.details.fields as object)).toEqual(["steps.1.name"]);
    },
  );

  test.each(["../x.xml", "/etc/passwd", "a/../../x", "./x.xml", "a//b.xml", "x\0.xml"])(
    "the report path %j is refused",
    (resultFile) => {
      const err = refused([step({ resultFile, results: "junit" })]);
      expect(Object.keys(err.details.fields as object)).toEqual(["steps.1.resultFile"]);
    },
  );

  test("two steps of one name are refused; ordinary names and report paths are accepted", () => {
    expect(Object.keys(refused([step({}), step({})]).details.fields as object)).toEqual(["steps.2.name"]);
    expect(Object.keys(refused([step({ name: "test" })]).details.fields as object)).toEqual(["steps.1.name"]);
    const plan = detectPlan(repo(), {
      steps: [step({ name: "type-check_2.x" }), step({ name: "e2e", results: "junit", resultFile: "reports/e2e.xml" })],
    });
    expect(plan.steps.map((s) => s.name)).toEqual(["test", "type-check_2.x", "e2e"]);
  });
});
