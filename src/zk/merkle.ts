// The test-report Merkle tree: the one module the harness (to build the digest), the prover (to build the
// witness) and the tests share. It hashes exactly as circuits/report.circom does: Poseidon over BN254 with the
// circomlib constants (poseidon-lite is a synchronous port of circomlibjs; merkle.test.ts checks both agree).
import { createHash } from "node:crypto";
import { poseidon2 } from "poseidon-lite/poseidon2";

/** Depth of the report tree: 2^6 = 64 test leaves. The circuit and its keys are built for exactly this depth. */
export const TREE_DEPTH = 6;

/** Number of leaves in a full tree of TREE_DEPTH. */
export const TREE_LEAVES = 2 ** TREE_DEPTH;

/** The BN254 scalar field modulus: every circuit signal (and so every leaf, root and id) is below it. */
export const SNARK_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/**
 * Value of an unused leaf slot. A used leaf is a Poseidon output, which is never 0 in practice, so the circuit
 * tells a padded slot from a real test by its private `used` bit and the value 0.
 */
export const EMPTY_LEAF = 0n;

/** One test of a report: its stable id (e.g. "src/a.test.ts > adds") and whether it passed. */
export interface TestResult {
  id: string;
  passed: boolean;
}

/** An inclusion proof of one leaf: siblings from the leaf level up, and for each level whether the node is a right child. */
export interface MerkleProof {
  leaf: bigint;
  index: number;
  siblings: bigint[];
  pathIndices: (0 | 1)[];
  root: bigint;
}

/**
 * Maps any string to a field element: SHA-256 of its UTF-8 bytes read as a big-endian integer, reduced mod
 * SNARK_FIELD. Used for test ids and task ids so both fit in one circuit signal.
 */
export function fieldFromString(value: string): bigint {
  const digest = createHash("sha256").update(value, "utf8").digest("hex");
  return BigInt(`0x${digest}`) % SNARK_FIELD;
}

/** Field element of a test id: `sha256(utf8(id)) mod p` (see fieldFromString). */
export function testIdHash(id: string): bigint {
  return fieldFromString(id);
}

/** Leaf of one test: Poseidon(testIdHash, passed), passed being 1n for a pass and 0n for a failure. */
export function leafHash(idHash: bigint, passed: 0n | 1n): bigint {
  assertField(idHash, "testIdHash");
  if (passed !== 0n && passed !== 1n) throw new RangeError("passed must be 0n or 1n");
  return poseidon2([idHash, passed]);
}

/** Parent node of two children: Poseidon(left, right). */
export function nodeHash(left: bigint, right: bigint): bigint {
  return poseidon2([left, right]);
}

/**
 * Leaves of a report in canonical order (ascending test id hash), so the root does not depend on the order a
 * runner printed its results in. Duplicate test ids are refused: a report must not count one test twice.
 */
export function reportLeaves(tests: readonly TestResult[]): bigint[] {
  const hashed = tests.map((t) => ({ h: testIdHash(t.id), passed: t.passed ? 1n : 0n, id: t.id }) as const);
  hashed.sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : 0));
  for (let i = 1; i < hashed.length; i++) {
    if (hashed[i]!.h === hashed[i - 1]!.h) throw new RangeError(`duplicate test id in report: ${hashed[i]!.id}`);
  }
  return hashed.map((t) => leafHash(t.h, t.passed));
}

/** Root of the tree over `leaves`, padded with EMPTY_LEAF up to 2^depth; more leaves than that is an error. */
export function merkleRoot(leaves: readonly bigint[], depth = TREE_DEPTH): bigint {
  return buildLevels(leaves, depth).at(-1)![0]!;
}

/** Inclusion proof of the leaf at `index`. */
export function merkleProof(leaves: readonly bigint[], index: number, depth = TREE_DEPTH): MerkleProof {
  if (!Number.isInteger(index) || index < 0 || index >= 2 ** depth)
    throw new RangeError(`leaf index out of range: ${index}`);
  const levels = buildLevels(leaves, depth);
  const siblings: bigint[] = [];
  const pathIndices: (0 | 1)[] = [];
  let i = index;
  for (let level = 0; level < depth; level++) {
    siblings.push(levels[level]![i ^ 1]!);
    pathIndices.push((i & 1) as 0 | 1);
    i >>= 1;
  }
  return { leaf: levels[0]![index]!, index, siblings, pathIndices, root: levels[depth]![0]! };
}

/** Checks an inclusion proof against its root. */
export function verifyMerkleProof(proof: MerkleProof): boolean {
  let node = proof.leaf;
  for (let level = 0; level < proof.siblings.length; level++) {
    const sibling = proof.siblings[level]!;
    node = proof.pathIndices[level] === 1 ? nodeHash(sibling, node) : nodeHash(node, sibling);
  }
  return node === proof.root;
}

function buildLevels(leaves: readonly bigint[], depth: number): bigint[][] {
  if (!Number.isInteger(depth) || depth < 0 || depth > 32) throw new RangeError(`invalid tree depth: ${depth}`);
  const width = 2 ** depth;
  if (leaves.length > width) throw new RangeError(`too many leaves: ${leaves.length} > ${width} (depth ${depth})`);
  for (const [i, l] of leaves.entries()) assertField(l, `leaf ${i}`);
  let level = [...leaves];
  while (level.length < width) level.push(EMPTY_LEAF);
  const levels = [level];
  for (let d = 0; d < depth; d++) {
    const next: bigint[] = [];
    for (let i = 0; i < level.length; i += 2) next.push(nodeHash(level[i]!, level[i + 1]!));
    levels.push(next);
    level = next;
  }
  return levels;
}

function assertField(value: bigint, what: string): void {
  if (typeof value !== "bigint" || value < 0n || value >= SNARK_FIELD) {
    throw new RangeError(`${what} is not a field element`);
  }
}
