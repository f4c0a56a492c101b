import { describe, expect, test } from "bun:test";
import { keccak256, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { attestationFor, attestationSigner } from "../../test/support/attestation";
import { AppError } from "../core/errors";
import { onChainProjectId, signAttestation } from "../zk/attestation";
import { leaf, merkleRoot, reportLeaves, testIdHash } from "../zk/merkle";
import { buildDigest, canonicalJson, digestForSigning, foldLeaves, type HarnessDigest, reportHash } from "./digest";

const parts = {
  repository: {
    url: "https://example.test/acme/widget.git",
    commit: "a".repeat(40),
    tree: "b".repeat(40),
    parents: [],
    author: { name: "A", email: "a@example.test", time: 1 },
    committer: { name: "C", email: "c@example.test", time: 2 },
    subject: "init",
  },
  environment: {
    backend: "docker" as const,
    imageDigest: `sha256:${"c".repeat(64)}`,
    tools: { bun: "1.4.5" },
    tz: "UTC",
    lang: "C.UTF-8",
    sourceDateEpoch: 2,
  },
  dependencies: null,
  steps: [],
  tests: [
    { id: "test > b", passed: true },
    { id: "test", passed: true },
    { id: "test > a", passed: false },
  ],
  flaky: [],
  result: "FAILED" as const,
};

describe("canonical JSON", () => {
  test("sorts keys at every level, keeps array order, no whitespace", () => {
    expect(canonicalJson({ b: 1, a: [{ d: true, c: null }, "x"], e: undefined })).toBe(
      '{"a":[{"c":null,"d":true},"x"],"b":1}',
    );
  });
  test("bigints become strings; floats and other types are refused", () => {
    expect(canonicalJson({ n: 10n ** 30n })).toBe('{"n":"1000000000000000000000000000000"}');
    expect(() => canonicalJson({ x: 1.5 })).toThrow();
    expect(() => canonicalJson({ x: () => 1 })).toThrow();
  });
  test("escapes strings as JSON does (unicode kept)", () => {
    expect(canonicalJson({ s: 'é "q" \n' })).toBe('{"s":"é \\"q\\" \\n"}');
  });
});

describe("digest", () => {
  test("leaves are sorted by id and the root is the shared Poseidon tree's", () => {
    const d = buildDigest(parts);
    expect(d.tests.map((t) => t.id)).toEqual(["test", "test > a", "test > b"]);
    const expected = merkleRoot(reportLeaves(d.tests));
    expect(d.merkle).toEqual({ arity: 8, depth: 2, leafCount: 3, granularity: "test", root: expected.toString() });
    // The same leaves by hand: sorted by id hash, (idHash, passed) each.
    const manual = [...d.tests]
      .map((t) => ({ h: testIdHash(t.id), p: t.passed ? 1n : 0n }))
      .sort((a, b) => (a.h < b.h ? -1 : 1))
      .map((t) => leaf(t.h, t.p as 0n | 1n));
    expect(merkleRoot(manual).toString()).toBe(d.merkle.root);
  });

  test("the report hash is keccak256 of the canonical JSON and ignores key order", () => {
    const d = buildDigest(parts);
    expect(reportHash(d)).toBe(keccak256(toBytes(canonicalJson(d))));
    const reordered = JSON.parse(JSON.stringify(d, Object.keys(d).reverse())) as HarnessDigest;
    expect(reportHash({ ...reordered, ...d })).toBe(reportHash(d));
    expect(reportHash({ ...d, result: "PASSED" })).not.toBe(reportHash(d));
  });

  test("the harness key signs an attestation over the digest that recovers to it", async () => {
    const d = buildDigest(parts);
    const key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d";
    const a = attestationFor(d, {
      projectId: onChainProjectId("project-1"),
      taskId: 7n,
      payee: "0x000000000000000000000000000000000000dEaD",
      amount: 10n ** 18n,
      minPassing: 1n,
    });
    expect(a.root).toBe(BigInt(d.merkle.root));
    expect(a.digest).toBe(digestForSigning(d).digest);
    const domain = { chainId: 31337, escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const };
    const sig = await signAttestation(a, domain, key);
    expect(await attestationSigner(a, domain, sig)).toBe(privateKeyToAccount(key).address);
  });
});

describe("leaf folding", () => {
  test("duplicate ids are an error, never renamed", () => {
    const err = (() => {
      try {
        foldLeaves([
          { id: "t > a", passed: true },
          { id: "t > a", passed: false },
        ]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("DUPLICATE_TEST_ID");
  });

  test("within the tree size every test is a leaf", () => {
    const tests = Array.from({ length: 64 }, (_, i) => ({ id: `t > f > ${i}`, passed: true }));
    expect(foldLeaves(tests).granularity).toBe("test");
  });

  test("beyond it tests are grouped by file, a group passing only when all its tests pass", () => {
    const tests = [{ id: "t", passed: true }];
    for (let f = 0; f < 5; f++)
      for (let i = 0; i < 20; i++) tests.push({ id: `t > f${f} > ${i}`, passed: !(f === 3 && i === 7) });
    const { leaves, granularity } = foldLeaves(tests);
    expect(granularity).toBe("group");
    expect(leaves).toEqual([
      { id: "t", passed: true },
      { id: "t > f0", passed: true },
      { id: "t > f1", passed: true },
      { id: "t > f2", passed: true },
      { id: "t > f3", passed: false },
      { id: "t > f4", passed: true },
    ]);
  });
});
