import { describe, expect, test } from "bun:test";
import { evaluateRule, matchNamed } from "./rule";

const t = (id: string, passed: boolean) => ({ id, passed });

describe("the acceptance rule", () => {
  const base = [t("test > a.test.ts > old", true), t("test > a.test.ts > target", false), t("test", false)];

  test("named tests passed and nothing regressed: holds (failures the base had do not count)", () => {
    const r = evaluateRule({
      tests: [t("test > a.test.ts > old", true), t("test > a.test.ts > target", true), t("test > b > broken", false)],
      named: ["test > a.test.ts > target"],
      minPassing: 1,
      baseTests: [...base, t("test > b > broken", false)],
      flaky: [],
    });
    expect(r).toEqual({
      holds: true,
      named: [{ id: "test > a.test.ts > target", status: "passed" }],
      newFailures: [],
      reason: null,
    });
  });

  test("a named test that did not run is missing, not passed; ids match exactly", () => {
    const r = evaluateRule({
      tests: [t("test > a.test.ts > old", true), t("a.test.ts > target", true), t("test > a.test.ts > Target", true)],
      named: ["test > a.test.ts > target"],
      minPassing: 1,
      baseTests: base,
      flaky: [],
    });
    expect(r.holds).toBe(false);
    expect(r.named).toEqual([{ id: "test > a.test.ts > target", status: "missing" }]);
    expect(r.reason).toContain("Acceptance test missing: test > a.test.ts > target");
    expect(matchNamed("a.test.ts > target", [t("test > a.test.ts > target", true)])).toBeUndefined();
  });

  test("a test that passed at the base and fails now is a new failure; so is a new failing test", () => {
    const r = evaluateRule({
      tests: [t("test > a.test.ts > old", false), t("test > a.test.ts > target", true), t("test > new", false)],
      named: ["test > a.test.ts > target"],
      minPassing: 1,
      baseTests: base,
      flaky: [],
    });
    expect(r.holds).toBe(false);
    expect(r.newFailures).toEqual(["test > a.test.ts > old", "test > new"]);
    expect(r.reason).toContain("2 tests failing that did not fail at the base commit");
  });

  test("a flaky named test is not passed", () => {
    const r = evaluateRule({
      tests: [t("test > a.test.ts > target", true)],
      named: ["test > a.test.ts > target"],
      minPassing: 1,
      baseTests: null,
      flaky: ["test > a.test.ts > target"],
    });
    expect(r.holds).toBe(false);
    expect(r.named[0]!.status).toBe("flaky");
  });

  test("without named tests: every test passes and at least minPassing of them", () => {
    const ok = [t("test > x", true), t("test > y", true)];
    expect(evaluateRule({ tests: ok, named: [], minPassing: 2, baseTests: null, flaky: [] }).holds).toBe(true);
    const few = evaluateRule({ tests: ok, named: [], minPassing: 3, baseTests: null, flaky: [] });
    expect(few.reason).toBe("2 tests passed; the task asks for at least 3.");
    const crashed = evaluateRule({ tests: [t("test", false)], named: [], minPassing: 1, baseTests: null, flaky: [] });
    expect(crashed.holds).toBe(false);
    expect(crashed.reason).toBe("Step test did not end OK and reported no failing test");
    const both = evaluateRule({
      tests: [t("test", false), t("test > x", false)],
      named: [],
      minPassing: 1,
      baseTests: null,
      flaky: [],
    });
    expect(both.reason).toBe("1 test failed: test > x");
    expect(evaluateRule({ tests: [], named: [], minPassing: 1, baseTests: null, flaky: [] }).holds).toBe(false);
  });
});
