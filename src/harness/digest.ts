// The verification digest: one canonical JSON document describing what was verified (commit, tree, image,
// tools, steps, every test's outcome, the acceptance rule's outcome) and the report commitment of
// src/zk/merkle.ts (every test a leaf of allRoot, the named tests in their slots, the counts, under one root).
// Its keccak256 is the `digest` field of the EIP-712 attestation the harness key signs (src/harness/signer.ts).
import { type Hex, keccak256, toBytes } from "viem";
import { AppError } from "../core/errors";
import { reportCommitment } from "../zk/merkle";
import type { BackendKind, SandboxStatus } from "../sandbox/types";
import type { ResultSource, StepKind } from "./detect";
import type { ProtectedChange } from "./protect";
import type { CommitInfo } from "./repo";
import type { NamedOutcome } from "./rule";

/** Digest format version; bump when a field changes meaning. */
export const DIGEST_VERSION = 2;

/** One leaf of the report: a test (or a step that did not end OK, under the step's name) and whether it passed. */
export interface Leaf {
  id: string;
  passed: boolean;
}

/** A step as recorded in the digest: only what the same code reproduces (no times, no output). */
export interface DigestStep {
  name: string;
  kind: StepKind;
  command: string;
  results: ResultSource;
  status: SandboxStatus;
  exitCode: number | null;
  passed: number;
  failed: number;
  skipped: number;
}

/** Overall outcome: FLAKY when a repeated run disagreed with the first; such results are not paid. */
export type Verdict = "PASSED" | "FAILED" | "FLAKY";

/** The acceptance part of a digest: the pin, the named tests' outcomes, regressions and refused changes. */
export interface DigestAcceptance {
  baseCommit: string | null;
  named: NamedOutcome[];
  minPassing: number;
  newFailures: string[];
  protectedChanges: ProtectedChange[];
}

/** The signed document. Same commit, image and steps give the same digest. */
export interface HarnessDigest {
  version: number;
  repository: { url: string } & CommitInfo;
  environment: {
    backend: BackendKind;
    imageDigest: string;
    tools: Record<string, string>;
    tz: string;
    lang: string;
    sourceDateEpoch: number;
  };
  dependencies: { command: string; lockfileHash: string } | null;
  steps: DigestStep[];
  tests: Leaf[];
  /** The pinned acceptance tests' outcome; null for a run without a task's rule (the CLI). */
  acceptance: DigestAcceptance | null;
  /** reportCommitment of the tests (flaky ones as not passed): decimal strings. */
  merkle: {
    root: string;
    allRoot: string;
    namedRoot: string;
    ruleHash: string;
    testCount: number;
    passedCount: number;
    failedCount: number;
    newFailures: number;
  };
  flaky: string[];
  result: Verdict;
}

/** JSON with object keys sorted at every level and no whitespace (RFC 8785 for integers, strings, booleans). */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return JSON.stringify(value.toString());
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError(`canonical JSON holds integers only, got ${value}`);
    return String(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  throw new TypeError(`value not allowed in canonical JSON: ${typeof value}`);
}

/** keccak256 of the digest's canonical JSON (UTF-8): the `digest` the attestation signs. */
export function reportHash(digest: HarnessDigest): Hex {
  return keccak256(toBytes(canonicalJson(digest)));
}

/**
 * Throws DUPLICATE_TEST_ID when two items share an id. Renaming one would let a report decide which of two
 * outcomes counts (a failing test hidden behind a passing one of the same name), so the run is an error.
 */
function assertUniqueIds(items: readonly { id: string }[]): void {
  const seen = new Set<string>();
  for (const item of items) {
    if (seen.has(item.id))
      throw new AppError("DUPLICATE_TEST_ID", `The test ${JSON.stringify(item.id)} is reported more than once.`, 422, {
        testId: item.id,
      });
    seen.add(item.id);
  }
}

/** Assembles the digest from a run's parts: tests sorted by id, the report commitment over them. */
export function buildDigest(
  parts: Omit<HarnessDigest, "version" | "merkle" | "tests" | "acceptance"> & {
    tests: readonly Leaf[];
    acceptance?: DigestAcceptance | null;
    /** The task's minimum of passing tests (part of the rule hash); default 1. */
    minPassing?: number;
  },
): HarnessDigest {
  const { minPassing, ...rest } = parts;
  assertUniqueIds(parts.tests);
  const tests = [...parts.tests].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const flaky = new Set(parts.flaky);
  const acceptance = parts.acceptance ?? null;
  const named = acceptance?.named.map((n) => n.id) ?? [];
  const c = reportCommitment({
    // A flaky test counts as not passed in what is signed.
    tests: tests.map((t) => ({ id: t.id, passed: t.passed && !flaky.has(t.id) })),
    named,
    minPassing: Math.max(1, minPassing ?? acceptance?.minPassing ?? 1),
    // Without a base to compare with, every failing test is new.
    newFailures: acceptance ? acceptance.newFailures.length : tests.filter((t) => !t.passed || flaky.has(t.id)).length,
  });
  return {
    version: DIGEST_VERSION,
    ...rest,
    acceptance,
    tests,
    merkle: {
      root: c.root.toString(),
      allRoot: c.allRoot.toString(),
      namedRoot: c.namedRoot.toString(),
      ruleHash: c.ruleHash.toString(),
      ...c.summary,
    },
  };
}
