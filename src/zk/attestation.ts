// The harness attestation: EIP-712 typed data the platform's harness key signs over a verification report, bound
// to the escrow contract and chain (domain), the project, the task, the payee and the amount. The escrow accepts a
// payment only with this signature and a proof (prover.ts) over the same root, task, payee and amount.
import { type Address, type Hex, hashTypedData, keccak256, toBytes } from "viem";
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
    { name: "minPassing", type: "uint256" },
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
  minPassing: bigint;
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

/** Signs an attestation with the harness key. */
export function signAttestation(a: Attestation, d: AttestationDomain, harness: Hex | PrivateKeyAccount): Promise<Hex> {
  const account = typeof harness === "string" ? privateKeyToAccount(harness) : harness;
  return account.signTypedData(typedData(a, d));
}
