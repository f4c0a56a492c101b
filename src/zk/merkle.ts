// The test-report Merkle tree: the one module the harness (to build the digest), the prover (to build the
// witness) and the tests share. It hashes exactly as circuits/report.circom does: Poseidon over BN254 with the
// circomlib constants (poseidon-lite is a synchronous port of circomlibjs; merkle.test.ts checks both agree).
import { createHash } from "node:crypto";
import type { poseidon8 } from "poseidon-lite/poseidon8";
import type { poseidon16 } from "poseidon-lite/poseidon16";

// The Poseidon round constants are ~13 MiB once parsed: loaded at the first hash, not when the module loads.
let poseidon: { p8: typeof poseidon8; p16: typeof poseidon16 } | undefined;
function hashers() {
  poseidon ??= {
    p8: require("poseidon-lite/poseidon8").poseidon8,
    p16: require("poseidon-lite/poseidon16").poseidon16,
  };
  return poseidon;
}

/** Children per node: a node hashes 8 leaves (16 values) with Poseidon(16), the root hashes 8 nodes with Poseidon(8). */
export const TREE_ARITY = 8;

/** Levels above the leaves: 8^2 = 64 test leaves. The circuit and its keys are built for exactly this shape. */
export const TREE_DEPTH = 2;

/** Number of leaf slots in the tree. */
export const TREE_LEAVES = TREE_ARITY ** TREE_DEPTH;

/** The BN254 scalar field modulus: every circuit signal (and so every leaf, root and id) is below it. */
export const SNARK_FIELD = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;

/** One leaf: a test's id hash and whether it passed. */
export interface Leaf {
  idHash: bigint;
  passed: 0n | 1n;
}

/**
 * Value of an unused leaf slot. A test id hash is never 0 in practice, so the circuit tells a padded slot from a
 * real test by its private `used` bit and the pair (0, 0).
 */
export const EMPTY_LEAF: Readonly<Leaf> = Object.freeze({ idHash: 0n, passed: 0n });

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
  const digest = createHash("sha256").update(value, "utf8").digest("hex");
  return BigInt(`0x${digest}`) % SNARK_FIELD;
}

/** Field element of a test id: `sha256(utf8(id)) mod p` (see fieldFromString). */
export function testIdHash(id: string): bigint {
  return fieldFromString(id);
}

/** The leaf of one test; `passed` is 1n for a pass and 0n for a failure. */
export function leaf(idHash: bigint, passed: 0n | 1n): Leaf {
  assertField(idHash, "testIdHash");
  if (passed !== 0n && passed !== 1n) throw new RangeError("passed must be 0n or 1n");
  return { idHash, passed };
}

/** A node over TREE_ARITY leaves: Poseidon(id0, passed0, id1, passed1, …). */
export function nodeHash(leaves: readonly Leaf[]): bigint {
  if (leaves.length !== TREE_ARITY) throw new RangeError(`a node hashes ${TREE_ARITY} leaves, got ${leaves.length}`);
  return hashers().p16(leaves.flatMap((l) => [l.idHash, l.passed]));
}

/** The root over TREE_ARITY nodes: Poseidon(node0, …, node7). */
export function rootHash(nodes: readonly bigint[]): bigint {
  if (nodes.length !== TREE_ARITY) throw new RangeError(`the root hashes ${TREE_ARITY} nodes, got ${nodes.length}`);
  return hashers().p8([...nodes]);
}

/**
 * Leaves of a report in canonical order (ascending test id hash), so the root does not depend on the order a
 * runner printed its results in. Duplicate test ids are refused: a report must not count one test twice.
 */
export function reportLeaves(tests: readonly TestResult[]): Leaf[] {
  const leaves = tests.map((t) => ({ ...leaf(testIdHash(t.id), t.passed ? 1n : 0n), id: t.id }));
  leaves.sort((a, b) => (a.idHash < b.idHash ? -1 : a.idHash > b.idHash ? 1 : 0));
  for (let i = 1; i < leaves.length; i++) {
    if (leaves[i]!.idHash === leaves[i - 1]!.idHash) {
      throw new RangeError(`duplicate test id in report: ${leaves[i]!.id}`);
    }
  }
  return leaves.map(({ idHash, passed }) => ({ idHash, passed }));
}

/** Root of the tree over `leaves`, padded with EMPTY_LEAF up to TREE_LEAVES; more leaves than that is an error. */
export function merkleRoot(leaves: readonly Leaf[]): bigint {
  return rootHash(nodesOf(pad(leaves)));
}

function pad(leaves: readonly Leaf[]): Leaf[] {
  if (leaves.length > TREE_LEAVES) throw new RangeError(`too many leaves: ${leaves.length} > ${TREE_LEAVES}`);
  for (const [i, l] of leaves.entries()) {
    assertField(l.idHash, `leaf ${i}`);
    if (l.passed !== 0n && l.passed !== 1n) throw new RangeError(`leaf ${i}: passed must be 0n or 1n`);
  }
  return [...leaves, ...Array.from({ length: TREE_LEAVES - leaves.length }, () => EMPTY_LEAF)];
}

/** The TREE_ARITY nodes over a padded (checked) list of TREE_LEAVES leaves. */
function nodesOf(padded: readonly Leaf[]): bigint[] {
  const nodes: bigint[] = [];
  for (let i = 0; i < TREE_LEAVES; i += TREE_ARITY) nodes.push(nodeHash(padded.slice(i, i + TREE_ARITY)));
  return nodes;
}

function assertField(value: bigint, what: string): void {
  if (typeof value !== "bigint" || value < 0n || value >= SNARK_FIELD) {
    throw new RangeError(`${what} is not a field element`);
  }
}
