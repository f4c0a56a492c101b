// Result parsers: JUnit XML (bun test, pytest, most runners), TAP (node --test, tap, many others), the Go test
// runner's JSON (go test -json), and cargo test's output. Each returns the tests it saw with a stable id; times
// and other run-to-run noise are dropped so that the same code gives the same list.
import { AppError } from "../core/errors";

/** Outcome of one test. */
export type TestStatus = "passed" | "failed" | "skipped";

/** One test seen in a runner's report. */
export interface ParsedTest {
  id: string;
  status: TestStatus;
}

/** Report formats the harness reads. */
export type ResultFormat = "junit" | "tap" | "go-json" | "cargo";

/** Separator between the parts of a test id (file > suite > test). */
export const ID_SEPARATOR = " > ";

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" || e[1] === "X" ? Number.parseInt(e.slice(2), 16) : Number(e.slice(1));
      return Number.isFinite(code) ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[e.toLowerCase()] ?? whole;
  });
}

function attributes(tag: string): Record<string, string> {
  const attrs: Record<string, string> = {};
  for (const m of tag.matchAll(/([\w:.-]+)\s*=\s*("([^"]*)"|'([^']*)')/g)) attrs[m[1]!] = decodeXml(m[3] ?? m[4] ?? "");
  return attrs;
}

/**
 * Parses JUnit XML. A test's id is its file (or classname, or outermost suite) then any nested suites, then its
 * name: `a.test.ts > group > adds`.
 */
export function parseJUnit(xml: string): ParsedTest[] {
  const tests: ParsedTest[] = [];
  const suites: string[] = [];
  // Comments and CDATA may hold anything, including tags.
  const clean = xml.replace(/<!--[\s\S]*?-->/g, "").replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, "");
  const tagRe = /<(\/?)(testsuites|testsuite|testcase|failure|error|skipped)\b([^>]*?)(\/?)>/g;
  let current: { id: string; status: TestStatus } | null = null;
  for (const m of clean.matchAll(tagRe)) {
    const [, closing, name, rest, selfClosing] = m as unknown as [string, string, string, string, string];
    if (name === "testsuite") {
      if (closing) suites.pop();
      else if (!selfClosing) suites.push(attributes(rest).name ?? "");
    } else if (name === "testcase") {
      if (closing) {
        if (current) tests.push(current);
        current = null;
        continue;
      }
      const a = attributes(rest);
      const base = a.file || a.classname || suites[0] || "";
      const parts = [base, ...suites.slice(1), a.name ?? ""].filter((p) => p !== "");
      const test = { id: parts.join(ID_SEPARATOR), status: "passed" as TestStatus };
      if (selfClosing) tests.push(test);
      else current = test;
    } else if (current && !closing) {
      if (name === "skipped") {
        if (current.status !== "failed") current.status = "skipped";
      } else if (name === "failure" || name === "error") {
        current.status = "failed";
      }
    }
  }
  if (current) tests.push(current);
  return tests;
}

/** True when text looks like TAP (a version line, or a plan and result lines). */
export function looksLikeTap(text: string): boolean {
  return /^TAP version \d+$/m.test(text) || (/^\s*1\.\.\d+/m.test(text) && /^\s*(not )?ok\b/m.test(text));
}

/**
 * Parses TAP 13/14 including indented subtests (node --test). Only leaves are tests: a result line with
 * subtests above it is their parent and prefixes their ids.
 */
export function parseTap(text: string): ParsedTest[] {
  type Entry = { path: string[]; status: TestStatus };
  const pending = new Map<number, Entry[]>();
  let yamlIndent = -1;
  for (const raw of text.split(/\r?\n/)) {
    const indent = raw.length - raw.trimStart().length;
    const line = raw.trim();
    if (yamlIndent >= 0) {
      if (line === "..." && indent === yamlIndent) yamlIndent = -1;
      continue;
    }
    if (line === "---") {
      yamlIndent = indent;
      continue;
    }
    const m = /^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*)$/.exec(line);
    if (!m) continue;
    const depth = Math.floor(indent / 4);
    let desc = m[3] ?? "";
    let directive = "";
    const hash = desc.search(/(^|\s)#\s*(SKIP|TODO)\b/i);
    if (hash >= 0) {
      directive = desc
        .slice(hash)
        .replace(/^\s*#\s*/, "")
        .split(/\s/)[0]!
        .toUpperCase();
      desc = desc.slice(0, hash).trim();
    }
    desc = desc.replace(/\\#/g, "#").trim() || `#${m[2] ?? "?"}`;
    const status: TestStatus =
      directive === "SKIP" || directive === "TODO" ? "skipped" : m[1] === "ok" ? "passed" : "failed";
    const children = pending.get(depth + 1) ?? [];
    const here = pending.get(depth) ?? [];
    if (children.length > 0) {
      for (const c of children) here.push({ path: [desc, ...c.path], status: c.status });
      pending.delete(depth + 1);
    } else {
      here.push({ path: [desc], status });
    }
    pending.set(depth, here);
  }
  const depths = [...pending.keys()].sort((a, b) => a - b);
  return depths.flatMap((d) => pending.get(d)!).map((e) => ({ id: e.path.join(ID_SEPARATOR), status: e.status }));
}

/** Parses `go test -json` (test2json) output: one test per package and name; parents of subtests are dropped. */
export function parseGoTestJson(text: string): ParsedTest[] {
  const results = new Map<string, TestStatus>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let ev: { Action?: string; Package?: string; Test?: string };
    try {
      ev = JSON.parse(line);
    } catch {
      continue;
    }
    if (!ev.Test || !ev.Action) continue;
    const id = `${ev.Package ?? ""}${ID_SEPARATOR}${ev.Test}`;
    if (ev.Action === "pass") results.set(id, "passed");
    else if (ev.Action === "fail") results.set(id, "failed");
    else if (ev.Action === "skip") results.set(id, "skipped");
  }
  const ids = [...results.keys()];
  return ids
    .filter((id) => !ids.some((other) => other.startsWith(`${id}/`)))
    .map((id) => ({ id, status: results.get(id)! }));
}

/** Parses cargo test output: `test path::name ... ok|FAILED|ignored`, ids prefixed by the test target. */
export function parseCargoTest(text: string): ParsedTest[] {
  const tests: ParsedTest[] = [];
  let target = "";
  for (const line of text.split("\n")) {
    const run = /^\s*(Running|Doc-tests)\s+(.*?)(\s+\(.*\))?\s*$/.exec(line);
    if (run) {
      target = run[1] === "Doc-tests" ? `doc ${run[2]}` : run[2]!;
      continue;
    }
    const m = /^test (.+?) \.\.\. (ok|FAILED|ignored)(?:,.*)?$/.exec(line.trim());
    if (!m) continue;
    const status: TestStatus = m[2] === "ok" ? "passed" : m[2] === "FAILED" ? "failed" : "skipped";
    tests.push({ id: target ? `${target}${ID_SEPARATOR}${m[1]}` : m[1]!, status });
  }
  return tests;
}

/** Longest test id kept in a digest. */
export const MAX_TEST_ID_LENGTH = 1000;

/** A step's tests with each id once, and the ids its runner reported more than once. */
export interface UniqueTests {
  tests: ParsedTest[];
  duplicates: string[];
}

/**
 * Checks the ids a step reported (each printable and bounded: no NUL or control characters, which logs, the
 * digest and the report pages would carry) and makes each id one test. Real suites repeat names (a loop that
 * registers one title several times, two tests with the same title in a describe block), so a repeated id is
 * not an error: it becomes one test that failed when any report of it failed, passed when none failed and one
 * passed, skipped otherwise. A failing test therefore cannot hide behind a passing one of the same name, and
 * nothing is renamed (a numbered suffix would let a new test shift which report gets which name).
 */
export function uniqueTests(step: string, tests: readonly ParsedTest[]): UniqueTests {
  const byId = new Map<string, ParsedTest>();
  const duplicates = new Set<string>();
  for (const t of tests) {
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
    if (t.id.length > MAX_TEST_ID_LENGTH || /[\u0000-\u001f\u007f]/.test(t.id)) {
      throw new AppError(
        "INVALID_TEST_ID",
        `Step ${step} reported a test id with control characters or over ${MAX_TEST_ID_LENGTH} characters.`,
        422,
        {
          step,
          testId: JSON.stringify(t.id.slice(0, 200)),
        },
      );
    }
    const seen = byId.get(t.id);
    if (!seen) {
      byId.set(t.id, { id: t.id, status: t.status });
      continue;
    }
    duplicates.add(t.id);
    if (t.status === "failed" || (t.status === "passed" && seen.status === "skipped")) seen.status = t.status;
  }
  return { tests: [...byId.values()], duplicates: [...duplicates] };
}

/** Parses a report in the given format. */
export function parseResults(format: ResultFormat, text: string): ParsedTest[] {
  switch (format) {
    case "junit":
      return parseJUnit(text);
    case "tap":
      return parseTap(text);
    case "go-json":
      return parseGoTestJson(text);
    case "cargo":
      return parseCargoTest(text);
  }
}
