import { describe, expect, test } from "bun:test";
import { keccak256, toBytes } from "viem";
import { privateKeyToAccount } from "viem/accounts";
import { attestationFor, attestationSigner } from "../../test/support/attestation";
import { AppError } from "../core/errors";
import { onChainProjectId, signAttestation } from "../zk/attestation";
import { reportCommitment, ruleHash } from "../zk/merkle";
import { buildDigest, canonicalJson, type HarnessDigest, reportHash } from "./digest";

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
  test("tests are sorted by id and the root is the report commitment of src/zk/merkle.ts", () => {
    const d = buildDigest(parts);
    expect(d.tests.map((t) => t.id)).toEqual(["test", "test > a", "test > b"]);
    const c = reportCommitment({ tests: d.tests, named: [], minPassing: 1, newFailures: 1 });
    expect(d.merkle).toEqual({
      root: c.root.toString(),
      allRoot: c.allRoot.toString(),
      namedRoot: c.namedRoot.toString(),
      ruleHash: c.ruleHash.toString(),
      testCount: 3,
      passedCount: 2,
      failedCount: 1,
      newFailures: 1,
    });
    expect(d.merkle.allRoot).toBe(
      reportCommitment({ tests: d.tests, named: [], minPassing: 1, newFailures: 0 }).allRoot.toString(),
    );
    expect(d.acceptance).toBeNull();
  });

  test("named tests fill the commitment's slots; flaky tests count as not passed; regressions are counted", () => {
    const named = [{ id: "test > b", status: "passed" as const }];
    const d = buildDigest({
      ...parts,
      flaky: ["test"],
      acceptance: { baseCommit: "f".repeat(40), named, minPassing: 1, newFailures: ["test"], protectedChanges: [] },
    });
    const c = reportCommitment({
      tests: [
        { id: "test", passed: false },
        { id: "test > a", passed: false },
        { id: "test > b", passed: true },
      ],
      named: ["test > b"],
      minPassing: 1,
      newFailures: 1,
    });
    expect(d.merkle.root).toBe(c.root.toString());
    expect(d.merkle.ruleHash).toBe(c.ruleHash.toString());
    expect(d.merkle.passedCount).toBe(1);
    expect(d.acceptance?.named).toEqual(named);
  });

  test("the rule hash carries the task's minimum of passing tests, with or without named tests", () => {
    expect(buildDigest({ ...parts, minPassing: 3 }).merkle.ruleHash).toBe(ruleHash([], 3).toString());
    expect(buildDigest(parts).merkle.ruleHash).toBe(ruleHash([], 1).toString());
  });

  test("duplicate ids are an error, never renamed", () => {
    const err = (() => {
      try {
        buildDigest({
          ...parts,
          tests: [
            { id: "t > a", passed: true },
            { id: "t > a", passed: false },
          ],
        });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("DUPLICATE_TEST_ID");
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
      ruleHash: 1n,
    });
    expect(a.root).toBe(BigInt(d.merkle.root));
    expect(a.digest).toBe(reportHash(d));
    const domain = { chainId: 31337, escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const };
    const sig = await signAttestation(a, domain, key);
    expect(await attestationSigner(a, domain, sig)).toBe(privateKeyToAccount(key).address);
  });
});
