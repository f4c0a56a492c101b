// The template planner: a deterministic draft from the project's description and its repository's structure,
// used when no model is configured or the model fails (spec §10.5.5 "milestone template library"). The same
// input always gives the same plan; drafts it makes are stored as source "template" and labelled as such.
import type { Plan, PlannedMilestone, PlannedTask } from "../milestones/model";

/** What the template planner looks at. */
export interface TemplateInput {
  title: string;
  description: string;
  repo?: { files: string[]; readme: string | null } | null;
  /** Headings or first lines of the project's documents. */
  documentHints?: string[];
}

/** A repository's language toolchain, as far as its files tell. */
export interface Stack {
  name: string;
  testCommand: string;
  hasTests: boolean;
}

const has = (files: Set<string>, ...names: string[]) => names.some((n) => files.has(n));

/** Detects the toolchain and test command from top-level files; "" when unknown (the harness detects it). */
export function detectStack(paths: string[]): Stack {
  const top = new Set(paths.filter((p) => !p.includes("/")));
  const hasTests = paths.some((p) =>
    /(^|\/)(tests?|__tests__|spec)\/|\.(test|spec)\.[cm]?[jt]sx?$|_test\.(go|py)$|(^|\/)test_[^/]+\.py$/.test(p),
  );
  if (has(top, "package.json")) {
    if (has(top, "bun.lock", "bun.lockb")) return { name: "Bun", testCommand: "bun test", hasTests };
    if (has(top, "pnpm-lock.yaml")) return { name: "Node.js (pnpm)", testCommand: "pnpm test", hasTests };
    if (has(top, "yarn.lock")) return { name: "Node.js (yarn)", testCommand: "yarn test", hasTests };
    return { name: "Node.js", testCommand: "npm test", hasTests };
  }
  if (has(top, "pyproject.toml", "setup.py", "setup.cfg", "requirements.txt"))
    return { name: "Python", testCommand: "pytest", hasTests };
  if (has(top, "go.mod")) return { name: "Go", testCommand: "go test ./...", hasTests };
  if (has(top, "Cargo.toml")) return { name: "Rust", testCommand: "cargo test", hasTests };
  if (has(top, "pom.xml")) return { name: "Java (Maven)", testCommand: "mvn -q test", hasTests };
  if (has(top, "build.gradle", "build.gradle.kts"))
    return { name: "Java/Kotlin (Gradle)", testCommand: "gradle test", hasTests };
  if (has(top, "Gemfile")) return { name: "Ruby", testCommand: "bundle exec rake test", hasTests };
  return { name: "unknown", testCommand: "", hasTests };
}

const BULLET = /^\s*(?:[-*+•]|\d+[.)]|\[[ x]\])\s+(.+)$/;

/**
 * Markdown marks off a line of text: backticks, emphasis, heading and quote markers. Code spans are kept as
 * written (`__init__`, `chunked_even()`), and so are underscores and asterisks inside a word (`snake_case`, `a*b`):
 * only those that open or close emphasis go.
 */
export function plainText(line: string): string {
  return line
    .replace(/^\s*(?:#{1,6}|>+)\s+/, "")
    .split(/(`+[^`]*`+)/)
    .map((part, i) =>
      i % 2
        ? part.replace(/^`+|`+$/g, "")
        : part
            .replace(/`+/g, "")
            .replace(/(^|[\s(["'])[*_]+(?=\S)/g, "$1")
            .replace(/(\S)[*_]+(?=$|[\s)\]"'.,;:!?])/g, "$1"),
    )
    .join("");
}

/** Candidate features: list items of the description, else its sentences; then README and document headings. */
export function extractFeatures(input: TemplateInput): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const push = (raw: string) => {
    const f = plainText(raw)
      .replace(/\s+/g, " ")
      .replace(/[\s.;:,!]+$/, "")
      .trim();
    const words = f.split(" ").length;
    const key = f.toLowerCase();
    if (words < 2 || f.length < 8 || seen.has(key)) return;
    seen.add(key);
    out.push(f.length > 200 ? `${f.slice(0, 197)}…` : f);
  };
  const lines = input.description.split(/\r?\n/);
  const bullets = lines.map((l) => BULLET.exec(l)?.[1]).filter((b): b is string => !!b);
  const candidates = bullets.length
    ? bullets
    : input.description.replace(/\s+/g, " ").split(/(?<=[.!?])\s+(?=[A-Z0-9])/);
  for (const c of candidates) push(c);
  if (out.length < 2) {
    const headings = [...(input.repo?.readme ?? "").matchAll(/^#{2,3}\s+(.+)$/gm)].map((m) => m[1]!);
    const generic =
      /^(install|installation|usage|license|contributing|table of contents|getting started|build|test|tests|development|credits|faq)$/i;
    for (const h of headings.filter((h) => !generic.test(h.trim()))) push(`Deliver ${h.trim()}`);
    for (const h of input.documentHints ?? []) push(h);
  }
  if (out.length === 0) push(`Build the first working version of ${input.title}`);
  return out.slice(0, 9);
}

/** A short imperative title from a feature sentence. */
function shortTitle(feature: string): string {
  const clause = feature.split(/[,;:(–—-]\s/)[0]!;
  const words = clause.split(" ").slice(0, 9).join(" ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function pointsFor(feature: string): number {
  const words = feature.split(" ").length;
  if (words <= 8) return 3;
  if (words <= 16) return 5;
  return 8;
}

/** A file-name slug of a title: lower case words joined by `sep`, at most six words. */
const slug = (title: string, sep: string) =>
  title
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .trim()
    .split(" ")
    .slice(0, 6)
    .join(sep) || "feature";

/** Where a stack keeps a task's acceptance test file, e.g. `test/export-to-csv.test.ts`. */
export function acceptanceFile(stack: Stack, title: string): string {
  switch (stack.name) {
    case "Bun":
      return `test/${slug(title, "-")}.test.ts`;
    case "Python":
      return `tests/test_${slug(title, "_")}.py`;
    case "Go":
      return `${slug(title, "_")}_test.go`;
    case "Rust":
      return `tests/${slug(title, "_")}.rs`;
    default:
      return stack.name.startsWith("Node.js") ? `test/${slug(title, "-")}.test.js` : `tests/${slug(title, "-")}.test`;
  }
}

/**
 * Drafted acceptance tests of a task: one test file named after it and one test per acceptance criterion, as
 * "<file> > <criterion>" (the sponsor edits them to the ids the test runner reports).
 */
function acceptanceDraft(stack: Stack, title: string, criteria: string[]) {
  const file = acceptanceFile(stack, title);
  const tests = [...new Set(criteria.map((c) => `${file} > ${c.replace(/\s+/g, " ").slice(0, 200)}`))].slice(0, 4);
  return { acceptanceTests: tests, testFiles: [file] };
}

function task(
  title: string,
  description: string,
  points: number,
  criteria: string[],
  stack: Stack,
  minTests: number,
): PlannedTask {
  const cmd = stack.testCommand;
  return {
    title,
    description,
    points,
    acceptanceCriteria: criteria,
    verification: {
      minPassingTests: minTests,
      testCommand: cmd,
      rules: ["Every test that passed before still passes", "The change comes with tests for its new behaviour"],
      ...acceptanceDraft(stack, title, criteria),
    },
    estimatedHours: points * 2,
  };
}

/** Drafts a plan without a model. Deterministic: the same input gives the same plan. */
export function templatePlan(input: TemplateInput): Plan {
  const stack = detectStack(input.repo?.files ?? []);
  const run = stack.testCommand ? `\`${stack.testCommand}\`` : "the project's test command";
  const features = extractFeatures(input);

  const setup: PlannedTask[] = [
    task(
      "Set up the development environment and CI",
      `Make a fresh clone build and test with documented steps${stack.name !== "unknown" ? ` (${stack.name})` : ""}, and run the tests on every push.`,
      2,
      ["A fresh clone builds by following the README", `CI runs ${run} on every push and pull request`],
      stack,
      1, // a payout needs at least one passing test: CI runs the existing one or a first smoke test
    ),
  ];
  if (!stack.hasTests) {
    setup.push(
      task(
        "Add an automated test harness",
        "Add a test runner and a first test so that every later task can be verified automatically.",
        3,
        [`${run} runs and at least one test passes`, "Tests run without network access"],
        stack,
        1,
      ),
    );
  }
  const milestones: PlannedMilestone[] = [
    {
      title: "Foundation and tooling",
      description: "A reproducible build and an automated test run, so every later task can be verified.",
      acceptanceCriteria: ["The project builds and its tests run automatically"],
      tasks: setup,
    },
  ];

  for (let i = 0; i < features.length; i += 3) {
    const group = features.slice(i, i + 3);
    milestones.push({
      title: `${shortTitle(group[0]!)}${group.length > 1 ? " and related features" : ""}`,
      description: `Covers: ${group.join("; ")}.`,
      acceptanceCriteria: group.map((f) => `Delivers: ${f}`),
      tasks: group.map((f) =>
        task(
          shortTitle(f),
          f,
          pointsFor(f),
          [`Delivers: ${f}`, `Automated tests cover the new behaviour and pass with ${run}`, "No existing test fails"],
          stack,
          2,
        ),
      ),
    });
  }

  milestones.push({
    title: "Documentation and release readiness",
    description: "Usage documentation and hardening before the first release.",
    acceptanceCriteria: ["A new user can install and use the project from the README alone"],
    tasks: [
      task(
        "Document setup and usage",
        "Describe installation, configuration and everyday use in the README.",
        2,
        [
          "The README covers installation, configuration and usage",
          "Every documented command works as written, checked by a test",
        ],
        stack,
        1,
      ),
      task(
        "Harden error handling and edge cases",
        "Handle invalid input and failure paths with clear errors, covered by tests.",
        3,
        ["Invalid input produces a clear error instead of a crash", `Tests for the failure paths pass with ${run}`],
        stack,
        2,
      ),
    ],
  });
  return { milestones: milestones.slice(0, 12) };
}
