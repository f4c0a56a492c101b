import { describe, expect, test } from "bun:test";
import { packageJsonChange, protectedChanges, pyprojectChange, tsconfigChange } from "./protect";

const pkg = (o: Record<string, unknown>) => JSON.stringify({ name: "x", ...o });

describe("protected paths", () => {
  test("runner and CI config anywhere, by name, are refused; source and test files are not", async () => {
    const files: Record<string, string | null> = {};
    const read = async (_w: "base" | "head", p: string) => (files[p] == null ? null : Buffer.from(files[p]!));
    const found = await protectedChanges(
      [
        { status: "M", path: "bunfig.toml" },
        { status: "A", path: "packages/a/jest.config.ts" },
        { status: "A", path: "tests/conftest.py" },
        { status: "M", path: ".github/workflows/ci.yml" },
        { status: "D", path: ".gitlab-ci.yml" },
        { status: "A", path: "vitest.config.mts" },
        { status: "M", path: "src/math.ts" },
        { status: "D", path: "math.test.ts" },
        { status: "A", path: "docs/bunfig.md" },
      ],
      read,
    );
    expect(found.map((f) => f.path)).toEqual([
      "bunfig.toml",
      "packages/a/jest.config.ts",
      "tests/conftest.py",
      ".github/workflows/ci.yml",
      ".gitlab-ci.yml",
      "vitest.config.mts",
    ]);
  });

  test("package.json: test scripts, runner fields, test libraries and non-registry specs; not other deps", () => {
    const before = pkg({ scripts: { test: "bun test", build: "tsc" }, dependencies: { zod: "^4" } });
    expect(
      packageJsonChange(
        before,
        pkg({ scripts: { test: "bun test", build: "tsc -b" }, dependencies: { zod: "^4", hono: "^4" } }),
      ),
    ).toBeNull();
    expect(
      packageJsonChange(before, pkg({ scripts: { test: "true", build: "tsc" }, dependencies: { zod: "^4" } })),
    ).toBe("scripts.test");
    expect(
      packageJsonChange(
        before,
        pkg({ scripts: { test: "bun test", build: "tsc" }, dependencies: { zod: "file:./zod" } }),
      ),
    ).toBe("dependencies.zod: file:./zod");
    expect(
      packageJsonChange(
        before,
        pkg({
          scripts: { test: "bun test", build: "tsc" },
          dependencies: { zod: "^4" },
          devDependencies: { chai: "^5" },
        }),
      ),
    ).toBe("devDependencies.chai");
    expect(
      packageJsonChange(
        before,
        pkg({
          scripts: { test: "bun test", build: "tsc" },
          dependencies: { zod: "^4" },
          overrides: { expect: "npm:fake@1" },
        }),
      ),
    ).toBe("overrides");
    expect(packageJsonChange(before, "{ not json")).toBe("the manifest does not parse");
  });

  test("tsconfig paths and pyproject's pytest section", () => {
    const a = '{ // comment\n "compilerOptions": { "strict": true, "paths": { "@/*": ["src/*"] }, }, }';
    expect(tsconfigChange(a, a.replace('"strict": true', '"strict": false'))).toBeNull();
    expect(tsconfigChange(a, a.replace("src/*", "fake/*"))).toBe("compilerOptions.paths");
    const py = '[project]\nname = "x"\n\n[tool.pytest.ini_options]\naddopts = "-q"\n';
    expect(pyprojectChange(py, py.replace('name = "x"', 'name = "y"'))).toBeNull();
    expect(pyprojectChange(py, py.replace("-q", "-q -p fake"))).not.toBeNull();
  });
});
