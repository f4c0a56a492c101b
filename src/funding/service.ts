// Funding (spec §3.1.5, §6.1.2–6.1.3): quote the deposit from the approved points and the oracle price, then
// confirm the sponsor's deposit transaction on chain and activate the project.
import { and, desc, eq, sql } from "drizzle-orm";
import { type Address, type Hex, parseEventLogs, zeroAddress } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { DevToken, ProjectEscrow } from "../chain/contracts.gen";
import { NATIVE_TOKEN } from "../chain/deploy";
import { registerQuoteSponsor, registerSponsor } from "../chain/registration";
import { type ChainRuntime, requireChain } from "../chain/service";
import { audit } from "../audit/service";
import type { AppContext, Principal } from "../core/context";
import type { Db } from "../core/db";
import { AppError, conflict, invalidInput } from "../core/errors";
import { emitEvent } from "../events/service";
import { milestones, tasks } from "../milestones/schema";
import { requireOrgRole } from "../orgs/permissions";
import { loadProject } from "../projects/access";
import { projects } from "../projects/schema";
import { onChainProjectId } from "../zk/attestation";
import { readPrice } from "./oracle";
import { claimsStopped, fundingRow } from "./lifecycle";
import { checkPrice, computeQuote, splitByWeight } from "./quote";
import { type FundingQuote, fundingQuotes, fundingRecords, projectFunding } from "./schema";
import { type DepositWallet, depositWallet } from "./wallet";

/** What the sponsor sees: the quote and how to deposit it. */
export interface QuoteView {
  quoteId: string;
  projectId: string;
  totalPoints: number;
  pointRateUsdCents: number;
  usdCents: string;
  token: { address: Address | null; decimals: number };
  price: { feed: Address; answer: string; decimals: number; updatedAt: string };
  /** What to deposit now: the whole amount, or for a top-up only the difference. */
  amount: string;
  /** Deposited before this quote (0 unless it is a top-up): the deposits must reach baseDeposited + amount. */
  baseDeposited: string;
  expiresAt: string;
  /** The wallet the escrow takes this project's deposits from (registered on chain when quoting). */
  sponsorWallet?: Address;
  deposit: {
    chainId: number;
    escrow: Address;
    projectKey: Hex;
    /** ERC-20 only: approve the escrow for `amount` first. */
    approve?: { token: Address; spender: Address; amount: string };
    call: string;
    value: string;
  };
}

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain">;

/** The project's newest quote, if any. */
async function latestQuote(db: Ctx["db"], projectId: string): Promise<FundingQuote | undefined> {
  const [quote] = await db
    .select()
    .from(fundingQuotes)
    .where(eq(fundingQuotes.projectId, projectId))
    .orderBy(desc(fundingQuotes.createdAt))
    .limit(1);
  return quote;
}

/** Deposits recorded for a project: their sum in base units and their number. */
async function depositsOf(db: Ctx["db"], projectId: string): Promise<{ total: bigint; count: number }> {
  const [row] = await db
    .select({ total: sql<string>`coalesce(sum(${fundingRecords.amount}), 0)::text`, n: sql<number>`count(*)::int` })
    .from(fundingRecords)
    .where(eq(fundingRecords.projectId, projectId));
  return { total: BigInt(row?.total ?? "0"), count: row?.n ?? 0 };
}

/** The price feed for a token: the dev chain's feed for it, else the configured feed. */
export function priceFeedFor(rt: ChainRuntime, settings: Ctx["settings"], token: string | null): Address {
  const key = (token ?? NATIVE_TOKEN).toLowerCase();
  const dev = rt.deployment?.dev?.priceFeeds[key];
  if (dev) return dev;
  const configured = settings.get("chain.priceFeedAddress");
  if (!configured)
    throw new AppError("UNAVAILABLE", "no price feed is configured for this token", 503, {
      fix: "Settings → Chain → Price feed",
    });
  return configured as Address;
}

/** Tasks already paid or being paid keep their payout: a top-up re-splits only the others. */
const SETTLED = new Set(["PAYING", "PAID"]);

/**
 * Computes and stores a quote for a project whose structure is approved (POST /api/projects/:id/fund/quote).
 * A DRAFT project is quoted Σ points × rate ÷ price. An ACTIVE project is quoted a top-up: the same total for
 * every task at today's price, minus what is deposited, with the unpaid tasks' payouts re-split so that all
 * payouts add up to the deposits after the top-up.
 */
export async function createQuote(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  opts: { wallet?: string } = {},
): Promise<QuoteView> {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  if (!project.structureApprovedAt) throw conflict("Approve the milestone structure before funding.", "CONFLICT");
  if (project.state !== "DRAFT" && project.state !== "ACTIVE") throw conflict("The project is closed.", "CONFLICT");
  const topUp = project.state === "ACTIVE";
  if (topUp) {
    const why = claimsStopped(
      (await ctx.db.select().from(projectFunding).where(eq(projectFunding.projectId, project.id)))[0],
    );
    if (why) throw conflict(`No top-ups: ${why}`, "PROJECT_CLOSING");
  }
  const subs = await ctx.db
    .select({ id: tasks.id, points: tasks.points, status: tasks.status, payoutAmount: tasks.payoutAmount })
    .from(tasks)
    .innerJoin(milestones, eq(tasks.milestoneId, milestones.id))
    .where(eq(milestones.projectId, project.id))
    .orderBy(milestones.position, tasks.id);
  const rt = await requireChain(ctx);
  const escrow = rt.deployment?.escrow;
  if (!escrow)
    throw new AppError("UNAVAILABLE", "no escrow contract is deployed", 503, { fix: "devsponsor chain deploy" });
  // the escrow takes deposits only from the wallet registered here, so nobody else can fund the id first
  const { sponsor, txHash: registrationTx } = await registerQuoteSponsor(
    ctx.db,
    rt,
    principal?.userId,
    onChainProjectId(project.id),
    project.tokenAddress,
    opts.wallet,
  );
  const feed = priceFeedFor(rt, ctx.settings, project.tokenAddress);
  const price = await readPrice(rt.conn, feed);
  const now = Math.floor(Date.now() / 1000);
  // dev feeds are set by hand and never go stale; real feeds must have answered within a day
  checkPrice(price, now, rt.mode === "dev" ? Number.MAX_SAFE_INTEGER : 24 * 3600);
  const pointRateUsdCents = ctx.settings.get("funding.pointRateUsdCents");
  const q = computeQuote({
    points: subs.map((s) => s.points),
    pointRateUsdCents,
    tokenDecimals: project.tokenDecimals,
    price,
  });
  let payouts: Record<string, string> = Object.fromEntries(subs.map((s, i) => [s.id, q.payouts[i]!.toString()]));
  let amount = q.amount;
  let baseDeposited = 0n;
  if (topUp) {
    baseDeposited = (await depositsOf(ctx.db, project.id)).total;
    amount = q.amount - baseDeposited;
    if (amount <= 0n) {
      throw conflict("The deposits already cover every task's points at today's price: there is nothing to top up.");
    }
    const settled = subs.filter((s) => SETTLED.has(s.status) && s.payoutAmount !== null);
    const open = subs.filter((s) => !settled.includes(s));
    const settledSum = settled.reduce((a, s) => a + BigInt(s.payoutAmount!), 0n);
    const shares = splitByWeight(
      q.amount - settledSum,
      open.map((s) => s.points),
    );
    payouts = Object.fromEntries(open.map((s, i) => [s.id, shares[i]!.toString()]));
  }
  const ttl = ctx.settings.get("funding.quoteTtlSeconds");
  const [row] = await ctx.db.transaction(async (tx) => {
    const [quote] = await tx
      .insert(fundingQuotes)
      .values({
        projectId: project.id,
        chainId: rt.conn.chain.id,
        escrowAddress: escrow,
        tokenAddress: project.tokenAddress,
        tokenDecimals: project.tokenDecimals,
        totalPoints: q.totalPoints,
        pointRateUsdCents,
        usdCents: q.usdCents.toString(),
        priceFeed: feed,
        priceAnswer: price.answer.toString(),
        priceDecimals: price.decimals,
        priceUpdatedAt: new Date(price.updatedAt * 1000),
        amount: amount.toString(),
        baseDeposited: baseDeposited.toString(),
        payouts,
        createdById: principal?.userId,
        expiresAt: new Date((now + ttl) * 1000),
      })
      .returning();
    await audit(tx as Db, {
      actorId: principal?.userId ?? null,
      action: "funding.quote",
      targetType: "project",
      targetId: project.id,
      orgId: project.orgId,
      payload: {
        quoteId: quote!.id,
        amount: quote!.amount,
        token: quote!.tokenAddress ?? "native",
        usdCents: quote!.usdCents,
        priceAnswer: quote!.priceAnswer,
        priceDecimals: quote!.priceDecimals,
        expiresAt: quote!.expiresAt.toISOString(),
        // the escrow's registerProject, when quoting sent one (the wallet itself stays out of the trail)
        sponsorRegistrationTx: registrationTx ?? null,
      },
    });
    return [quote];
  });
  return { ...quoteView(row!), sponsorWallet: sponsor };
}

/** Shapes a stored quote for the API. */
export function quoteView(q: FundingQuote): QuoteView {
  const token = q.tokenAddress as Address | null;
  const projectKey = onChainProjectId(q.projectId);
  const escrow = q.escrowAddress as Address;
  return {
    quoteId: q.id,
    projectId: q.projectId,
    totalPoints: q.totalPoints,
    pointRateUsdCents: q.pointRateUsdCents,
    usdCents: q.usdCents,
    token: { address: token, decimals: q.tokenDecimals },
    price: {
      feed: q.priceFeed as Address,
      answer: q.priceAnswer,
      decimals: q.priceDecimals,
      updatedAt: q.priceUpdatedAt.toISOString(),
    },
    amount: q.amount,
    baseDeposited: q.baseDeposited,
    expiresAt: q.expiresAt.toISOString(),
    deposit: {
      chainId: q.chainId,
      escrow,
      projectKey,
      approve: token ? { token, spender: escrow, amount: q.amount } : undefined,
      call: `deposit(${projectKey}, ${token ?? zeroAddress}, ${q.amount})`,
      value: token ? "0" : q.amount,
    },
  };
}

/** Result of a confirmed deposit. */
export interface FundingResult {
  fundingRecordId: string;
  amount: string;
  totalDeposited: string;
  required: string;
  state: "ACTIVE";
}

/**
 * Confirms a deposit by transaction hash (POST /api/projects/:id/fund): the transaction must be mined with the
 * configured confirmations and carry the escrow's Deposited event for this project in the project's token. The
 * deposit is recorded once; the project becomes ACTIVE when the deposits cover the latest quote, otherwise
 * DEPOSIT_NOT_CONFIRMED tells how much is missing.
 */
export async function confirmDeposit(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  depositTxHash: string,
): Promise<FundingResult> {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  if (!/^0x[0-9a-fA-F]{64}$/.test(depositTxHash)) throw invalidInput({ depositTxHash: "must be a transaction hash" });
  const rt = await requireChain(ctx);
  const quote = await latestQuote(ctx.db, project.id);
  if (!quote) throw conflict("Request a funding quote first.", "CONFLICT");

  const hash = depositTxHash.toLowerCase() as Hex;
  const receipt = await rt.conn.publicClient.getTransactionReceipt({ hash }).catch(() => undefined);
  if (!receipt)
    throw notConfirmed("The deposit transaction is not mined yet.", { confirmations: 0, required: rt.confirmations });
  if (receipt.status !== "success") throw notConfirmed("The deposit transaction reverted.");
  const head = await rt.conn.publicClient.getBlockNumber({ cacheTime: 0 });
  const confirmations = Number(head - receipt.blockNumber) + 1;
  if (confirmations < rt.confirmations) {
    throw notConfirmed("Waiting for confirmations.", { confirmations, required: rt.confirmations });
  }
  const projectKey = onChainProjectId(project.id);
  const events = parseEventLogs({ abi: ProjectEscrow.abi, logs: receipt.logs, eventName: "Deposited" }).filter(
    (e) => e.address.toLowerCase() === quote.escrowAddress.toLowerCase() && e.args.projectId === projectKey,
  );
  const token = (project.tokenAddress ?? zeroAddress).toLowerCase();
  const deposit = events.filter((e) => e.args.token.toLowerCase() === token).reduce((a, e) => a + e.args.amount, 0n);
  if (deposit === 0n) throw notConfirmed("The transaction holds no deposit to this project's escrow in its token.");

  const block = await rt.conn.publicClient.getBlock({ blockNumber: receipt.blockNumber });
  if (Number(block.timestamp) * 1000 > quote.expiresAt.getTime()) {
    throw notConfirmed("The quote had expired when the deposit was made; request a new quote.", {
      expiresAt: quote.expiresAt.toISOString(),
    });
  }

  // A deposit is recorded once, even one that does not cover the quote yet (the money is in escrow).
  await ctx.db.transaction(async (tx) => {
    const [recorded] = await tx
      .insert(fundingRecords)
      .values({
        projectId: project.id,
        quoteId: quote.id,
        amount: deposit.toString(),
        token: project.tokenAddress ?? "native",
        mode: project.fundingMode,
        depositTxHash: hash,
        blockNumber: receipt.blockNumber.toString(),
        depositor: receipt.from.toLowerCase(),
        oracleRate: quote.priceAnswer,
        oracleDecimals: quote.priceDecimals,
      })
      .onConflictDoNothing()
      .returning();
    if (!recorded) return;
    // the depositor's address stays in the record: the trail names the deposit, not the wallet
    await audit(tx as Db, {
      actorId: principal?.userId ?? null,
      action: "funding.deposit",
      targetType: "funding_record",
      targetId: recorded.id,
      orgId: project.orgId,
      payload: {
        projectId: project.id,
        quoteId: quote.id,
        txHash: hash,
        amount: recorded.amount,
        token: recorded.token,
        blockNumber: recorded.blockNumber,
      },
    });
  });
  const [record] = await ctx.db.select().from(fundingRecords).where(eq(fundingRecords.depositTxHash, hash));
  if (!record || record.projectId !== project.id) throw conflict("This transaction was recorded for another project.");
  const { total } = await depositsOf(ctx.db, project.id);
  const required = BigInt(quote.baseDeposited) + BigInt(quote.amount);
  if (total < required) {
    throw notConfirmed("The deposits do not cover the quote yet.", {
      deposited: total.toString(),
      required: required.toString(),
    });
  }

  await ctx.db.transaction(async (tx) => {
    await fundingRow(tx as Db, project.id);
    const rows = await tx
      .update(projects)
      .set({ state: "ACTIVE", totalTokenAmount: required.toString(), updatedAt: new Date() })
      .where(and(eq(projects.id, project.id), eq(projects.state, "DRAFT")))
      .returning({ id: projects.id });
    if (rows.length === 0) {
      // a top-up of an active project: the funded total grows to what the quote covers
      await tx
        .update(projects)
        .set({ totalTokenAmount: required.toString(), updatedAt: new Date() })
        .where(and(eq(projects.id, project.id), eq(projects.state, "ACTIVE")));
    }
    for (const [id, amount] of Object.entries(quote.payouts)) {
      await tx.update(tasks).set({ payoutAmount: amount }).where(eq(tasks.id, id));
    }
    // emitted once: only by the call that moved the project from DRAFT to ACTIVE, with that change
    if (rows.length > 0) {
      await audit(tx as Db, {
        actorId: principal?.userId ?? null,
        action: "funding.activate",
        targetType: "project",
        targetId: project.id,
        orgId: project.orgId,
        payload: { quoteId: quote.id, fundingRecordId: record.id, deposited: total.toString(), txHash: hash },
      });
      await emitEvent(tx as Db, "project.funded", {
        orgId: project.orgId,
        projectId: project.id,
        fundingRecordId: record.id,
        amount: total.toString(),
        txHash: hash,
      });
    }
  });
  return {
    fundingRecordId: record.id,
    amount: record.amount,
    totalDeposited: total.toString(),
    required: required.toString(),
    state: "ACTIVE",
  };
}

function notConfirmed(message: string, details: Record<string, unknown> = {}) {
  return new AppError("DEPOSIT_NOT_CONFIRMED", message, 409, details);
}

/** What the project overview shows about funding. */
export interface FundingPanelData {
  /** The caller may quote and confirm deposits (project.fund). */
  canFund: boolean;
  /** The latest quote that has not expired, for a project still waiting for its deposit. */
  quote: QuoteView | null;
  /** Deposits recorded so far, in base units. */
  deposited: bigint;
  deposits: number;
  /** The embedded dev chain is in use, in its native coin or dev token: the appliance can deposit for a demo. */
  devDeposit: boolean;
  /** The wallet the deposit comes from (only for who may fund). */
  wallet: DepositWallet | null;
}

/** Loads the overview's funding panel; never fails the page (no chain yet simply means no quote yet). */
export async function fundingPanel(
  ctx: Ctx,
  principal: Principal,
  project: { id: string; orgId: string; state: string; tokenAddress: string | null },
): Promise<FundingPanelData> {
  // the page already loaded the project: only the role check of loadProject(…, "project.fund") is left to do
  const [canFund, state] = await Promise.all([
    requireOrgRole(ctx.db, principal, project.orgId, "project.fund").then(
      () => true,
      () => false,
    ),
    ctx.db
      .select({
        total: sql<string>`coalesce(sum(${fundingRecords.amount}), 0)::text`,
        n: sql<number>`count(*)::int`,
        // only a DRAFT project's quote is shown: its row is read below, and only when there is one
        hasQuote: sql<boolean>`exists (select 1 from ${fundingQuotes} where ${fundingQuotes.projectId} = ${project.id})`,
      })
      .from(fundingRecords)
      .where(eq(fundingRecords.projectId, project.id))
      .then(([row]) => row),
  ]);
  const latest = project.state === "DRAFT" && state?.hasQuote ? await latestQuote(ctx.db, project.id) : undefined;
  const wallet = canFund && project.state === "DRAFT" ? await depositWallet(ctx, principal, project.id) : null;
  return {
    wallet,
    canFund,
    quote: latest && latest.expiresAt > new Date() ? quoteView(latest) : null,
    deposited: BigInt(state?.total ?? "0"),
    deposits: state?.n ?? 0,
    devDeposit:
      ctx.settings.get("chain.mode") === "dev" &&
      (!project.tokenAddress || project.tokenAddress.toLowerCase() === ctx.chain?.deployment?.dev?.token.toLowerCase()),
  };
}

/**
 * Deposits what the latest quote still misses (the first funding or a top-up) from the dev chain's funded sponsor
 * account and confirms it, so a demo or a trial install can be funded without a wallet. Only on the embedded dev
 * chain, in its native coin or its dev token (minted to the sponsor account first: play money).
 */
export async function devChainDeposit(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
): Promise<FundingResult> {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  const rt = await requireChain(ctx);
  if (rt.mode !== "dev" || !rt.dev || !rt.deployment)
    throw conflict("Deposits from the appliance are only for the embedded dev chain.", "CONFLICT");
  const devToken = rt.deployment.dev?.token;
  if (project.tokenAddress && project.tokenAddress.toLowerCase() !== devToken?.toLowerCase())
    throw conflict("Dev-chain deposits are in the native coin or the dev token only.", "CONFLICT");
  const latest = await latestQuote(ctx.db, project.id);
  if (!latest || latest.expiresAt <= new Date()) throw conflict("Get a funding quote first.", "CONFLICT");
  const missing = BigInt(latest.baseDeposited) + BigInt(latest.amount) - (await depositsOf(ctx.db, project.id)).total;
  if (missing <= 0n) throw conflict("The deposits already cover the quote.", "CONFLICT");
  // the demo deposit comes from the dev sponsor account: register it (allowed until the first deposit)
  const devSponsor = privateKeyToAddress(rt.dev.genesis.keys.sponsor);
  const reg = await registerSponsor(
    rt,
    onChainProjectId(project.id),
    devSponsor,
    project.tokenAddress as Address | null,
  );
  // after a first deposit from the sponsor's own wallet the escrow id stays bound to it: the escrow would refuse
  if (reg.sponsor.toLowerCase() !== devSponsor.toLowerCase())
    throw conflict(
      `This project's first deposit came from ${reg.sponsor}: the escrow takes its top-ups only from that wallet, not from the dev chain's sponsor account. Deposit from that wallet instead.`,
      "WRONG_WALLET",
      { sponsorWallet: reg.sponsor },
    );
  const hash = await sendDevDeposit(rt, project, missing);
  return confirmDeposit(ctx, principal, project.id, hash);
}

/** Sends a deposit from the dev sponsor account (approving the escrow first for the dev token). */
async function sendDevDeposit(rt: ChainRuntime, project: { id: string; tokenAddress: string | null }, amount: bigint) {
  const wallet = rt.conn.wallet(rt.dev!.genesis.keys.sponsor);
  const escrow = rt.deployment!.escrow;
  const token = project.tokenAddress as Address | null;
  if (token) {
    for (const call of [
      { functionName: "mint", args: [wallet.account.address, amount] },
      { functionName: "approve", args: [escrow, amount] },
    ] as const) {
      const h = await wallet.writeContract({
        address: token,
        abi: DevToken.abi,
        functionName: call.functionName,
        args: call.args as any,
      });
      await rt.conn.publicClient.waitForTransactionReceipt({ hash: h });
    }
  }
  const hash = await wallet.writeContract({
    address: escrow,
    abi: ProjectEscrow.abi,
    functionName: "deposit",
    args: [onChainProjectId(project.id), token ?? zeroAddress, amount],
    value: token ? 0n : amount,
  });
  await rt.conn.publicClient.waitForTransactionReceipt({ hash });
  return hash;
}
