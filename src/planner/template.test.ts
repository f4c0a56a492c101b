import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Plan } from "../milestones/model";
import { MAX_MIN_PASSING } from "../milestones/model";
import { scrub, snapshotRepo } from "./repo-snapshot";
import { detectStack, extractFeatures, plainText, templatePlan } from "./template";

const DESCRIPTION = `A command-line tool that converts CSV files to JSON.
- Parse CSV with quoted fields and custom delimiters
- Stream large files without loading them into memory
- Output pretty or compact JSON
- Report malformed rows with line numbers`;

describe("template planner", () => {
  const repo = { files: ["bun.lock", "package.json", "src/index.ts", "src/index.test.ts"], readme: "# csv2json\n" };

  test("drafts a valid plan (the strict schema) from the description's list and the repository", () => {
    const plan = templatePlan({ title: "csv2json", description: DESCRIPTION, repo });
    expect(Plan.safeParse(plan).success).toBe(true);
    const tasks = plan.milestones.flatMap((m) => m.tasks);
    expect(tasks.some((t) => t.title.startsWith("Parse CSV"))).toBe(true);
    expect(tasks.every((t) => t.verification.testCommand === "bun test")).toBe(true);
    expect(tasks.every((t) => Number.isInteger(t.points) && t.points >= 1)).toBe(true);
    expect(plan.milestones[0]!.title).toBe("Foundation and tooling");
    expect(plan.milestones.at(-1)!.title).toBe("Documentation and release readiness");
  });

  test("every task's rule can be paid: 1 to 64 passing tests, with or without tests in the repository", () => {
    for (const files of [repo.files, ["README.md"]]) {
      const plan = templatePlan({ title: "csv2json", description: DESCRIPTION, repo: { files, readme: "" } });
      expect(Plan.safeParse(plan).success).toBe(true);
      for (const t of plan.milestones.flatMap((m) => m.tasks)) {
        expect(t.verification.minPassingTests).toBeGreaterThanOrEqual(1);
        expect(t.verification.minPassingTests).toBeLessThanOrEqual(MAX_MIN_PASSING);
      }
    }
    // and the schema refuses a rule the payout proof could never meet
    const task = templatePlan({ title: "x", description: DESCRIPTION, repo }).milestones[0]!.tasks[0]!;
    for (const bad of [0, MAX_MIN_PASSING + 1]) {
      const plan = {
        milestones: [
          {
            ...templatePlan({ title: "x", description: DESCRIPTION, repo }).milestones[0]!,
            tasks: [{ ...task, verification: { ...task.verification, minPassingTests: bad } }],
          },
        ],
      };
      expect(Plan.safeParse(plan).success).toBe(false);
    }
  });

  test("is deterministic", () => {
    const a = templatePlan({ title: "csv2json", description: DESCRIPTION, repo });
    const b = templatePlan({ title: "csv2json", description: DESCRIPTION, repo: { ...repo, files: [...repo.files] } });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  test("without tests in the repository it plans a test harness first", () => {
    const plan = templatePlan({
      title: "x",
      description: "Build a parser. Add a CLI.",
      repo: { files: ["go.mod", "main.go"], readme: null },
    });
    expect(plan.milestones[0]!.tasks.map((t) => t.title)).toContain("Add an automated test harness");
    expect(plan.milestones[0]!.tasks[0]!.verification.testCommand).toBe("go test ./...");
  });

  test("falls back to README headings, then to the title", () => {
    expect(
      extractFeatures({
        title: "T",
        description: "",
        repo: { files: [], readme: "# T\n## Usage\n## Offline sync engine\n" },
      }),
    ).toEqual(["Deliver Offline sync engine"]);
    expect(extractFeatures({ title: "Widget", description: "" })).toEqual([
      "Build the first working version of Widget",
    ]);
    expect(Plan.safeParse(templatePlan({ title: "Widget", description: "" })).success).toBe(true);
  });

  test("keeps names as written: code spans and inner underscores stay, Markdown marks go", () => {
    const description = [
      "- Add `chunked_even()` to split the work into **even** chunks",
      "- Keep `__init__` and snake_case_names as _they_ are",
      "- Support C# and the a*b operator",
    ].join("\n");
    expect(extractFeatures({ title: "T", description })).toEqual([
      "Add chunked_even() to split the work into even chunks",
      "Keep __init__ and snake_case_names as they are",
      "Support C# and the a*b operator",
    ]);
    expect(plainText("## > not a quote")).toBe("> not a quote");
    const plan = templatePlan({ title: "T", description });
    expect(plan.milestones[1]!.tasks[0]!.title).toBe("Add chunked_even() to split the work into even chunks");
    // the page labels a template draft once; the plan's own text does not repeat it
    expect(JSON.stringify(plan)).not.toContain("Template draft");
  });

  test("detects the usual toolchains", () => {
    expect(detectStack(["package.json", "package-lock.json"]).testCommand).toBe("npm test");
    expect(detectStack(["pyproject.toml", "tests/test_x.py"])).toEqual({
      name: "Python",
      testCommand: "pytest",
      hasTests: true,
    });
    expect(detectStack(["Cargo.toml"]).testCommand).toBe("cargo test");
    expect(detectStack(["README.md"]).testCommand).toBe("");
  });
});

describe("repository snapshot", () => {
  const dir = mkdtempSync(join(tmpdir(), "ds-plan-repo-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const git = (...args: string[]) => {
    const r = Bun.spawnSync(["git", "-C", dir, ...args], {
      env: {
        ...process.env,
        GIT_AUTHOR_NAME: "t",
        GIT_AUTHOR_EMAIL: "t@t",
        GIT_COMMITTER_NAME: "t",
        GIT_COMMITTER_EMAIL: "t@t",
      },
    });
    if (r.exitCode !== 0) throw new Error(r.stderr.toString());
  };

  test("reads the tree and README of a local repository through a shallow clone", async () => {
    git("init", "-q", "-b", "main");
    mkdirSync(join(dir, "src"));
    writeFileSync(join(dir, "README.md"), "# Demo\n\n## Features\n");
    writeFileSync(join(dir, "package.json"), "{}");
    writeFileSync(join(dir, "src", "a.ts"), "export const a = 1;\n");
    writeFileSync(join(dir, "untracked.tmp"), "x");
    git("add", "README.md", "package.json", "src/a.ts");
    git("commit", "-q", "-m", "init");
    const snap = await snapshotRepo(dir);
    expect(snap.files).toEqual(["README.md", "package.json", "src/a.ts"]);
    expect(snap.readme).toContain("# Demo");
    expect(snap.readmePath).toBe("README.md");
  });

  test("a failing clone reports git's error without the access token", async () => {
    const token = "ghs_supersecrettoken1234567890";
    const err = await snapshotRepo("http://127.0.0.1:9/owner/repo.git", { token, timeoutMs: 10_000 }).catch(
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain("git clone failed");
    expect((err as Error).message).not.toContain(token);
    expect((err as Error).message).not.toContain(Buffer.from(`x-access-token:${token}`).toString("base64"));
  });

  test("git's command-running transports are refused", async () => {
    const err = await snapshotRepo("ext::sh -c touch% /tmp/pwned-by-planner").catch((e: Error) => e);
    expect((err as Error).message).toMatch(/git clone failed/);
  });

  test("scrub removes tokens and URL credentials", () => {
    expect(scrub("fatal: https://user:pw@host/x and tok123456", ["tok123456"])).toBe(
      "fatal: https://[redacted]@host/x and [redacted]",
    );
  });
});
