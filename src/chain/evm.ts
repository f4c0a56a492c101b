// Does the node run the EVM the escrow needs? The escrow is built for the Cancun fork: its reentrancy guard keeps
// its lock in transient storage (TLOAD/TSTORE, EIP-1153) and OpenZeppelin's byte helpers copy memory with MCOPY
// (EIP-5656). A node at Shanghai or earlier deploys it and then fails every guarded call (deposits, payments)
// with "invalid opcode". Two harmless calls tell, without spending gas: a contract-creation eth_call that runs
// the three opcodes and returns what they computed, and (once deployed) a guarded escrow call that moves nothing.
import type { Address, Hex } from "viem";
import type { ChainConnection } from "./client";
import { ProjectEscrow } from "./contracts.gen";
import { decodeRevert, isInvalidOpcode, isNodeAnswer } from "./revert";

/**
 * Init code that runs TSTORE(0, 1), TLOAD(0) into memory[0], MCOPY(32, 0, 32) and returns memory[0..64]:
 * 60 01 60 00 5d | 60 00 5c 60 00 52 | 60 20 60 00 60 20 5e | 60 40 60 00 f3
 */
export const CANCUN_PROBE: Hex = "0x600160005d60005c6000526020600060205e60406000f3";
const PROBE_RESULT = `0x${"0".repeat(63)}1${"0".repeat(63)}1`;

/** A token address no fees are ever owed in: `withdrawFees` on it passes the guard and transfers nothing. */
const NO_FEES_TOKEN: Address = "0x000000000000000000000000000000000000dEaD";

/** What the check found. */
export interface EvmCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

const LACKS = "this node lacks the Cancun fork (EIP-1153/5656)";
const FIX =
  "use a node and chain at the Cancun fork or later (Ethereum mainnet and its major L2s are); for a local node, set its hardfork to cancun or later";

function reason(err: unknown): string {
  const e = err as { details?: string; shortMessage?: string; message?: string };
  return (e.details || e.shortMessage || e.message || String(err)).split("\n")[0]!;
}

/** Runs the opcodes the escrow needs in an eth_call (no contract, no gas spent). */
export async function probeCancun(conn: ChainConnection): Promise<EvmCheck> {
  try {
    const { data } = await conn.publicClient.call({ data: CANCUN_PROBE });
    if (data === PROBE_RESULT) return { ok: true, detail: "Cancun opcodes (TLOAD/TSTORE, MCOPY) run" };
    return {
      ok: false,
      detail: `${LACKS}: TSTORE/TLOAD/MCOPY computed ${data ?? "nothing"} instead of 1, 1`,
      fix: FIX,
    };
  } catch (err) {
    // a node without the opcodes aborts the call (invalid opcode); any other error the node answers for this
    // pure call says the same, since it reads no state. Transport errors and timeouts are not an answer.
    if (isInvalidOpcode(err) || isNodeAnswer(err)) {
      return { ok: false, detail: `${LACKS}: running TSTORE/TLOAD/MCOPY failed with "${reason(err)}"`, fix: FIX };
    }
    throw err;
  }
}

/** Calls the deployed escrow through its reentrancy guard (`withdrawFees` of a token that owes nothing). */
export async function probeEscrowGuard(conn: ChainConnection, escrow: Address): Promise<EvmCheck> {
  try {
    await conn.publicClient.simulateContract({
      address: escrow,
      abi: ProjectEscrow.abi,
      functionName: "withdrawFees",
      args: [NO_FEES_TOKEN],
    });
    return { ok: true, detail: "a guarded escrow call (withdrawFees, nothing owed) runs" };
  } catch (err) {
    if (isInvalidOpcode(err)) {
      return {
        ok: false,
        detail: `${LACKS}: the escrow's reentrancy guard failed with "${reason(err)}", so every deposit and payment would fail`,
        fix: FIX,
      };
    }
    const revert = decodeRevert(err);
    return {
      ok: false,
      detail: `a guarded escrow call (withdrawFees, nothing owed) failed: ${revert ? revert.name : reason(err)}`,
      fix: "check that the escrow address is this appliance's ProjectEscrow (devsponsor chain deploy)",
    };
  }
}

/** Both checks: the opcodes, then (when deployed) the escrow's guard. */
export async function checkEvm(conn: ChainConnection, escrow?: Address): Promise<EvmCheck> {
  const probe = await probeCancun(conn);
  if (!probe.ok || !escrow) return probe;
  const guard = await probeEscrowGuard(conn, escrow);
  return guard.ok ? { ok: true, detail: `${probe.detail}; ${guard.detail}` } : guard;
}
