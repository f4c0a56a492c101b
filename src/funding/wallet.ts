// Funding from a browser wallet (spec §3.1.5): the appliance prepares the transactions the sponsor's wallet sends
// for the latest quote (an ERC-20 approve when the escrow's allowance is short, then the escrow deposit), so the
// page's script only relays them to the wallet and confirms the deposit's hash afterwards.
import { and, eq, sql } from "drizzle-orm";
import { type Address, encodeFunctionData, erc20Abi, getAddress, type Hex, numberToHex, zeroAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { ProjectEscrow } from "../chain/contracts.gen";
import { readRegistration } from "../chain/registration";
import { type ChainRuntime, requireChain } from "../chain/service";
import type { AppContext, Principal } from "../core/context";
import { conflict, invalidInput, unavailable } from "../core/errors";
import { loadProject } from "../projects/access";
import { wallets } from "../users/schema";
import { onChainProjectId } from "../zk/attestation";
import { fundingQuotes, fundingRecords } from "./schema";

/** One transaction the sponsor's wallet sends, in the order given. */
export interface WalletTransaction {
  step: "approve" | "deposit";
  /** What the transaction does, in words. */
  description: string;
  to: Address;
  data: Hex;
  /** Wei, hex-encoded as EIP-1193 wants it. */
  value: Hex;
}

/** The chain as `wallet_addEthereumChain` describes it (EIP-3085). */
export interface WalletChain {
  chainId: Hex;
  chainName: string;
  rpcUrls: string[];
  nativeCurrency: { name: string; symbol: string; decimals: number };
  blockExplorerUrls?: string[];
}

/** What the page's wallet script needs to fund the latest quote from the connected wallet. */
export interface WalletPlan {
  projectId: string;
  quoteId: string;
  expiresAt: string;
  chain: WalletChain;
  /** The only wallet the escrow takes this project's deposits from (registered on chain when quoting). */
  sponsorWallet: Address;
  /** A deposit was made: the sponsor wallet is fixed for good. Before it, a new quote may name another wallet. */
  funded: boolean;
  /** The connected wallet, when the page named one. */
  account: Address | null;
  /** The connected wallet is the sponsor wallet: `transactions` are to be sent from it. */
  accountMatches: boolean;
  /** The connected wallet is one the caller proved with Sign-In with Ethereum. */
  accountProved: boolean;
  /** What is still missing to cover the quote, in base units. */
  amount: string;
  token: { address: Address | null; symbol: string; decimals: number };
  /** Why the sponsor wallet cannot pay the amount (its balance is short), or null. */
  shortfall: string | null;
  /** Empty unless the connected wallet is the sponsor wallet (or none was named). */
  transactions: WalletTransaction[];
}

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain">;

/** The chain's description for the wallet; its RPC URL is the configured node's, or this appliance's relay. */
function walletChain(ctx: Ctx, rt: ChainRuntime, origin: string): WalletChain {
  const configured = ctx.settings.get("chain.rpcUrl");
  const explorer = ctx.settings.get("chain.explorerUrl");
  const id = rt.conn.chain.id;
  return {
    chainId: numberToHex(id),
    chainName: rt.mode === "dev" ? `DevSponsor dev chain ${id}` : rt.conn.chain.name || `Chain ${id}`,
    rpcUrls: [rt.mode === "rpc" && configured ? configured : `${origin}/chain/rpc`],
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    ...(explorer ? { blockExplorerUrls: [explorer] } : {}),
  };
}

/**
 * The transactions that fund the project's latest quote from the sponsor's wallet (GET
 * /api/projects/:id/fund/wallet): only for a caller who may fund the project, for an unexpired quote that the
 * deposits do not cover yet. `account` is the wallet the page is connected to; transactions are returned only when
 * it is the wallet the escrow id is bound to.
 */
export async function walletPlan(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  opts: { account?: string; origin: string },
): Promise<WalletPlan> {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  if (opts.account !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(opts.account))
    throw invalidInput({ account: "Not an EVM address." });
  const account = opts.account ? getAddress(opts.account) : null;
  const rt = await requireChain(ctx);
  const escrow = rt.deployment?.escrow;
  if (!escrow) throw unavailable("no escrow contract is deployed", { fix: "devsponsor chain deploy" });
  const [quote] = await ctx.db
    .select()
    .from(fundingQuotes)
    .where(eq(fundingQuotes.projectId, project.id))
    .orderBy(sql`${fundingQuotes.createdAt} desc`)
    .limit(1);
  if (!quote || quote.expiresAt <= new Date()) throw conflict("Get a funding quote first.", "CONFLICT");
  if (quote.chainId !== rt.conn.chain.id || quote.escrowAddress.toLowerCase() !== escrow.toLowerCase())
    throw conflict("The quote was made for another chain or escrow: get a new quote.", "CONFLICT");
  const [dep] = await ctx.db
    .select({ total: sql<string>`coalesce(sum(${fundingRecords.amount}), 0)::text` })
    .from(fundingRecords)
    .where(eq(fundingRecords.projectId, project.id));
  const missing = BigInt(quote.baseDeposited) + BigInt(quote.amount) - BigInt(dep?.total ?? "0");
  if (missing <= 0n) throw conflict("The deposits already cover the quote.", "CONFLICT");

  const projectKey = onChainProjectId(project.id);
  const reg = await readRegistration(rt, projectKey);
  if (reg.sponsor === zeroAddress) throw conflict("No wallet is registered for this project: get a new quote.");
  const sponsor = getAddress(reg.sponsor);
  const token = project.tokenAddress ? getAddress(project.tokenAddress) : null;
  if (getAddress(reg.token) !== (token ?? zeroAddress))
    throw conflict(`The escrow holds this project's funds in another token (${reg.token}).`, "CONFLICT");
  const accountMatches = account === null || account === sponsor;
  const proved =
    account && principal?.userId
      ? await ctx.db
          .select({ id: wallets.id })
          .from(wallets)
          .where(and(eq(wallets.userId, principal.userId), sql`lower(${wallets.address}) = ${account.toLowerCase()}`))
          .limit(1)
      : [];

  const client = rt.conn.publicClient;
  const symbol = project.tokenSymbol ?? (token ? "tokens" : "ETH");
  const transactions: WalletTransaction[] = [];
  let shortfall: string | null = null;
  if (token) {
    const [allowance, balance] = await Promise.all([
      client.readContract({ address: token, abi: erc20Abi, functionName: "allowance", args: [sponsor, escrow] }),
      client.readContract({ address: token, abi: erc20Abi, functionName: "balanceOf", args: [sponsor] }),
    ]);
    if (balance < missing)
      shortfall = `The wallet holds ${balance} base units of ${symbol}; the deposit needs ${missing}.`;
    if (allowance < missing) {
      transactions.push({
        step: "approve",
        description: `Allow the escrow to take ${missing} base units of ${symbol}`,
        to: token,
        data: encodeFunctionData({ abi: erc20Abi, functionName: "approve", args: [escrow, missing] }),
        value: "0x0",
      });
    }
  } else {
    const balance = await client.getBalance({ address: sponsor });
    if (balance < missing) shortfall = `The wallet holds ${balance} wei; the deposit needs ${missing} wei and gas.`;
  }
  transactions.push({
    step: "deposit",
    description: `Deposit ${missing} base units of ${symbol} into the escrow`,
    to: escrow,
    data: encodeFunctionData({
      abi: ProjectEscrow.abi,
      functionName: "deposit",
      args: [projectKey, token ?? zeroAddress, missing],
    }),
    value: numberToHex(token ? 0n : missing),
  });
  return {
    projectId: project.id,
    quoteId: quote.id,
    expiresAt: quote.expiresAt.toISOString(),
    chain: walletChain(ctx, rt, opts.origin),
    sponsorWallet: sponsor,
    funded: reg.funded,
    account,
    accountMatches,
    accountProved: proved.length > 0,
    amount: missing.toString(),
    token: { address: token, symbol, decimals: project.tokenDecimals },
    shortfall,
    transactions: accountMatches ? transactions : [],
  };
}

/** The wallet a project's deposits come from, as the funding pages name it. */
export interface DepositWallet {
  address: Address | null;
  /** registered: the escrow id is bound to it; proved: the caller's SIWE wallet the next quote registers; dev: the
   * dev chain's sponsor account (no wallet proved); none: the caller must prove one first. */
  how: "registered" | "proved" | "dev" | "none";
  /** A deposit was made from it: it stays the project's wallet. */
  funded: boolean;
  /** It is the dev chain's sponsor account (the one the demo deposit sends from). */
  devAccount: boolean;
}

/** Which wallet the caller deposits from for a project; never fails a page (an unread chain falls back to the DB). */
export async function depositWallet(
  ctx: Pick<AppContext, "db" | "chain">,
  principal: Principal,
  projectId: string,
): Promise<DepositWallet> {
  const rt = ctx.chain;
  const dev = rt?.mode === "dev" && rt.dev ? privateKeyToAddress(rt.dev.genesis.keys.sponsor) : null;
  const of = (address: Address | null) => ({ address, devAccount: !!dev && address === dev });
  if (rt?.deployment) {
    const reg = await readRegistration(rt, onChainProjectId(projectId)).catch(() => null);
    if (reg && reg.sponsor !== zeroAddress)
      return { ...of(getAddress(reg.sponsor)), how: "registered", funded: reg.funded };
  }
  const [own] = await ctx.db
    .select({ address: wallets.address })
    .from(wallets)
    .where(eq(wallets.userId, principal.userId))
    .orderBy(sql`${wallets.isPayout} desc, ${wallets.createdAt} desc`)
    .limit(1);
  if (own) return { ...of(getAddress(own.address)), how: "proved", funded: false };
  if (dev) return { ...of(dev), how: "dev", funded: false };
  return { ...of(null), how: "none", funded: false };
}
