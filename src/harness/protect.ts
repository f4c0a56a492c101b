// Protected paths: the files that decide how tests run and are judged (test-runner config, CI config, the
// package manifest's test fields and test-library dependencies, module aliasing). Work that changes any of them
// could make a failing test pass without fixing anything, so a run of such work is refused and each path named.
import type { PathChange } from "./repo";

/** A protected path the work changed, and what about it is protected. */
export interface ProtectedChange {
  path: string;
  why: string;
}

/** Reads a file at the base or the head commit (null when absent or not a plain file). */
export type ReadAt = (which: "base" | "head", path: string) => Promise<Buffer | null>;

const base = (path: string) => path.slice(path.lastIndexOf("/") + 1);

/** Files that configure a test runner, a transform the runner applies, or the package manager's run hooks. */
const RUNNER_CONFIG: [RegExp, string][] = [
  [/^\.?bunfig\.toml$/, "bun's config (test preload, root, coverage)"],
  [/^jest\.config\.[cm]?[jt]sx?$|^jest\.config\.json$|^jest\.(setup|preset)\.[cm]?[jt]s$/, "jest config"],
  [/^vitest\.(config|workspace)\.[cm]?[jt]s$|^vite\.config\.[cm]?[jt]s$/, "vitest config"],
  [/^\.mocharc(\.[cm]?js|\.json|\.jsonc|\.ya?ml)?$|^mocha\.opts$/, "mocha config"],
  [/^ava\.config\.[cm]?js$|^karma\.conf\.[cm]?[jt]s$|^playwright\.config\.[cm]?[jt]s$/, "test runner config"],
  [/^\.taprc$|^\.c8rc(\.json)?$|^\.nycrc(\.json|\.ya?ml)?$/, "test runner config"],
  [/^babel\.config\.[cm]?js(on)?$|^\.babelrc(\.[cm]?js|\.json)?$/, "the transform tests are compiled with"],
  [/^\.npmrc$|^\.yarnrc(\.yml)?$/, "package manager config (node options, hooks)"],
  [/^pytest\.ini$|^tox\.ini$|^conftest\.py$|^setup\.cfg$|^noxfile\.py$|^\.coveragerc$/, "pytest config"],
  [/^sitecustomize\.py$|^usercustomize\.py$|^.*\.pth$/, "Python start-up hook"],
];

/** CI configuration: paths (or directories) whose change is refused. */
const CI_PATHS: RegExp[] = [
  /^\.github\//,
  /^\.gitlab-ci\.yml$/,
  /^\.gitlab\//,
  /^\.circleci\//,
  /^\.buildkite\//,
  /^\.travis\.yml$/,
  /^azure-pipelines\.ya?ml$/,
  /^Jenkinsfile$/,
  /^\.woodpecker(\.ya?ml|\/)/,
  /^\.drone\.ya?ml$/,
  /^\.cargo\/config(\.toml)?$/,
];

/** Dependencies that are (or provide) test runners and assertion libraries. */
const TEST_LIBRARY =
  /^(jest|@jest\/.*|vitest|@vitest\/.*|mocha|chai|chai-.*|expect|ava|tap|tape|uvu|jasmine.*|should|power-assert|sinon|bun-types|@types\/bun|@types\/jest|@types\/mocha|ts-jest|babel-jest|c8|nyc|node-tap|@playwright\/test|@testing-library\/.*)$/;

/** Version specs that point outside the registry: a local folder, a link, a git URL, an alias of another package. */
const NON_REGISTRY_SPEC = /^(file:|link:|portal:|git\+|git:|github:|https?:|npm:|workspace:)|^\.{0,2}\//;

/** package.json fields that change how tests run or which code they load. */
const PACKAGE_FIELDS = [
  "jest",
  "mocha",
  "ava",
  "vitest",
  "c8",
  "nyc",
  "tap",
  "overrides",
  "resolutions",
  "pnpm",
  "patchedDependencies",
  "imports",
  "bun",
  "workspaces",
];
const PACKAGE_SCRIPTS = ["test", "pretest", "posttest", "preinstall", "install", "postinstall", "prepare"];
const DEPENDENCY_FIELDS = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"];

function parseJsonc(text: string): any {
  // tsconfig allows comments and trailing commas; strings are kept as they are.
  const stripped = text
    .replace(/"(?:\\.|[^"\\])*"|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m) => (m.startsWith('"') ? m : ""))
    .replace(/,(\s*[}\]])/g, "$1");
  return JSON.parse(stripped);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** What changed in a package.json that decides how tests run; null when nothing protected changed. */
export function packageJsonChange(before: string | null, after: string | null): string | null {
  let a: any;
  let b: any;
  try {
    a = before === null ? {} : JSON.parse(before);
    b = after === null ? {} : JSON.parse(after);
  } catch {
    return "the manifest does not parse";
  }
  const found: string[] = [];
  for (const s of PACKAGE_SCRIPTS) if (!same(a.scripts?.[s], b.scripts?.[s])) found.push(`scripts.${s}`);
  for (const f of PACKAGE_FIELDS) if (!same(a[f], b[f])) found.push(f);
  for (const field of DEPENDENCY_FIELDS) {
    const names = new Set([...Object.keys(a[field] ?? {}), ...Object.keys(b[field] ?? {})]);
    for (const name of names) {
      const was = a[field]?.[name];
      const now = b[field]?.[name];
      if (same(was, now)) continue;
      if (TEST_LIBRARY.test(name)) found.push(`${field}.${name}`);
      else if (typeof now === "string" && NON_REGISTRY_SPEC.test(now)) found.push(`${field}.${name}: ${now}`);
    }
  }
  return found.length ? found.join(", ") : null;
}

/** What changed in a tsconfig/jsconfig that re-points imports (paths, baseUrl, rootDirs, extends). */
export function tsconfigChange(before: string | null, after: string | null): string | null {
  let a: any;
  let b: any;
  try {
    a = before === null ? {} : parseJsonc(before);
    b = after === null ? {} : parseJsonc(after);
  } catch {
    return "the config does not parse";
  }
  const found: string[] = [];
  for (const k of ["paths", "baseUrl", "rootDirs", "types", "customConditions"])
    if (!same(a.compilerOptions?.[k], b.compilerOptions?.[k])) found.push(`compilerOptions.${k}`);
  if (!same(a.extends, b.extends)) found.push("extends");
  return found.length ? found.join(", ") : null;
}

/** Whether a pyproject.toml's pytest section ([tool.pytest…]) changed. */
export function pyprojectChange(before: string | null, after: string | null): string | null {
  const section = (text: string | null) => {
    if (text === null) return null;
    const tool = (Bun.TOML.parse(text) as { tool?: Record<string, unknown> }).tool ?? {};
    return { pytest: tool.pytest, coverage: tool.coverage, hatch: (tool.hatch as any)?.envs };
  };
  try {
    return same(section(before), section(after)) ? null : "[tool.pytest] (or coverage, hatch envs)";
  } catch {
    return "the file does not parse";
  }
}

/**
 * The protected paths among the work's changes. `read` gives a file's content at the base and the head, so that
 * manifests count only when a test-related field changed (a new runtime dependency is fine).
 */
export async function protectedChanges(changes: readonly PathChange[], read: ReadAt): Promise<ProtectedChange[]> {
  const found: ProtectedChange[] = [];
  const text = async (which: "base" | "head", path: string) => (await read(which, path))?.toString("utf8") ?? null;
  for (const { path, status } of changes) {
    const name = base(path);
    const runner = RUNNER_CONFIG.find(([re]) => re.test(name));
    if (runner) {
      found.push({ path, why: runner[1] });
    } else if (CI_PATHS.some((re) => re.test(path))) {
      found.push({ path, why: "CI config" });
    } else if (name === "package.json") {
      // A symlink or a type change (T) is refused outright: its content cannot be compared.
      const why =
        status === "T" ? "changed type" : packageJsonChange(await text("base", path), await text("head", path));
      if (why) found.push({ path, why });
    } else if (/^[tj]sconfig(\..+)?\.json$/.test(name)) {
      const why = tsconfigChange(await text("base", path), await text("head", path));
      if (why) found.push({ path, why });
    } else if (name === "pyproject.toml") {
      const why = pyprojectChange(await text("base", path), await text("head", path));
      if (why) found.push({ path, why });
    }
  }
  return found;
}

/**
 * Runner config files at the top of a checkout: after the install (whose scripts the work controls) and before
 * each run they are put back as committed, and removed when the commit has none, so a postinstall script or an
 * earlier run cannot add a preload the diff never showed.
 */
export const TOP_LEVEL_RUNNER_CONFIG = [
  "bunfig.toml",
  ".bunfig.toml",
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
  "pytest.ini",
  "tox.ini",
  "conftest.py",
  "setup.cfg",
  "sitecustomize.py",
  "usercustomize.py",
  ".mocharc.js",
  ".mocharc.cjs",
  ".mocharc.json",
  ".mocharc.yml",
  ".mocharc.yaml",
  ".babelrc",
  "babel.config.js",
  "babel.config.cjs",
  "babel.config.json",
  ...["js", "cjs", "mjs", "ts", "mts", "cts", "json"].map((e) => `jest.config.${e}`),
  ...["js", "mjs", "ts", "mts"].flatMap((e) => [`vitest.config.${e}`, `vite.config.${e}`]),
];
