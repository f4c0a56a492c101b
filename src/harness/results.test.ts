import { describe, expect, test } from "bun:test";
import type { AppError } from "../core/errors";
import {
  uniqueTests,
  looksLikeTap,
  MAX_TEST_ID_LENGTH,
  parseCargoTest,
  parseGoTestJson,
  parseJUnit,
  parseTap,
} from "./results";

// Real reports, captured from the runners in the harness image.
const BUN_JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="bun test" tests="5" assertions="2" failures="1" skipped="1" time="0.021288428">
  <testsuite name="a.test.ts" file="a.test.ts" tests="4" assertions="2" failures="1" skipped="1" time="0.002103144" hostname="vm">
    <testcase name="adds" classname="" time="0.000041" file="a.test.ts" line="2" assertions="1" />
    <testsuite name="group" file="a.test.ts" line="3" tests="3" assertions="1" failures="1" skipped="1" time="0" hostname="vm">
      <testcase name="fails" classname="group" time="0.000131" file="a.test.ts" line="3" assertions="1">
        <failure type="AssertionError" message="expect(received).toBe(expected)&#10;&#10;Expected: 2&#10;Received: 1&#10;">AssertionError: expect(received).toBe(expected)&#10;&#10;Expected: 2&#10;Received: 1&#10;&#10;</failure>
      </testcase>
      <testcase name="skipped" classname="group" time="0" file="a.test.ts" line="3" assertions="0">
        <skipped />
      </testcase>
      <testsuite name="inner" file="a.test.ts" line="3" tests="1" assertions="0" failures="0" skipped="0" time="0" hostname="vm">
        <testcase name="deep &amp; &lt;x&gt;" classname="inner &gt; group" time="0.000011" file="a.test.ts" assertions="0" />
      </testsuite>
    </testsuite>
  </testsuite>
  <testsuite name="sub/b.test.ts" file="sub/b.test.ts" tests="1" assertions="0" failures="0" skipped="0" time="0.000354676" hostname="vm">
    <testcase name="adds" classname="" time="0.00001" file="sub/b.test.ts" line="2" assertions="0" />
  </testsuite>
</testsuites>`;

const PYTEST_JUNIT = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="4" time="0.056" timestamp="2026-11-22T03:49:43.085881" hostname="191f1a297317"><testcase classname="tests.test_a" name="test_ok" time="0.001" /><testcase classname="tests.test_a" name="test_bad" time="0.001"><failure message="assert 0">def test_bad():
&gt;       assert 0
E       assert 0

tests/test_a.py:5: AssertionError</failure></testcase><testcase classname="tests.test_a" name="test_skip" time="0.000"><skipped type="pytest.skip" message="unconditional skip">/tmp/tests/test_a.py:6: unconditional skip</skipped></testcase><testcase classname="tests.test_a.TestK" name="test_m" time="0.000" /></testsuite></testsuites>`;

const NODE_TAP = `TAP version 13
# Subtest: top
    # Subtest: child ok
    ok 1 - child ok
      ---
      duration_ms: 1.031344
      ...
    # Subtest: child bad
    not ok 2 - child bad
      ---
      duration_ms: 1.843326
      location: 'file:///p/t.mjs:3:72'
      failureType: 'testCodeFailure'
      error: '1 == 2'
      code: 'ERR_ASSERTION'
      name: 'AssertionError'
      expected: 2
      actual: 1
      operator: '=='
      stack: |-
        TestContext.<anonymous> (file:///p/t.mjs:3:103)
        Test.runInAsyncScope (node:async_hooks:203:9)
        Test.run (node:internal/test_runner/test:631:25)
        Test.start (node:internal/test_runner/test:542:17)
        TestContext.test (node:internal/test_runner/test:167:20)
        TestContext.<anonymous> (file:///p/t.mjs:3:72)
        async Test.run (node:internal/test_runner/test:632:9)
        async startSubtest (node:internal/test_runner/harness:214:3)
      ...
    1..2
not ok 1 - top
  ---
  duration_ms: 5.925321
  location: 'file:///p/t.mjs:3:1'
  failureType: 'subtestsFailed'
  error: '1 subtest failed'
  code: 'ERR_TEST_FAILURE'
  ...
# Subtest: plain
ok 2 - plain
  ---
  duration_ms: 0.319779
  ...
# Subtest: skipped
ok 3 - skipped # SKIP
  ---
  duration_ms: 0.097473
  ...
1..3
# tests 5
# suites 0
# pass 2
# fail 2
# cancelled 0
# skipped 1
# todo 0
# duration_ms 314.973848`;

describe("JUnit XML", () => {
  test("bun test: nested describes, failures, skips, escaped names", () => {
    expect(parseJUnit(BUN_JUNIT)).toEqual([
      { id: "a.test.ts > adds", status: "passed" },
      { id: "a.test.ts > group > fails", status: "failed" },
      { id: "a.test.ts > group > skipped", status: "skipped" },
      { id: "a.test.ts > group > inner > deep & <x>", status: "passed" },
      { id: "sub/b.test.ts > adds", status: "passed" },
    ]);
  });

  test("pytest: classname then name", () => {
    expect(parseJUnit(PYTEST_JUNIT)).toEqual([
      { id: "tests.test_a > test_ok", status: "passed" },
      { id: "tests.test_a > test_bad", status: "failed" },
      { id: "tests.test_a > test_skip", status: "skipped" },
      { id: "tests.test_a.TestK > test_m", status: "passed" },
    ]);
  });

  test("errors count as failures; tags inside CDATA and comments are ignored", () => {
    const xml = `<testsuite name="s"><!-- <testcase name="ghost"/> --><testcase classname="c" name="e"><error><![CDATA[<testcase name="x"/>]]></error></testcase><testcase classname='c' name='q&#39;s'></testcase></testsuite>`;
    expect(parseJUnit(xml)).toEqual([
      { id: "c > e", status: "failed" },
      { id: "c > q's", status: "passed" },
    ]);
  });

  test("timings do not change the result", () => {
    expect(parseJUnit(BUN_JUNIT.replace(/time="[^"]*"/g, 'time="9.99"'))).toEqual(parseJUnit(BUN_JUNIT));
  });
});

describe("TAP", () => {
  test("node --test: subtests are leaves under their parent, YAML blocks skipped", () => {
    expect(looksLikeTap(NODE_TAP)).toBe(true);
    expect(parseTap(NODE_TAP)).toEqual([
      { id: "top > child ok", status: "passed" },
      { id: "top > child bad", status: "failed" },
      { id: "plain", status: "passed" },
      { id: "skipped", status: "skipped" },
    ]);
  });

  test("plain TAP 13 with directives", () => {
    const tap = "1..4\nok 1 - one\nnot ok 2 - two\nnot ok 3 - three # TODO later\nok 4 # SKIP no db\n";
    expect(parseTap(tap)).toEqual([
      { id: "one", status: "passed" },
      { id: "two", status: "failed" },
      { id: "three", status: "skipped" },
      { id: "#4", status: "skipped" },
    ]);
    expect(looksLikeTap("hello\nworld")).toBe(false);
  });
});

test("go test -json: per package, subtests replace their parent", () => {
  const lines = [
    { Action: "run", Package: "ex/a", Test: "TestA" },
    { Action: "output", Package: "ex/a", Test: "TestA", Output: "ok" },
    { Action: "pass", Package: "ex/a", Test: "TestA", Elapsed: 0.01 },
    { Action: "fail", Package: "ex/a", Test: "TestB/sub_one" },
    { Action: "pass", Package: "ex/a", Test: "TestB/sub_two" },
    { Action: "fail", Package: "ex/a", Test: "TestB" },
    { Action: "skip", Package: "ex/b", Test: "TestC" },
    { Action: "fail", Package: "ex/b" },
  ];
  expect(parseGoTestJson(lines.map((l) => JSON.stringify(l)).join("\n"))).toEqual([
    { id: "ex/a > TestA", status: "passed" },
    { id: "ex/a > TestB/sub_one", status: "failed" },
    { id: "ex/a > TestB/sub_two", status: "passed" },
    { id: "ex/b > TestC", status: "skipped" },
  ]);
});

test("cargo test output, targets kept apart", () => {
  const out = `   Compiling ex v0.1.0
     Running unittests src/lib.rs (target/debug/deps/ex-1a2b3c)

running 2 tests
test tests::adds ... ok
test tests::fails ... FAILED

     Running tests/it.rs (target/debug/deps/it-4d5e6f)
test adds ... ok
test slow ... ignored, needs db
   Doc-tests ex
test src/lib.rs - add (line 3) ... ok
`;
  expect(parseCargoTest(out)).toEqual([
    { id: "unittests src/lib.rs > tests::adds", status: "passed" },
    { id: "unittests src/lib.rs > tests::fails", status: "failed" },
    { id: "tests/it.rs > adds", status: "passed" },
    { id: "tests/it.rs > slow", status: "skipped" },
    { id: "doc ex > src/lib.rs - add (line 3)", status: "passed" },
  ]);
});

describe("test ids", () => {
  const code = (tests: { id: string; status: "passed" | "failed" | "skipped" }[]) => {
    try {
      uniqueTests("test", tests);
      return null;
    } catch (err) {
      return (err as AppError).code;
    }
  };

  test("control characters and overlong ids are refused; ordinary ids with paths pass", () => {
    expect(code([{ id: "a.test.ts\0 > x", status: "passed" }])).toBe("INVALID_TEST_ID");
    expect(code([{ id: "a.test.ts > line\nbreak", status: "passed" }])).toBe("INVALID_TEST_ID");
    expect(code([{ id: "x".repeat(MAX_TEST_ID_LENGTH + 1), status: "passed" }])).toBe("INVALID_TEST_ID");
    expect(code([{ id: "src/a.test.ts > ünïcode > 1/2", status: "passed" }])).toBeNull();
  });

  test("one id reported twice is one test: failed when any report failed, whatever the order", () => {
    const pass = { id: "a > b", status: "passed" as const };
    const fail = { id: "a > b", status: "failed" as const };
    const skip = { id: "a > b", status: "skipped" as const };
    const other = { id: "a > c", status: "passed" as const };
    expect(uniqueTests("test", [pass, other, fail])).toEqual({ tests: [fail, other], duplicates: ["a > b"] });
    expect(uniqueTests("test", [fail, pass, pass])).toEqual({ tests: [fail], duplicates: ["a > b"] });
    expect(uniqueTests("test", [skip, pass]).tests).toEqual([pass]);
    expect(uniqueTests("test", [pass, skip]).tests).toEqual([pass]);
    expect(uniqueTests("test", [skip, skip]).tests).toEqual([skip]);
    expect(uniqueTests("test", [pass, other])).toEqual({ tests: [pass, other], duplicates: [] });
  });
});
