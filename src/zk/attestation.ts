// The harness attestation: EIP-712 typed data the harness key signs over a verification report, bound to the
// escrow contract and chain (domain), the project, the task, the payee, the amount, the report's root and the
// task's rule (ruleHash, merkle.ts). The escrow accepts a payment only with this signature and a proof
// (prover.ts) over the same root, task, payee, amount and rule. Only the harness signs (src/harness/signer.ts);
// the payout verifies (verifyAttestation).
import { type Address, getAddress, type Hex, hashTypedData, keccak256, recoverTypedDataAddress, toBytes } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { fieldFromString } from "./merkle";

/** EIP-712 domain name and version of ProjectEscrow (its constructor passes the same). */
export const ATTESTATION_DOMAIN = { name: "DevSponsorEscrow", version: "1" } as const;

export const ATTESTATION_TYPES = {
  Attestation: [
    { name: "projectId", type: "bytes32" },
    { name: "taskId", type: "uint256" },
    { name: "payee", type: "address" },
    { name: "amount", type: "uint256" },
    { name: "root", type: "uint256" },
    { name: "ruleHash", type: "uint256" },
    { name: "digest", type: "bytes32" },
  ],
} as const;

/** One attested release; field for field the contract's `Release` struct. */
export interface Attestation {
  projectId: Hex;
  taskId: bigint;
  payee: Address;
  amount: bigint;
  root: bigint;
  /** merkle.ruleHash of the task's named acceptance tests and minPassing. */
  ruleHash: bigint;
  /** The harness's hash of its full report document. */
  digest: Hex;
}

/** Where an attestation is valid: one escrow contract on one chain. */
export interface AttestationDomain {
  chainId: number;
  escrow: Address;
}

/** The escrow's project key for an application project id: keccak256 of its UTF-8 bytes. */
export function onChainProjectId(projectId: string): Hex {
  return keccak256(toBytes(projectId));
}

/** The task id used on chain and in the circuit: a field element (sha256 mod p, merkle.fieldFromString). */
export function onChainTaskId(taskId: string): bigint {
  return fieldFromString(taskId);
}

function typedData(a: Attestation, d: AttestationDomain) {
  return {
    domain: { ...ATTESTATION_DOMAIN, chainId: d.chainId, verifyingContract: d.escrow },
    types: ATTESTATION_TYPES,
    primaryType: "Attestation" as const,
    message: a,
  };
}

/** The EIP-712 hash the contract's attestationHash returns for the same release. */
export function attestationHash(a: Attestation, d: AttestationDomain): Hex {
  return hashTypedData(typedData(a, d));
}

/** Signs an attestation with the harness key (held by the harness side only). */
export function signAttestation(a: Attestation, d: AttestationDomain, harness: Hex | PrivateKeyAccount): Promise<Hex> {
  const account = typeof harness === "string" ? privateKeyToAccount(harness) : harness;
  return account.signTypedData(typedData(a, d));
}

/** Recovers the address that signed an attestation for a domain (compare it with the escrow's harnessSigner). */
export function verifyAttestation(a: Attestation, d: AttestationDomain, signature: Hex): Promise<Address> {
  return recoverTypedDataAddress({ ...typedData(a, d), signature });
}

/** A signed attestation as stored with a verification run (src/tasks/schema.ts SignedReport): strings only. */
export interface StoredSignedReport {
  attestation: Record<string, string>;
  signature: string;
  signer: string;
  chainId: number;
  escrow: string;
}

/** An attestation's fields as decimal or 0x strings, for JSON storage. */
export function attestationToRecord(a: Attestation): Record<string, string> {
  return {
    projectId: a.projectId,
    taskId: a.taskId.toString(),
    payee: a.payee,
    amount: a.amount.toString(),
    root: a.root.toString(),
    ruleHash: a.ruleHash.toString(),
    digest: a.digest,
  };
}

/** Parses a stored attestation; throws a RangeError naming the first missing or malformed field. */
export function attestationFromRecord(r: Record<string, string>): Attestation {
  const field = (k: string, re: RegExp) => {
    const v = r[k];
    if (typeof v !== "string" || !re.test(v)) throw new RangeError(`attestation field ${k} is missing or malformed`);
    return v;
  };
  const dec = /^[0-9]{1,78}$/;
  return {
    projectId: field("projectId", /^0x[0-9a-fA-F]{64}$/) as Hex,
    taskId: BigInt(field("taskId", dec)),
    payee: getAddress(field("payee", /^0x[0-9a-fA-F]{40}$/)),
    amount: BigInt(field("amount", dec)),
    root: BigInt(field("root", dec)),
    ruleHash: BigInt(field("ruleHash", dec)),
    digest: field("digest", /^0x[0-9a-fA-F]{64}$/) as Hex,
  };
}

/**
 * Signs a verification's attestation and packs it for storage with the run (task_verifications.signed_report).
 * The key is the caller's: only the harness side holds it.
 */
export async function signVerificationReport(
  a: Attestation,
  d: AttestationDomain,
  harness: Hex | PrivateKeyAccount,
): Promise<StoredSignedReport> {
  const account = typeof harness === "string" ? privateKeyToAccount(harness) : harness;
  const signature = await signAttestation(a, d, account);
  return {
    attestation: attestationToRecord(a),
    signature,
    signer: account.address,
    chainId: d.chainId,
    escrow: getAddress(d.escrow),
  };
}
