import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { buildPoseidon } from "circomlibjs";
import {
  fieldFromString,
  inclusionProof,
  leafDigest,
  MAX_NAMED_TESTS,
  namedRoot,
  nodeDigest,
  reportCommitment,
  reportWitness,
  ruleHash,
  SNARK_FIELD,
  signedRoot,
  sortedLeaves,
  type TestResult,
  testIdHash,
  unprovableReason,
  verifyInclusion,
} from "./merkle";

const sha = (...parts: (Buffer | number[])[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(Buffer.from(p));
  return h.digest();
};
const be32 = (v: bigint) => Buffer.from(v.toString(16).padStart(64, "0"), "hex");
const suite = (n: number, failEvery = 0): TestResult[] =>
  Array.from({ length: n }, (_, i) => ({
    id: `suite/f${i % 50}.test.ts > case ${i}`,
    passed: !failEvery || i % failEvery !== 0,
  }));

describe("zk/merkle: test ids", () => {
  test("testIdHash is sha256(utf8) mod p, as node:crypto computes it", () => {
    const abc = BigInt("0xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(fieldFromString("abc")).toBe(abc % SNARK_FIELD);
    for (const id of ["suite > case", "tëst ✓ ünïcode > 名前", ""]) {
      const ref = BigInt(`0x${createHash("sha256").update(id, "utf8").digest("hex")}`) % SNARK_FIELD;
      expect(testIdHash(id)).toBe(ref);
    }
    expect(testIdHash("a")).not.toBe(testIdHash("b"));
  });
});

/** The allRoot of a report over `tests`, as reportCommitment computes it. */
const allTestsRoot = (tests: readonly TestResult[]) =>
  reportCommitment({ tests, named: [], minPassing: 1, newFailures: 0 }).allRoot;

describe("zk/merkle: allRoot, every test its own leaf", () => {
  test("leaves are sorted by id hash and duplicates are refused", () => {
    const tests = suite(2_000);
    const leaves = sortedLeaves([...tests].reverse());
    expect(leaves).toHaveLength(2_000);
    for (let i = 1; i < leaves.length; i++) expect(leaves[i - 1]!.idHash < leaves[i]!.idHash).toBe(true);
    expect(allTestsRoot(tests)).toBe(allTestsRoot([...tests].reverse()));
    expect(() => allTestsRoot([...tests, { id: tests[7]!.id, passed: false }])).toThrow(RangeError);
    expect(() => allTestsRoot([...tests, { id: tests[7]!.id, passed: false }])).toThrow(/duplicate test id/);
  });

  test("the tree hashes as documented: tagged leaves and nodes, odd node promoted, reduced mod p", () => {
    const tests: TestResult[] = [
      { id: "a", passed: true },
      { id: "b", passed: false },
      { id: "c", passed: true },
    ];
    const [x, y, z] = [...tests]
      .map((t) => ({ ...t, h: testIdHash(t.id) }))
      .sort((p, q) => (p.h < q.h ? -1 : 1))
      .map((t) => sha([0x00], be32(t.h), [t.passed ? 1 : 0]));
    expect(Buffer.from(leafDigest(testIdHash("b"), false))).toEqual(sha([0x00], be32(testIdHash("b")), [0]));
    const top = sha([0x01], sha([0x01], x!, y!), z!); // the third leaf is promoted, not paired with a copy
    expect(allTestsRoot(tests)).toBe(BigInt(`0x${top.toString("hex")}`) % SNARK_FIELD);
    expect(Buffer.from(nodeDigest(x!, y!))).toEqual(sha([0x01], x!, y!));
    expect(allTestsRoot([])).toBe(0n);
    expect(allTestsRoot([{ id: "a", passed: true }])).toBe(
      BigInt(`0x${sha([0x00], be32(testIdHash("a")), [1]).toString("hex")}`) % SNARK_FIELD,
    );
  });

  test("a pass and a failure of the same test give different roots", () => {
    const tests = suite(100);
    const flipped = tests.map((t, i) => (i === 42 ? { ...t, passed: false } : t));
    expect(allTestsRoot(tests)).not.toBe(allTestsRoot(flipped));
    expect(allTestsRoot(tests)).not.toBe(allTestsRoot(tests.slice(1)));
  });

  test("inclusion proofs of every leaf verify against allRoot, for odd and even sizes; tampering fails", () => {
    for (const n of [1, 2, 3, 7, 8, 33, 1_001]) {
      const tests = suite(n, 5);
      const root = allTestsRoot(tests);
      const pick = n > 40 ? [0, 1, n - 2, n - 1, Math.floor(n / 3)] : tests.map((_, i) => i);
      for (const i of pick) {
        const p = inclusionProof(tests, tests[i]!.id);
        expect(p.passed).toBe(tests[i]!.passed);
        expect(p.leafCount).toBe(n);
        expect(verifyInclusion(p, root)).toBe(true);
        // claiming the other outcome, another index or another root fails
        expect(verifyInclusion({ ...p, passed: !p.passed }, root)).toBe(false);
        if (n > 1) expect(verifyInclusion({ ...p, index: (p.index + 1) % n }, root)).toBe(false);
        expect(verifyInclusion(p, root + 1n)).toBe(false);
        if (p.siblings.length) {
          const bad = [...p.siblings];
          bad[0] = `0x${"00".repeat(32)}`;
          expect(verifyInclusion({ ...p, siblings: bad }, root)).toBe(false);
          expect(verifyInclusion({ ...p, siblings: p.siblings.slice(1) }, root)).toBe(false);
        }
      }
    }
    expect(() => inclusionProof(suite(3), "not there")).toThrow(RangeError);
  });
});

describe("zk/merkle: named slots, rule and signed root", () => {
  test("ruleHash, namedRoot and the signed root match circomlibjs Poseidon (the circuit's reference)", async () => {
    const ref = await buildPoseidon();
    const P = (xs: bigint[]) => ref.F.toObject(ref(xs));
    const named = ["t > one", "t > two", "t > three"];
    const ids = [...named.map(testIdHash), ...Array(29).fill(0n)];
    const low = P(ids.slice(0, 16));
    const high = P(ids.slice(16));
    expect(ruleHash(named, 5)).toBe(P([low, high, 5n]));

    const tests: TestResult[] = [
      { id: "t > one", passed: true },
      { id: "t > two", passed: false },
      { id: "t > other", passed: true },
    ];
    const c = reportCommitment({ tests, named, minPassing: 2, newFailures: 1 });
    // slot 0 passed, slot 1 failed, slot 2 missing from the report (passed = 0)
    expect(c.namedSlots.slice(0, 4).map((s) => s.passed)).toEqual([1n, 0n, 0n, 0n]);
    expect(c.namedSlots[3]).toEqual({ id: null, idHash: 0n, passed: 0n });
    expect(c.namedRoot).toBe(P([P([low, high]), 0b001n]));
    expect(namedRoot(c.namedSlots)).toBe(c.namedRoot);
    expect(c.summary).toEqual({ testCount: 3, passedCount: 2, failedCount: 1, newFailures: 1 });
    expect(c.allRoot).toBe(allTestsRoot(tests));
    expect(c.root).toBe(P([c.namedRoot, c.allRoot, 3n, 2n, 1n, 1n]));
    expect(signedRoot(c.namedRoot, c.allRoot, c.summary)).toBe(c.root);
    expect(c.ruleHash).toBe(ruleHash(named, 2));
  });

  test("the rule depends on the named tests, their order and minPassing", () => {
    const base = ruleHash(["a", "b"], 1);
    expect(ruleHash(["b", "a"], 1)).not.toBe(base);
    expect(ruleHash(["a", "b"], 2)).not.toBe(base);
    expect(ruleHash(["a"], 1)).not.toBe(base);
    expect(ruleHash([], 1)).not.toBe(ruleHash([], 2));
    expect(() => ruleHash(["a", "a"], 1)).toThrow(RangeError);
    expect(() => ruleHash(["a"], 0)).toThrow(RangeError);
    expect(() =>
      ruleHash(
        Array.from({ length: MAX_NAMED_TESTS + 1 }, (_, i) => `t${i}`),
        1,
      ),
    ).toThrow(/at most 32/);
  });

  test("the signed root changes with any test, any named outcome and any count", () => {
    const tests = suite(500, 9);
    const named = tests
      .filter((t) => t.passed)
      .slice(0, 20)
      .map((t) => t.id);
    const c = reportCommitment({ tests, named, minPassing: 20, newFailures: 0 });
    const unnamedFlip = tests.map((t) =>
      t.id === tests.find((x) => !named.includes(x.id))!.id ? { ...t, passed: !t.passed } : t,
    );
    const roots = [
      c.root,
      reportCommitment({ tests: unnamedFlip, named, minPassing: 20, newFailures: 0 }).root,
      reportCommitment({ tests, named, minPassing: 20, newFailures: 1 }).root,
      reportCommitment({ tests: tests.slice(1), named, minPassing: 20, newFailures: 0 }).root,
      reportCommitment({ tests, named: named.slice(1), minPassing: 20, newFailures: 0 }).root,
    ];
    expect(new Set(roots).size).toBe(roots.length);
    // minPassing is in the rule, not in the signed root
    expect(reportCommitment({ tests, named, minPassing: 3, newFailures: 0 }).root).toBe(c.root);
  });

  test("unprovableReason names a failed or missing named test, regressions and too few passes", () => {
    const tests = suite(40, 4); // ids 0, 4, 8, … fail
    const ok = tests
      .filter((t) => t.passed)
      .slice(0, 5)
      .map((t) => t.id);
    expect(unprovableReason(reportCommitment({ tests, named: ok, minPassing: 30, newFailures: 0 }))).toBeNull();
    const withFailed = [...ok, tests[4]!.id];
    expect(unprovableReason(reportCommitment({ tests, named: withFailed, minPassing: 1, newFailures: 0 }))).toContain(
      tests[4]!.id,
    );
    expect(
      unprovableReason(reportCommitment({ tests, named: [...ok, "gone"], minPassing: 1, newFailures: 0 })),
    ).toContain("gone");
    expect(unprovableReason(reportCommitment({ tests, named: ok, minPassing: 1, newFailures: 2 }))).toMatch(/2 test/);
    expect(unprovableReason(reportCommitment({ tests, named: ok, minPassing: 31, newFailures: 0 }))).toMatch(/30 test/);
  });

  test("the witness carries every signal the circuit takes", () => {
    const c = reportCommitment({
      tests: suite(10),
      named: ["suite/f1.test.ts > case 1"],
      minPassing: 1,
      newFailures: 0,
    });
    const w = reportWitness(c, { taskId: 9n, payee: "0x00000000000000000000000000000000000a11ce", amount: 5n });
    expect(Object.keys(w).sort()).toEqual(
      [
        "allRoot",
        "amount",
        "failedCount",
        "minPassing",
        "namedIds",
        "namedPassed",
        "newFailures",
        "passedCount",
        "payee",
        "root",
        "ruleHash",
        "taskId",
        "testCount",
      ].sort(),
    );
    expect(w.payee).toBe(String(0xa11cen));
    expect((w.namedIds as string[]).length).toBe(32);
    expect((w.namedPassed as string[]).slice(0, 2)).toEqual(["1", "0"]);
  });

  test("100,000 tests commit (their CPU time is in bench/zk.ts)", () => {
    const tests = suite(100_000, 97);
    const named = tests.slice(1, 33).map((t) => t.id);
    const c = reportCommitment({ tests, named, minPassing: 1, newFailures: 0 });
    expect(c.summary.testCount).toBe(100_000);
    expect(c.summary.passedCount).toBe(tests.filter((t) => t.passed).length);
    expect(c.namedSlots.filter((s) => s.id !== null).map((s) => s.id)).toEqual(named);
  });
});
