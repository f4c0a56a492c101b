// Fees the escrow really owes: one native-coin payment released through the contract (registered project, sponsor
// deposit, proven and signed claim), so its payment fee accrues for the treasury. For the admin console's tests.
import { zeroAddress } from "viem";
import { ProjectEscrow } from "../../src/chain/contracts.gen";
import type { Deployment } from "../../src/chain/deploy";
import { submitRelease } from "../../src/payments/release";
import { onChainProjectId } from "../../src/zk/attestation";
import { privateKeyToAddress } from "viem/accounts";
import { attestationOf, PAYEE, proveClaim, sign, type TestChain } from "./chain";

/** Releases `amount` wei to a fixed payee on a fresh project; returns the fee it accrued. */
export async function accrueNativeFees(chain: TestChain, d: Deployment, amount = 10n ** 16n): Promise<bigint> {
  const projectKey = crypto.randomUUID();
  // escrows that bind a project to its sponsor first (registerProject) take deposits only after that
  const abi = ProjectEscrow.abi as readonly { type: string; name?: string }[];
  if (abi.some((f) => f.type === "function" && f.name === "registerProject")) {
    const reg = await chain.conn.wallet(chain.keys.worker).writeContract({
      address: d.escrow,
      abi: ProjectEscrow.abi as any,
      functionName: "registerProject",
      args: [onChainProjectId(projectKey), privateKeyToAddress(chain.keys.sponsor), zeroAddress],
    });
    await chain.conn.publicClient.waitForTransactionReceipt({ hash: reg });
  }
  const hash = await chain.conn.wallet(chain.keys.sponsor).writeContract({
    address: d.escrow,
    abi: ProjectEscrow.abi,
    functionName: "deposit",
    args: [onChainProjectId(projectKey), zeroAddress, amount],
    value: amount,
  });
  await chain.conn.publicClient.waitForTransactionReceipt({ hash });
  const claim = await proveClaim(`fees-${projectKey}`, PAYEE, amount);
  const a = attestationOf(projectKey, claim);
  const r = await submitRelease(
    chain.conn,
    d.escrow,
    chain.keys.worker,
    a,
    await sign(chain, d, a),
    claim.proof.calldata,
  );
  return r.fee;
}
