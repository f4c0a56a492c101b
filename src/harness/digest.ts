// The verification digest: one canonical JSON document describing what was verified (commit, tree, image,
// tools, steps, every test's outcome, the Poseidon Merkle root of the test leaves). Its keccak256 is the
// `digest` field of the EIP-712 attestation the harness key signs (src/zk/attestation.ts).
import { type Hex, keccak256, toBytes } from "viem";
import { AppError } from "../core/errors";
import { merkleRoot, reportLeaves, TREE_ARITY, TREE_DEPTH, TREE_LEAVES } from "../zk/merkle";
import type { BackendKind, SandboxStatus } from "../sandbox/types";
import type { ResultSource, StepKind } from "./detect";
import type { CommitInfo } from "./repo";
import { ID_SEPARATOR } from "./results";

/** Digest format version; bump when a field changes meaning. */
export const DIGEST_VERSION = 1;

/** One leaf of the report: a test (or a group of tests, see `granularity`) and whether it passed. */
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
  merkle: { arity: number; depth: number; leafCount: number; granularity: "test" | "group"; root: string };
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

/** The attestation fields the harness vouches for: the Merkle root and the report hash. */
export function digestForSigning(digest: HarnessDigest): { root: bigint; digest: Hex } {
  return { root: BigInt(digest.merkle.root), digest: reportHash(digest) };
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

/**
 * Leaves sorted by id, at most `max` of them. When there are more tests than the tree holds, tests are grouped by
 * a shorter id prefix (file, then step) and a group passes only when all its tests passed.
 */
export function foldLeaves(
  tests: readonly Leaf[],
  max = TREE_LEAVES,
): { leaves: Leaf[]; granularity: "test" | "group" } {
  assertUniqueIds(tests);
  const sorted = [...tests].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  if (sorted.length <= max) return { leaves: sorted, granularity: "test" };
  const depth = Math.max(...sorted.map((t) => t.id.split(ID_SEPARATOR).length));
  for (let keep = depth - 1; keep >= 1; keep--) {
    const groups = new Map<string, boolean>();
    for (const t of sorted) {
      const key = t.id.split(ID_SEPARATOR).slice(0, keep).join(ID_SEPARATOR);
      groups.set(key, (groups.get(key) ?? true) && t.passed);
    }
    if (groups.size <= max) {
      const leaves = [...groups].map(([id, passed]) => ({ id, passed })).sort((a, b) => (a.id < b.id ? -1 : 1));
      return { leaves, granularity: "group" };
    }
  }
  throw new RangeError(`more than ${max} steps: the report tree cannot hold them`);
}

/** Poseidon Merkle root of the leaves (the tree of the ZK circuit). */
export function leavesRoot(leaves: readonly Leaf[]): bigint {
  return merkleRoot(reportLeaves(leaves));
}

/** Assembles the digest from a run's parts. */
export function buildDigest(
  parts: Omit<HarnessDigest, "version" | "merkle" | "tests"> & { tests: readonly Leaf[] },
): HarnessDigest {
  const { leaves, granularity } = foldLeaves(parts.tests);
  return {
    version: DIGEST_VERSION,
    ...parts,
    tests: leaves,
    merkle: {
      arity: TREE_ARITY,
      depth: TREE_DEPTH,
      leafCount: leaves.length,
      granularity,
      root: leavesRoot(leaves).toString(),
    },
  };
}
