// Naming a project's sponsor on chain before its first deposit. Project ids are computable by anyone (a hash of
// the project's id), so the escrow takes deposits only from the wallet the worker registered for the project: an
// outsider's deposit cannot make itself the sponsor and lock the real one out.
import { desc, eq } from "drizzle-orm";
import { type Address, getAddress, type Hex, zeroAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import type { Db } from "../core/db";
import { AppError, conflict, unavailable } from "../core/errors";
import { wallets } from "../users/schema";
import { ProjectEscrow } from "./contracts.gen";
import { decodeRevert } from "./revert";
import type { ChainRuntime } from "./service";

/** A project's registration as the escrow holds it. */
export interface SponsorRegistration {
  sponsor: Address;
  token: Address;
  /** A deposit was made: sponsor and token are fixed. */
  funded: boolean;
  /** The registration transaction, when this call sent one. */
  txHash?: Hex;
}

const STATE_NONE = 0;
const STATE_ACTIVE = 1;

/** The escrow's record of a project (state None = never registered). */
export async function readRegistration(rt: ChainRuntime, projectKey: Hex) {
  const escrow = rt.deployment?.escrow;
  if (!escrow) throw unavailable("no escrow contract is deployed", { fix: "devsponsor chain deploy" });
  const p = await rt.conn.publicClient.readContract({
    address: escrow,
    abi: ProjectEscrow.abi,
    functionName: "getProject",
    args: [projectKey],
  });
  return { escrow, sponsor: p.sponsor, token: p.token, state: p.state, funded: p.funded };
}

/**
 * Makes `sponsor` the wallet allowed to fund the project in `token`: registers it with the worker key unless the
 * escrow already holds exactly that. Before the first deposit another wallet may replace the registered one;
 * after it, the registered sponsor stays and is returned (top-ups must come from it).
 */
export async function registerSponsor(
  rt: ChainRuntime,
  projectKey: Hex,
  sponsor: Address,
  token: Address | null,
): Promise<SponsorRegistration> {
  const wanted = { sponsor: getAddress(sponsor), token: getAddress(token ?? zeroAddress) };
  const current = await readRegistration(rt, projectKey);
  const same =
    current.state === STATE_ACTIVE &&
    current.sponsor.toLowerCase() === wanted.sponsor.toLowerCase() &&
    current.token.toLowerCase() === wanted.token.toLowerCase();
  if (same || (current.funded && current.state === STATE_ACTIVE)) {
    if (current.token.toLowerCase() !== wanted.token.toLowerCase()) {
      throw conflict(`The escrow holds this project's funds in another token (${current.token}).`, "CONFLICT");
    }
    return { sponsor: current.sponsor, token: current.token, funded: current.funded };
  }
  if (current.state !== STATE_NONE && current.state !== STATE_ACTIVE) {
    throw conflict("The project is closing or closed on chain: it takes no deposits.", "CONFLICT");
  }
  if (!rt.workerKey) throw unavailable("no worker key is set", { fix: "Settings → Chain → Worker key" });
  const wallet = rt.conn.wallet(rt.workerKey);
  let txHash: Hex;
  try {
    txHash = await wallet.writeContract({
      address: current.escrow,
      abi: ProjectEscrow.abi,
      functionName: "registerProject",
      args: [projectKey, wanted.sponsor, wanted.token],
    });
  } catch (err) {
    const revert = decodeRevert(err);
    if (!revert) throw err;
    throw new AppError("CONFLICT", `The escrow refused to register the sponsor (${revert.name}).`, 409, {
      contractError: revert.name,
    });
  }
  const receipt = await rt.conn.publicClient.waitForTransactionReceipt({
    hash: txHash,
    confirmations: Math.max(1, rt.confirmations),
  });
  if (receipt.status !== "success") throw new AppError("INTERNAL", `sponsor registration reverted: ${txHash}`, 500);
  return { ...wanted, funded: false, txHash };
}

/**
 * The wallet a sponsor funds from: `chosen` when given (it must be one they proved), else their payout wallet, else
 * the newest wallet they proved with Sign-In with Ethereum. On the embedded dev chain, a sponsor without one funds
 * from the dev chain's sponsor account (the one-click demo deposit). Elsewhere a proved wallet is required.
 */
export async function sponsorWallet(
  db: Db,
  rt: ChainRuntime,
  userId: string | undefined,
  chosen?: string,
): Promise<Address> {
  const mine = userId
    ? await db
        .select({ address: wallets.address })
        .from(wallets)
        .where(eq(wallets.userId, userId))
        .orderBy(desc(wallets.isPayout), desc(wallets.createdAt))
    : [];
  if (chosen) {
    const hit = mine.find((w) => w.address.toLowerCase() === chosen.toLowerCase());
    if (!hit)
      throw conflict(
        `Prove ${chosen} with Sign-In with Ethereum first (Profile → Wallets): deposits come only from wallets you proved.`,
        "CONFLICT",
        { fix: "/profile" },
      );
    return getAddress(hit.address);
  }
  const own = mine[0];
  if (own) return getAddress(own.address);
  if (rt.mode === "dev" && rt.dev) return privateKeyToAddress(rt.dev.genesis.keys.sponsor);
  throw conflict(
    "Link the wallet you will deposit from first (Profile → Wallets, signed with Sign-In with Ethereum): the escrow takes this project's deposits only from it.",
    "CONFLICT",
    { fix: "/profile" },
  );
}

/** Registers the quoting sponsor's wallet (see sponsorWallet) for a project and returns the registration. */
export async function registerQuoteSponsor(
  db: Db,
  rt: ChainRuntime,
  userId: string | undefined,
  projectKey: Hex,
  token: string | null,
  chosen?: string,
): Promise<SponsorRegistration> {
  return registerSponsor(rt, projectKey, await sponsorWallet(db, rt, userId, chosen), token as Address | null);
}
