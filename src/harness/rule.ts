// The rule that decides a verification, from the tests the runner reported (never from exit codes): every named
// acceptance test ran and passed, and no test fails now that did not fail at the base commit. A task without
// named tests needs every test to pass and at least `minPassing` of them.
import { ID_SEPARATOR } from "./results";

/** Most acceptance tests a task may name (the proof has this many named slots). */
export const MAX_NAMED_TESTS = 32;

/** A reported test: its full id (`<step> > <file> > <name>`) and whether it passed. */
export interface RuleTest {
  id: string;
  passed: boolean;
}

/** How one named test ended: missing (no reported test matches) counts as not passed. */
export interface NamedOutcome {
  id: string;
  status: "passed" | "failed" | "missing" | "flaky";
}

/** The rule's inputs. */
export interface RuleInput {
  /** Every test of the run (no step leaves). */
  tests: readonly RuleTest[];
  named: readonly string[];
  minPassing: number;
  /** The same suite at the base commit; null when there is no base to compare with. */
  baseTests: readonly RuleTest[] | null;
  /** Ids whose outcome changed between two runs: they count as not passed. */
  flaky: readonly string[];
}

/** The rule's outcome. */
export interface RuleOutcome {
  holds: boolean;
  named: NamedOutcome[];
  /** Ids failing now that did not fail at the base (every failing id when there is no base). */
  newFailures: string[];
  /** Why the rule does not hold, in words; null when it holds. */
  reason: string | null;
}

/**
 * The reported test a named id stands for: exact equality with the id as the harness reports it, step prefix
 * included (`test > math.test.ts > adds`). No prefix, case or whitespace folding: the proof's named slots
 * (src/zk/merkle.ts) match the same way.
 */
export function matchNamed(named: string, tests: readonly RuleTest[]): RuleTest | undefined {
  return tests.find((t) => t.id === named);
}

const list = (ids: readonly string[], max = 10) =>
  `${ids.slice(0, max).join(", ")}${ids.length > max ? `, … (${ids.length} in all)` : ""}`;

/** Applies the rule. */
export function evaluateRule(input: RuleInput): RuleOutcome {
  const flaky = new Set(input.flaky);
  const passedNow = (t: RuleTest) => t.passed && !flaky.has(t.id);
  const named: NamedOutcome[] = input.named.map((id) => {
    const hit = matchNamed(id, input.tests);
    if (!hit) return { id, status: "missing" };
    if (flaky.has(hit.id)) return { id, status: "flaky" };
    return { id, status: hit.passed ? "passed" : "failed" };
  });
  const failedAtBase = new Set((input.baseTests ?? []).filter((t) => !t.passed).map((t) => t.id));
  const newFailures = input.tests.filter((t) => !passedNow(t) && !failedAtBase.has(t.id)).map((t) => t.id);
  const reasons: string[] = [];
  const notPassed = named.filter((n) => n.status !== "passed");
  if (input.named.length > 0) {
    for (const status of ["missing", "failed", "flaky"] as const) {
      const ids = notPassed.filter((n) => n.status === status).map((n) => n.id);
      if (ids.length) reasons.push(`Acceptance test${ids.length === 1 ? "" : "s"} ${status}: ${list(ids)}`);
    }
    if (newFailures.length)
      reasons.push(
        `${newFailures.length} test${newFailures.length === 1 ? "" : "s"} failing that did not fail at the base commit: ${list(newFailures)}`,
      );
  } else {
    const failing = input.tests.filter((t) => !passedNow(t)).map((t) => t.id);
    const passed = input.tests.length - failing.length;
    // A step's own entry has no separator in its id: it is named as a step, not counted as a test, in words.
    const tests = failing.filter((id) => id.includes(ID_SEPARATOR));
    const steps = failing.filter((id) => !id.includes(ID_SEPARATOR));
    if (tests.length) reasons.push(`${tests.length} test${tests.length === 1 ? "" : "s"} failed: ${list(tests)}`);
    if (steps.length && !tests.length)
      reasons.push(`Step${steps.length === 1 ? "" : "s"} ${list(steps)} did not end OK and reported no failing test`);
    if (!failing.length && passed < input.minPassing)
      reasons.push(`${passed} test${passed === 1 ? "" : "s"} passed; the task asks for at least ${input.minPassing}.`);
  }
  return { holds: reasons.length === 0, named, newFailures, reason: reasons.length ? reasons.join(". ") : null };
}
