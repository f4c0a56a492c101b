import { describe, expect, test } from "bun:test";
import { buildPoseidon } from "circomlibjs";
import {
  EMPTY_LEAF,
  fieldFromString,
  leafHash,
  merkleProof,
  merkleRoot,
  nodeHash,
  reportLeaves,
  SNARK_FIELD,
  TREE_DEPTH,
  TREE_LEAVES,
  testIdHash,
  verifyMerkleProof,
} from "./merkle";

describe("zk/merkle", () => {
  test("Poseidon matches circomlibjs (the circuit's reference implementation)", async () => {
    const ref = await buildPoseidon();
    const pairs: [bigint, bigint][] = [
      [0n, 0n],
      [1n, 2n],
      [testIdHash("src/a.test.ts > adds"), 1n],
      [SNARK_FIELD - 1n, 123456789n],
    ];
    for (const [a, b] of pairs) expect(nodeHash(a, b)).toBe(ref.F.toObject(ref([a, b])));
  });

  test("testIdHash is sha256 mod p and deterministic", () => {
    expect(TREE_DEPTH).toBe(6);
    expect(TREE_LEAVES).toBe(64);
    const h = testIdHash("suite > case");
    expect(h).toBe(testIdHash("suite > case"));
    expect(h).not.toBe(testIdHash("suite > case2"));
    expect(h < SNARK_FIELD).toBe(true);
    // sha256("abc") = ba7816bf…15ad, reduced mod p
    const abc = BigInt("0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(fieldFromString("abc")).toBe(abc % SNARK_FIELD);
  });

  test("a pass and a failure of the same test give different leaves", () => {
    const id = testIdHash("t1");
    expect(leafHash(id, 1n)).not.toBe(leafHash(id, 0n));
    expect(() => leafHash(id, 2n as 0n)).toThrow();
    expect(() => leafHash(SNARK_FIELD, 1n)).toThrow();
  });

  test("root pads with the empty leaf, and proofs verify for every index", () => {
    const leaves = ["a", "b", "c", "d", "e"].map((id) => leafHash(testIdHash(id), 1n));
    const padded = [...leaves, ...Array(TREE_LEAVES - leaves.length).fill(EMPTY_LEAF)];
    const root = merkleRoot(leaves);
    expect(merkleRoot(padded)).toBe(root);
    // hand-rolled level reduction as an independent check
    let level = padded;
    while (level.length > 1) level = level.flatMap((_, i) => (i % 2 ? [] : [nodeHash(level[i]!, level[i + 1]!)]));
    expect(level[0]).toBe(root);
    for (const index of [0, 1, 4, 5, 63]) {
      const proof = merkleProof(leaves, index);
      expect(proof.root).toBe(root);
      expect(proof.siblings).toHaveLength(TREE_DEPTH);
      expect(verifyMerkleProof(proof)).toBe(true);
      expect(verifyMerkleProof({ ...proof, leaf: proof.leaf + 1n })).toBe(false);
    }
  });

  test("too many leaves and out-of-range leaves are refused", () => {
    expect(() => merkleRoot(Array(TREE_LEAVES + 1).fill(1n))).toThrow(/too many leaves/);
    expect(() => merkleRoot([SNARK_FIELD])).toThrow(/field element/);
    expect(merkleRoot([1n, 2n], 1)).toBe(nodeHash(1n, 2n));
  });

  test("reportLeaves is order-independent and refuses duplicates", () => {
    const a = reportLeaves([
      { id: "x", passed: true },
      { id: "y", passed: false },
      { id: "z", passed: true },
    ]);
    const b = reportLeaves([
      { id: "z", passed: true },
      { id: "x", passed: true },
      { id: "y", passed: false },
    ]);
    expect(a).toEqual(b);
    expect(merkleRoot(a)).toBe(merkleRoot(b));
    expect(() =>
      reportLeaves([
        { id: "x", passed: true },
        { id: "x", passed: false },
      ]),
    ).toThrow(/duplicate/);
  });
});
