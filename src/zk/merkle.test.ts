import { describe, expect, test } from "bun:test";
import { buildPoseidon } from "circomlibjs";
import { poseidon8 } from "poseidon-lite/poseidon8";
import { poseidon16 } from "poseidon-lite/poseidon16";
import {
  EMPTY_LEAF,
  fieldFromString,
  leaf,
  merkleRoot,
  nodeHash,
  reportLeaves,
  rootHash,
  SNARK_FIELD,
  TREE_ARITY,
  TREE_DEPTH,
  TREE_LEAVES,
  testIdHash,
} from "./merkle";

describe("zk/merkle", () => {
  test("Poseidon(16) and Poseidon(8) match circomlibjs (the circuit's reference implementation)", async () => {
    const ref = await buildPoseidon();
    const h = (xs: bigint[]) => ref.F.toObject(ref(xs));
    const groups: bigint[][] = [
      Array(16).fill(0n),
      Array.from({ length: 16 }, (_, i) => BigInt(i)),
      [testIdHash("src/a.test.ts > adds"), 1n, ...Array(14).fill(0n)],
      [SNARK_FIELD - 1n, 1n, ...Array(14).fill(123456789n)],
    ];
    for (const g of groups) {
      const leaves = Array.from({ length: 8 }, (_, i) => ({ idHash: g[2 * i]!, passed: g[2 * i + 1]! as 0n | 1n }));
      // poseidon-lite only reads the values: the passed bits above may be any field element for this check
      expect(nodeHash(leaves)).toBe(h(g));
      expect(rootHash(g.slice(0, 8))).toBe(h(g.slice(0, 8)));
    }
  });

  test("testIdHash is sha256 mod p and deterministic", () => {
    expect([TREE_ARITY, TREE_DEPTH, TREE_LEAVES]).toEqual([8, 2, 64]);
    const h = testIdHash("suite > case");
    expect(h).toBe(testIdHash("suite > case"));
    expect(h).not.toBe(testIdHash("suite > case2"));
    expect(h < SNARK_FIELD).toBe(true);
    // sha256("abc") = ba7816bf…15ad, reduced mod p
    const abc = BigInt("0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(fieldFromString("abc")).toBe(abc % SNARK_FIELD);
  });

  test("a pass and a failure of the same test give different roots", () => {
    const id = testIdHash("t1");
    expect(merkleRoot([leaf(id, 1n)])).not.toBe(merkleRoot([leaf(id, 0n)]));
    // an unused slot is (0, 0): a failed test cannot pass for padding
    expect(merkleRoot([leaf(id, 0n)])).not.toBe(merkleRoot([]));
    expect(() => leaf(id, 2n as 0n)).toThrow();
    expect(() => leaf(SNARK_FIELD, 1n)).toThrow();
  });

  test("root pads with the empty leaf", () => {
    const leaves = ["a", "b", "c", "d", "e", "f", "g", "h", "i"].map((id) => leaf(testIdHash(id), 1n));
    const padded = [...leaves, ...Array(TREE_LEAVES - leaves.length).fill(EMPTY_LEAF)];
    const root = merkleRoot(leaves);
    expect(merkleRoot(padded)).toBe(root);
    // hand-rolled: Poseidon over each 8 leaves' 16 values, then over the 8 nodes
    const flat = padded.flatMap((l) => [l.idHash, l.passed]);
    const nodes = Array.from({ length: 8 }, (_, g) => poseidon16(flat.slice(16 * g, 16 * g + 16)));
    expect(poseidon8(nodes)).toBe(root);
  });

  test("too many leaves and out-of-range leaves are refused", () => {
    expect(() => merkleRoot(Array(TREE_LEAVES + 1).fill(EMPTY_LEAF))).toThrow(/too many leaves/);
    expect(() => merkleRoot([{ idHash: SNARK_FIELD, passed: 1n }])).toThrow(/field element/);
    expect(() => merkleRoot([{ idHash: 1n, passed: 2n as 1n }])).toThrow(/passed/);
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
