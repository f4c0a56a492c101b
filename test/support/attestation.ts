// Attestation helpers only tests need: the attestation of a harness digest, and who signed one.
import { type Address, type Hex, recoverAddress } from "viem";
import { type HarnessDigest, reportHash } from "../../src/harness/digest";
import { type Attestation, type AttestationDomain, attestationHash } from "../../src/zk/attestation";

/** A full attestation for one payment: the task's fields plus the digest's root and hash. */
export function attestationFor(digest: HarnessDigest, task: Omit<Attestation, "root" | "digest">): Attestation {
  return { ...task, root: BigInt(digest.merkle.root), digest: reportHash(digest) };
}

/** Recovers the signer of an attestation from the EIP-712 hash the escrow contract checks. */
export function attestationSigner(a: Attestation, d: AttestationDomain, signature: Hex): Promise<Address> {
  return recoverAddress({ hash: attestationHash(a, d), signature });
}
