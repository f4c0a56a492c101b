// The test-report commitment: the one module the harness (to sign a report), the prover (to build the witness),
// the payout (to recompute what was signed) and the tests share. Two parts:
//
// - `allRoot`: a binary SHA-256 Merkle tree with EVERY test of the report as its own leaf (100,000 tests hash in
//   well under a second; Poseidon off circuit would take minutes). Anyone holding the stored report can prove
//   one test's result against it (inclusionProof / verifyInclusion). The circuit takes it as an opaque value.
// - the named acceptance tests: up to 32 slots (idHash, passed) in the order of the task's rule, hashed with
//   Poseidon over BN254 exactly as circuits/report.circom does (circomlib constants; poseidon-lite is a
//   synchronous port of circomlibjs and merkle.test.ts checks both agree).
//
// The harness signs `root = Poseidon(namedRoot, allRoot, testCount, passedCount, failedCount, newFailures)`.
import type { poseidon2 } from "poseidon-lite/poseidon2";
import type { poseidon3 } from "poseidon-lite/poseidon3";
import type { poseidon6 } from "poseidon-lite/poseidon6";
import type { poseidon16 } from "poseidon-lite/poseidon16";

// The Poseidon round constants are ~13 MiB once parsed: loaded at the first hash, not when the module loads.
let poseidon: { p2: typeof poseidon2; p3: typeof poseidon3; p6: typeof poseidon6; p16: typeof poseidon16 } | undefined;
function hashers() {
  poseidon ??= {
    p2: require("poseidon-lite/poseidon2").poseidon2,
    p3: require("poseidon-lite/poseidon3").poseidon3,
    p6: require("poseidon-lite/poseidon6").poseidon6,
    p16: require("poseidon-lite/poseidon16").poseidon16,
  };
  return poseidon;
}

/** The BN254 scalar field modulus: every circuit signal (and so every root, id hash and count) is below it. */
export const SNARK_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** Named acceptance test slots in the circuit: a task's rule names at most this many tests. */
export const MAX_NAMED_TESTS = 32;

/** Upper bound (exclusive) of the counts and of minPassing: the circuit range-checks them to 32 bits. */
export const MAX_COUNT = 2 ** 32;

/** One test of a report: its stable id (e.g. "src/a.test.ts > adds") and whether it passed. */
export interface TestResult {
  id: string;
  passed: boolean;
}

/**
 * Maps any string to a field element: SHA-256 of its UTF-8 bytes read as a big-endian integer, reduced mod
 * SNARK_FIELD. Used for test ids and task ids so both fit in one circuit signal.
 */
export function fieldFromString(value: string): bigint {
  // Bun.SHA256 hashes the string's UTF-8 bytes, ~10x faster than node:crypto per call (it matters at 100,000 ids)
  return BigInt(`0x${Bun.SHA256.hash(value, "hex")}`) % SNARK_FIELD;
}

/** Field element of a test id: `sha256(utf8(id)) mod p` (see fieldFromString). */
export function testIdHash(id: string): bigint {
  return fieldFromString(id);
}

// ---------------------------------------------------------------------------------------------------------------
// allRoot: every test its own leaf, SHA-256

const hex32 = (v: bigint): string => v.toString(16).padStart(64, "0");

/** One leaf of the all-tests tree, in canonical order. */
export interface ReportLeaf {
  id: string;
  idHash: bigint;
  passed: boolean;
  /** idHash as 64 hex digits (sorting these strings sorts the id hashes). */
  hex: string;
}

/**
 * The report's tests in canonical order (ascending test id hash), so nothing depends on the order a runner
 * printed its results in. Two tests with the same id (or, never in practice, the same id hash) are refused with
 * a RangeError: a report must not let one outcome hide another.
 */
export function sortedLeaves(tests: readonly TestResult[]): ReportLeaf[] {
  const leaves = tests.map((t) => {
    const idHash = testIdHash(t.id);
    return { id: t.id, idHash, passed: t.passed === true, hex: hex32(idHash) };
  });
  const sorted = sortByHex(leaves);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.hex === sorted[i - 1]!.hex) throw new RangeError(`duplicate test id in report: ${sorted[i]!.id}`);
  }
  return sorted;
}

const INDEX_BITS = 20;
/**
 * Sorts by `hex`. A comparator sort of 100,000 strings takes ~200 ms here; instead each key is the hash's top 33
 * bits and the item's index packed into one exact float (33 + 20 = 53 bits), sorted natively, and only runs that
 * share their top bits are sorted again by the full hash.
 */
function sortByHex(items: ReportLeaf[]): ReportLeaf[] {
  const cmp = (a: ReportLeaf, b: ReportLeaf) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0);
  if (items.length >= 2 ** INDEX_BITS) return [...items].sort(cmp);
  const keys = new Float64Array(items.length);
  for (let i = 0; i < items.length; i++) {
    // 9 hex digits = 36 bits, shifted down to 33
    keys[i] = Math.floor(Number.parseInt(items[i]!.hex.slice(0, 9), 16) / 8) * 2 ** INDEX_BITS + i;
  }
  keys.sort();
  const out = Array.from(keys, (k) => items[k % 2 ** INDEX_BITS]!);
  for (let i = 0; i < out.length; ) {
    const top = Math.floor(keys[i]! / 2 ** INDEX_BITS);
    let j = i + 1;
    while (j < out.length && Math.floor(keys[j]! / 2 ** INDEX_BITS) === top) j++;
    if (j - i > 1) out.splice(i, j - i, ...out.slice(i, j).sort(cmp));
    i = j;
  }
  return out;
}

const leafBuf = Buffer.alloc(34);
/** A leaf's hash: sha256(0x00 ‖ idHash as 32 big-endian bytes ‖ 0x01 passed / 0x00 failed). */
export function leafDigest(idHash: bigint, passed: boolean): Uint8Array {
  return leafOf(hex32(idHash), passed);
}
function leafOf(hex: string, passed: boolean): Uint8Array {
  leafBuf[0] = 0x00;
  leafBuf.write(hex, 1, "hex");
  leafBuf[33] = passed ? 1 : 0;
  return Bun.SHA256.hash(leafBuf) as Uint8Array;
}

const nodeBuf = Buffer.alloc(65);
/** An inner node's hash: sha256(0x01 ‖ left ‖ right). */
export function nodeDigest(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeBuf[0] = 0x01;
  nodeBuf.set(left, 1);
  nodeBuf.set(right, 33);
  return Bun.SHA256.hash(nodeBuf) as Uint8Array;
}

/**
 * The levels of the all-tests tree, leaves first. A level with an odd count promotes its last node unchanged to
 * the next level (no padding), so a tree of n leaves has exactly n - 1 inner nodes.
 */
function treeLevels(leaves: readonly ReportLeaf[]): Uint8Array[][] {
  const levels: Uint8Array[][] = [leaves.map((l) => leafOf(l.hex, l.passed))];
  while (levels.at(-1)!.length > 1) {
    const below = levels.at(-1)!;
    const up: Uint8Array[] = [];
    for (let i = 0; i + 1 < below.length; i += 2) up.push(nodeDigest(below[i]!, below[i + 1]!));
    if (below.length % 2 === 1) up.push(below.at(-1)!);
    levels.push(up);
  }
  return levels;
}

const toHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** The tree's top 32 bytes as a field element (mod SNARK_FIELD); an empty report's allRoot is 0. */
function fieldOfDigest(top: Uint8Array | undefined): bigint {
  return top ? BigInt(`0x${toHex(top)}`) % SNARK_FIELD : 0n;
}

/** An off-chain proof that one test, with its outcome, is a leaf of a report's allRoot. */
export interface InclusionProof {
  id: string;
  passed: boolean;
  /** The leaf's position in canonical order, and the number of leaves (they fix where the siblings sit). */
  index: number;
  leafCount: number;
  /** Sibling hashes from the leaf up, 0x-hex; a level where the node is promoted has no sibling. */
  siblings: string[];
}

/** Proves that test `id` (with its outcome) is in the report; throws a RangeError when the report lacks it. */
export function inclusionProof(tests: readonly TestResult[], id: string): InclusionProof {
  const leaves = sortedLeaves(tests);
  const index = leaves.findIndex((l) => l.id === id);
  if (index < 0) throw new RangeError(`test not in report: ${id}`);
  const levels = treeLevels(leaves);
  const siblings: string[] = [];
  let i = index;
  for (const level of levels.slice(0, -1)) {
    const sibling = i ^ 1;
    if (sibling < level.length) siblings.push(`0x${toHex(level[sibling]!)}`);
    i >>= 1;
  }
  return { id, passed: leaves[index]!.passed, index, leafCount: leaves.length, siblings };
}

/** Whether an inclusion proof leads to `allRoot` (recomputes the path; index and leafCount place the siblings). */
export function verifyInclusion(proof: InclusionProof, allRoot: bigint): boolean {
  const { index, leafCount } = proof;
  if (!Number.isInteger(index) || !Number.isInteger(leafCount) || index < 0 || index >= leafCount) return false;
  let node = leafDigest(testIdHash(proof.id), proof.passed);
  let i = index;
  let n = leafCount;
  let s = 0;
  while (n > 1) {
    const sibling = i ^ 1;
    if (sibling < n) {
      const hex = proof.siblings[s++];
      if (!hex || !/^0x[0-9a-f]{64}$/i.test(hex)) return false;
      const other = Buffer.from(hex.slice(2), "hex");
      node = i % 2 === 0 ? nodeDigest(node, other) : nodeDigest(other, node);
    }
    i >>= 1;
    n = Math.ceil(n / 2);
  }
  return s === proof.siblings.length && fieldOfDigest(node) === allRoot;
}

// ---------------------------------------------------------------------------------------------------------------
// Named acceptance tests and the signed root: Poseidon, as in circuits/report.circom

/** One named slot: a test id hash and whether it passed; an unused slot is (0, 0). */
export interface NamedSlot {
  id: string | null;
  idHash: bigint;
  passed: 0n | 1n;
}

/** Counts the harness signs with the report. */
export interface ReportSummary {
  testCount: number;
  passedCount: number;
  failedCount: number;
  /** Tests failing now that did not fail at the base commit (computed by the harness). */
  newFailures: number;
}

/** The 32 id hashes of a rule's named tests, in the rule's order, zero-padded; refuses more than 32 or repeats. */
export function namedIdHashes(named: readonly string[]): bigint[] {
  if (named.length > MAX_NAMED_TESTS) {
    throw new RangeError(`a rule names at most ${MAX_NAMED_TESTS} tests, got ${named.length}`);
  }
  if (new Set(named).size !== named.length) throw new RangeError("a rule names the same test twice");
  return [...named.map(testIdHash), ...Array<bigint>(MAX_NAMED_TESTS - named.length).fill(0n)];
}

function assertCount(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0 || value >= MAX_COUNT) {
    throw new RangeError(`${what} must be an integer from 0 to ${MAX_COUNT - 1}`);
  }
}

/** Poseidon(16) over each half of the 32 id hashes: the part of the rule and of namedRoot the ids contribute. */
function idHalves(ids: readonly bigint[]): [bigint, bigint] {
  const { p16 } = hashers();
  return [p16(ids.slice(0, 16)), p16(ids.slice(16, 32))];
}

/**
 * The public hash of a task's rule: Poseidon(3)(Poseidon(16)(ids 0..15), Poseidon(16)(ids 16..31), minPassing),
 * ids being the named tests' id hashes in the rule's order, unused = 0. minPassing is 1 to 2^32 - 1.
 */
export function ruleHash(namedIds: readonly string[], minPassing: number): bigint {
  assertCount(minPassing, "minPassing");
  if (minPassing < 1) throw new RangeError("minPassing must be at least 1");
  const [low, high] = idHalves(namedIdHashes(namedIds));
  return hashers().p3([low, high, BigInt(minPassing)]);
}

/**
 * The commitment of the 32 named slots: Poseidon(2)(Poseidon(2)(Poseidon(16)(ids 0..15), Poseidon(16)(ids
 * 16..31)), passedBits), passedBits = Σ passed_i · 2^i. It binds every (idHash, passed) pair of the slots.
 */
export function namedRoot(slots: readonly NamedSlot[]): bigint {
  if (slots.length !== MAX_NAMED_TESTS) throw new RangeError(`namedRoot takes ${MAX_NAMED_TESTS} slots`);
  const { p2 } = hashers();
  const [low, high] = idHalves(slots.map((s) => s.idHash));
  let bits = 0n;
  for (const [i, s] of slots.entries()) if (s.passed === 1n) bits |= 1n << BigInt(i);
  return p2([p2([low, high]), bits]);
}

/** The signed root: Poseidon(6)(namedRoot, allRoot, testCount, passedCount, failedCount, newFailures). */
export function signedRoot(named: bigint, all: bigint, s: ReportSummary): bigint {
  for (const [k, v] of Object.entries(s)) assertCount(v, k);
  return hashers().p6([
    named,
    all,
    BigInt(s.testCount),
    BigInt(s.passedCount),
    BigInt(s.failedCount),
    BigInt(s.newFailures),
  ]);
}

/** What reportCommitment takes: the whole report, the rule's named tests and minPassing, and the regressions. */
export interface ReportInput {
  tests: readonly TestResult[];
  named: readonly string[];
  minPassing: number;
  newFailures: number;
}

/** Everything the harness signs and the prover proves about one report. */
export interface ReportCommitment {
  root: bigint;
  allRoot: bigint;
  namedRoot: bigint;
  ruleHash: bigint;
  minPassing: number;
  summary: ReportSummary;
  /** MAX_NAMED_TESTS slots, the rule's named tests first; a named test missing from the report has passed 0. */
  namedSlots: NamedSlot[];
}

/**
 * Commits to a report: every test in allRoot, the named tests in their slots, the counts, all under one root.
 * Throws a RangeError on duplicate test ids, more than 32 named tests, or counts out of range.
 */
export function reportCommitment(input: ReportInput): ReportCommitment {
  const leaves = sortedLeaves(input.tests);
  const byId = new Map(leaves.map((l) => [l.id, l.passed]));
  const ids = namedIdHashes(input.named);
  const namedSlots: NamedSlot[] = ids.map((idHash, i) => {
    const id = input.named[i];
    return id === undefined ? { id: null, idHash, passed: 0n } : { id, idHash, passed: byId.get(id) ? 1n : 0n };
  });
  const passedCount = leaves.filter((l) => l.passed).length;
  const summary: ReportSummary = {
    testCount: leaves.length,
    passedCount,
    failedCount: leaves.length - passedCount,
    newFailures: input.newFailures,
  };
  const allRoot = fieldOfDigest(treeLevels(leaves).at(-1)![0]);
  const nRoot = namedRoot(namedSlots);
  return {
    root: signedRoot(nRoot, allRoot, summary),
    allRoot,
    namedRoot: nRoot,
    ruleHash: ruleHash(input.named, input.minPassing),
    minPassing: input.minPassing,
    summary,
    namedSlots,
  };
}

/** Why a committed report cannot be proved (the circuit has no witness for it), or null when it can. */
export function unprovableReason(c: ReportCommitment): string | null {
  const failed = c.namedSlots.filter((s) => s.id !== null && s.passed !== 1n).map((s) => s.id);
  if (failed.length) return `named acceptance tests did not pass: ${failed.join(", ")}`;
  if (c.summary.newFailures > 0) return `${c.summary.newFailures} test(s) fail that did not fail at the base commit`;
  if (c.summary.passedCount < c.minPassing) {
    return `${c.summary.passedCount} test(s) passed; the rule asks for at least ${c.minPassing}`;
  }
  return null;
}

/** The payment a proof is bound to. */
export interface ProofBinding {
  taskId: bigint;
  payee: `0x${string}`;
  amount: bigint;
}

/** The circuit input (all signals as decimal strings) for a committed report and the payment it unlocks. */
export function reportWitness(c: ReportCommitment, bind: ProofBinding): Record<string, string | string[]> {
  return {
    root: c.root.toString(),
    taskId: bind.taskId.toString(),
    payee: BigInt(bind.payee).toString(),
    amount: bind.amount.toString(),
    ruleHash: c.ruleHash.toString(),
    namedIds: c.namedSlots.map((s) => s.idHash.toString()),
    namedPassed: c.namedSlots.map((s) => s.passed.toString()),
    minPassing: String(c.minPassing),
    allRoot: c.allRoot.toString(),
    testCount: String(c.summary.testCount),
    passedCount: String(c.summary.passedCount),
    failedCount: String(c.summary.failedCount),
    newFailures: String(c.summary.newFailures),
  };
}
