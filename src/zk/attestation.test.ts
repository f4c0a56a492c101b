import { describe, expect, test } from "bun:test";
import { generatePrivateKey, privateKeyToAddress } from "viem/accounts";
import {
  type Attestation,
  attestationFromRecord,
  attestationToRecord,
  onChainProjectId,
  onChainTaskId,
  signAttestation,
  signVerificationReport,
  verifyAttestation,
} from "./attestation";
import { reportCommitment } from "./merkle";

const harnessKey = generatePrivateKey();
const domain = { chainId: 31337, escrow: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as const };
const c = reportCommitment({
  tests: [
    { id: "a > one", passed: true },
    { id: "a > two", passed: true },
  ],
  named: ["a > one"],
  minPassing: 1,
  newFailures: 0,
});
const att: Attestation = {
  projectId: onChainProjectId("project-1"),
  taskId: onChainTaskId("task-1"),
  payee: "0x00000000000000000000000000000000000A11cE",
  amount: 1_500_000n,
  root: c.root,
  ruleHash: c.ruleHash,
  digest: `0x${"ab".repeat(32)}`,
};

describe("zk/attestation", () => {
  test("verifyAttestation recovers the harness key's address; any changed field or domain recovers another", async () => {
    const sig = await signAttestation(att, domain, harnessKey);
    expect(await verifyAttestation(att, domain, sig)).toBe(privateKeyToAddress(harnessKey));
    const changed: Attestation[] = [
      { ...att, amount: att.amount + 1n },
      { ...att, payee: "0x0000000000000000000000000000000000000b0b" },
      { ...att, ruleHash: att.ruleHash + 1n },
      { ...att, root: att.root + 1n },
      { ...att, taskId: onChainTaskId("task-2") },
    ];
    for (const a of changed) expect(await verifyAttestation(a, domain, sig)).not.toBe(privateKeyToAddress(harnessKey));
    expect(await verifyAttestation(att, { ...domain, chainId: 1 }, sig)).not.toBe(privateKeyToAddress(harnessKey));
  });

  test("signVerificationReport stores strings that parse back to the signed attestation", async () => {
    const stored = await signVerificationReport(att, domain, harnessKey);
    expect(stored.signer).toBe(privateKeyToAddress(harnessKey));
    expect(stored.chainId).toBe(31337);
    expect(Object.values(stored.attestation).every((v) => typeof v === "string")).toBe(true);
    const back = attestationFromRecord(JSON.parse(JSON.stringify(stored.attestation)));
    expect(back).toEqual(att);
    expect(await verifyAttestation(back, domain, stored.signature as `0x${string}`)).toBe(
      stored.signer as `0x${string}`,
    );
  });

  test("a malformed stored attestation is refused with the field's name", () => {
    const r = attestationToRecord(att);
    expect(() => attestationFromRecord({ ...r, ruleHash: "-1" })).toThrow(/ruleHash/);
    expect(() => attestationFromRecord({ ...r, payee: "nobody" })).toThrow(/payee/);
    const { root: _root, ...noRoot } = r;
    expect(() => attestationFromRecord(noRoot)).toThrow(/root/);
  });
});
