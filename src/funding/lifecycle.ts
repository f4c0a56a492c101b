// A funded project's life on chain (spec §3.1.5–3.1.6): the expiry date, the sponsor's close request with the
// escrow's withdrawal delay, the close that refunds what is unspent, and what the escrow's events say happened
// (a close done outside the appliance is followed through CloseRequested and ProjectClosed).
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Hex, TransactionReceipt } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import { ProjectEscrow } from "../chain/contracts.gen";
import { decodeEscrowLogs, type EscrowEvent } from "../chain/events";
import { readRegistration } from "../chain/registration";
import { type ChainRuntime, requireChain } from "../chain/service";
import { audit } from "../audit/service";
import type { AppContext, Principal } from "../core/context";
import type { Db } from "../core/db";
import { AppError, conflict, invalidInput } from "../core/errors";
import { emitEvent } from "../events/service";
import { loadProject } from "../projects/access";
import { type Project, projects } from "../projects/schema";
import { onChainProjectId } from "../zk/attestation";
import { type ProjectFunding, projectFunding, yieldHarvests } from "./schema";

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain">;

/** The project's funding row, created on first use (its escrow key is how events name it). */
export async function fundingRow(db: Db, projectId: string): Promise<ProjectFunding> {
  await db
    .insert(projectFunding)
    .values({ projectId, projectKey: onChainProjectId(projectId) })
    .onConflictDoNothing();
  const [row] = await db.select().from(projectFunding).where(eq(projectFunding.projectId, projectId));
  return row!;
}

/** Why new claims are refused on a funded project, or null while they are taken. */
export function claimsStopped(row: Pick<ProjectFunding, "closeRequestedAt" | "closedAt" | "expiresAt"> | undefined) {
  if (!row) return null;
  if (row.closedAt) return "The project is closed: its unspent funds were refunded.";
  if (row.closeRequestedAt) return "The sponsor is closing the project: no new claims are taken.";
  if (row.expiresAt && row.expiresAt <= new Date())
    return "The project's funding has expired: no new claims are taken.";
  return null;
}

/** The project's funding row as it is (none before the first funding action); a read, unlike fundingRow. */
export async function readFunding(db: Db, projectId: string): Promise<ProjectFunding | undefined> {
  const [row] = await db.select().from(projectFunding).where(eq(projectFunding.projectId, projectId));
  return row;
}

/** Refuses a claim on a project that is closing, closed or past its expiry date (called by claimTask). */
export async function assertClaimsOpen(row: ProjectFunding | undefined): Promise<void> {
  const why = claimsStopped(row);
  if (why) throw conflict(why, "PROJECT_CLOSING");
}

/** Sets or clears the expiry date (POST /api/projects/:id/fund/expiry); only on a funded project, in the future. */
export async function setExpiry(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  expiresAt: Date | null,
): Promise<ProjectFunding> {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  if (project.state !== "ACTIVE") throw conflict("Only a funded project has an expiry date.");
  if (expiresAt && Number.isNaN(expiresAt.getTime())) throw invalidInput({ expiresAt: "must be a date" });
  if (expiresAt && expiresAt <= new Date()) throw invalidInput({ expiresAt: "must be in the future" });
  const row = await fundingRow(ctx.db, project.id);
  if (row.closeRequestedAt || row.closedAt) throw conflict("The project is closing or closed.");
  const [updated] = await ctx.db
    .update(projectFunding)
    .set({ expiresAt, updatedAt: new Date() })
    .where(eq(projectFunding.projectId, project.id))
    .returning();
  return updated!;
}

/**
 * A transaction of the sponsor's wallet for this project: the one given by hash (mined, successful, to the
 * escrow), or on the embedded dev chain one the appliance sends from the dev sponsor account.
 */
export async function sponsorTransaction(
  rt: ChainRuntime,
  project: Pick<Project, "id">,
  call: { functionName: "requestClose" | "setMode" | "harvest"; args: readonly unknown[] },
  txHash?: string,
): Promise<TransactionReceipt> {
  const escrow = rt.deployment?.escrow;
  if (!escrow)
    throw new AppError("UNAVAILABLE", "no escrow contract is deployed", 503, { fix: "devsponsor chain deploy" });
  let hash: Hex;
  // on the dev chain the appliance sends for the dev sponsor account only: a project funded from the sponsor's own
  // wallet takes these calls from that wallet alone (the escrow would refuse the dev account)
  const devSends =
    rt.mode === "dev" &&
    !!rt.dev &&
    (await readRegistration(rt, onChainProjectId(project.id))).sponsor.toLowerCase() ===
      privateKeyToAddress(rt.dev.genesis.keys.sponsor).toLowerCase();
  if (txHash) {
    if (!/^0x[0-9a-fA-F]{64}$/.test(txHash)) throw invalidInput({ txHash: "must be a transaction hash" });
    hash = txHash.toLowerCase() as Hex;
  } else if (devSends && rt.dev) {
    hash = await rt.conn.wallet(rt.dev.genesis.keys.sponsor).writeContract({
      address: escrow,
      abi: ProjectEscrow.abi,
      functionName: call.functionName as any,
      args: call.args as any,
    });
  } else {
    throw conflict(
      `Call ${call.functionName}(${onChainProjectId(project.id)}${call.args.length > 1 ? `, ${call.args.slice(1).join(", ")}` : ""}) on the escrow ${escrow} from the sponsor wallet, then enter the transaction hash.`,
      "TX_HASH_REQUIRED",
    );
  }
  const receipt = await rt.conn.publicClient
    .waitForTransactionReceipt({ hash, timeout: 60_000 })
    .catch(() => undefined);
  if (!receipt) throw conflict("The transaction is not mined yet; try again in a moment.", "TX_NOT_MINED");
  if (receipt.status !== "success") throw conflict("The transaction reverted.", "TX_REVERTED");
  if (receipt.to?.toLowerCase() !== escrow.toLowerCase()) throw conflict("The transaction was not sent to the escrow.");
  return receipt;
}

/** The appliance's worker sends an escrow call (closeProject after the delay or the expiry, harvest). */
export async function workerTransaction(
  rt: ChainRuntime,
  call: { functionName: "closeProject" | "harvest"; args: readonly [Hex] },
): Promise<TransactionReceipt> {
  const escrow = rt.deployment?.escrow;
  if (!escrow || !rt.workerKey)
    throw new AppError("UNAVAILABLE", "no escrow contract or worker key is configured", 503, {
      fix: "Settings → Chain",
    });
  const hash = await rt.conn.wallet(rt.workerKey).writeContract({
    address: escrow,
    abi: ProjectEscrow.abi,
    functionName: call.functionName,
    args: call.args,
  });
  const receipt = await rt.conn.publicClient.waitForTransactionReceipt({ hash, timeout: 120_000 });
  if (receipt.status !== "success") throw conflict("The transaction reverted.", "TX_REVERTED");
  return receipt;
}

/** Applies the escrow events of a receipt the appliance sent or was given (the sync applies them again: no-op). */
export async function applyReceipt(ctx: Pick<AppContext, "db">, rt: ChainRuntime, receipt: TransactionReceipt) {
  const events = decodeEscrowLogs(rt.conn.chain.id, receipt.logs).filter(
    (e) => e.contract.toLowerCase() === rt.deployment?.escrow.toLowerCase(),
  );
  return applyFundingEvents(ctx, events);
}

/**
 * Brings the database in line with escrow events, idempotently: CloseRequested (claims stop, the end of the
 * delay is kept), ProjectClosed (the refund and its transaction), ModeChanged (the project's funding mode) and
 * YieldHarvested (the split, recorded once per transaction, with a `yield.harvested` event). Called by the chain
 * sync for every new event and by the actions below for their own receipts.
 */
export async function applyFundingEvents(ctx: Pick<AppContext, "db">, events: readonly EscrowEvent[]) {
  const ours = events.filter((e) =>
    ["CloseRequested", "ProjectClosed", "ModeChanged", "YieldHarvested"].includes(e.name),
  );
  if (ours.length === 0) return { applied: 0 };
  const keys = [...new Set(ours.map((e) => String(e.args.projectId).toLowerCase()))];
  const byKey = await projectsByKey(ctx.db, keys);
  let applied = 0;
  for (const ev of ours) {
    const project = byKey.get(String(ev.args.projectId).toLowerCase());
    if (!project) continue; // another appliance's project on a shared escrow
    const block = Number(ev.blockNumber);
    await ctx.db.transaction(async (tx) => {
      const db = tx as Db;
      const before = await fundingRow(db, project.id);
      // each event is applied twice (the action's receipt, then the sync): it is audited the first time only
      const record = (action: string, payload: Record<string, unknown>) =>
        audit(db, {
          actorId: null,
          action,
          targetType: "project",
          targetId: project.id,
          orgId: project.orgId,
          payload: { ...payload, txHash: ev.txHash, blockNumber: block },
        });
      if (ev.name === "CloseRequested") {
        if (before.closeRequestTx !== ev.txHash)
          await record("funding.close_request", { closableAt: new Date(Number(ev.args.closableAt) * 1000) });
        await db
          .update(projectFunding)
          .set({
            closeRequestedAt: sql`coalesce(${projectFunding.closeRequestedAt}, now())`,
            closableAt: new Date(Number(ev.args.closableAt) * 1000),
            closeRequestTx: ev.txHash,
            updatedAt: new Date(),
          })
          .where(eq(projectFunding.projectId, project.id));
      } else if (ev.name === "ProjectClosed") {
        if (before.refundTx !== ev.txHash) await record("funding.close", { refund: String(ev.args.refund) });
        await db
          .update(projectFunding)
          .set({
            closeRequestedAt: sql`coalesce(${projectFunding.closeRequestedAt}, now())`,
            closedAt: sql`coalesce(${projectFunding.closedAt}, now())`,
            refundAmount: String(ev.args.refund),
            refundTx: ev.txHash,
            updatedAt: new Date(),
          })
          .where(eq(projectFunding.projectId, project.id));
        // a closed escrow pays nothing more: the project is done
        await db
          .update(projects)
          .set({ state: "COMPLETED", fundingMode: "ESCROW", updatedAt: new Date() })
          .where(and(eq(projects.id, project.id), eq(projects.state, "ACTIVE")));
      } else if (ev.name === "ModeChanged") {
        const mode = Number(ev.args.mode) === 1 ? "YIELD" : "ESCROW";
        const [was] = await db.select({ mode: projects.fundingMode }).from(projects).where(eq(projects.id, project.id));
        if (was?.mode !== mode) await record("funding.mode", { from: was?.mode ?? null, to: mode });
        await db
          .update(projects)
          .set({ fundingMode: Number(ev.args.mode) === 1 ? "YIELD" : "ESCROW", updatedAt: new Date() })
          .where(eq(projects.id, project.id));
      } else if (ev.name === "YieldHarvested") {
        const yieldAmount = BigInt(String(ev.args.yieldAmount));
        const fee = BigInt(String(ev.args.fee));
        const sponsorShare = BigInt(String(ev.args.sponsorShare));
        const inserted = await db
          .insert(yieldHarvests)
          .values({
            projectId: project.id,
            txHash: ev.txHash,
            blockNumber: String(block),
            yieldAmount: yieldAmount.toString(),
            fee: fee.toString(),
            sponsorShare: sponsorShare.toString(),
          })
          .onConflictDoNothing()
          .returning({ id: yieldHarvests.id });
        if (inserted.length > 0) {
          await record("funding.harvest", {
            harvestId: inserted[0]!.id,
            yieldAmount: yieldAmount.toString(),
            fee: fee.toString(),
            sponsorShare: sponsorShare.toString(),
          });
          await emitEvent(db, "yield.harvested", {
            orgId: project.orgId,
            projectId: project.id,
            harvestId: inserted[0]!.id,
            yieldAmount: yieldAmount.toString(),
            fee: fee.toString(),
            sponsorShare: sponsorShare.toString(),
            txHash: ev.txHash,
          });
        }
      }
    });
    applied++;
  }
  return { applied };
}

/** Projects named by escrow keys: through their funding rows, else by hashing the funded projects' ids. */
async function projectsByKey(db: Db, keys: string[]): Promise<Map<string, { id: string; orgId: string }>> {
  const out = new Map<string, { id: string; orgId: string }>();
  const rows = await db
    .select({ key: projectFunding.projectKey, id: projects.id, orgId: projects.orgId })
    .from(projectFunding)
    .innerJoin(projects, eq(projects.id, projectFunding.projectId))
    .where(inArray(projectFunding.projectKey, keys));
  for (const r of rows) out.set(r.key.toLowerCase(), { id: r.id, orgId: r.orgId });
  if (out.size < keys.length) {
    // a project funded before its funding row existed: its key is a hash of its id
    const funded = await db
      .select({ id: projects.id, orgId: projects.orgId })
      .from(projects)
      .where(inArray(projects.state, ["ACTIVE", "COMPLETED"]));
    for (const p of funded) {
      const key = onChainProjectId(p.id).toLowerCase();
      if (keys.includes(key) && !out.has(key)) out.set(key, p);
    }
  }
  return out;
}

/**
 * The sponsor asks to close (POST /api/projects/:id/fund/close-request): new claims stop at once, open claims may
 * still be paid until the escrow's withdrawal delay ends. On the dev chain the appliance sends requestClose from
 * the dev sponsor account; elsewhere the sponsor sends it and gives its hash.
 */
export async function requestClose(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  txHash?: string,
): Promise<ProjectFunding> {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  if (project.state !== "ACTIVE") throw conflict("Only a funded, active project can be closed.");
  const row = await fundingRow(ctx.db, project.id);
  if (row.closeRequestedAt && !txHash) throw conflict("The close was already requested.");
  const rt = await requireChain(ctx);
  const receipt = await sponsorTransaction(
    rt,
    project,
    { functionName: "requestClose", args: [onChainProjectId(project.id)] },
    txHash,
  );
  await applyReceipt(ctx, rt, receipt);
  const after = await fundingRow(ctx.db, project.id);
  if (!after.closeRequestedAt) throw conflict("The transaction holds no close request for this project.");
  return after;
}

/**
 * Closes the project and refunds what is unspent to the sponsor (POST /api/projects/:id/fund/close): once the
 * withdrawal delay after the close request has passed on chain, or at any time after the project's expiry date.
 * The appliance's worker sends closeProject (the escrow lets the worker close; the refund always goes to the
 * project's sponsor).
 */
export async function closeAndRefund(ctx: Ctx, principal: Principal | null, projectId: string) {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  const row = await fundingRow(ctx.db, project.id);
  if (row.closedAt) throw conflict("The project is already closed.");
  if (project.state !== "ACTIVE") throw conflict("Only a funded project can be closed.");
  const rt = await requireChain(ctx);
  const expired = row.expiresAt !== null && row.expiresAt <= new Date();
  if (!expired) {
    if (!row.closeRequestedAt || !row.closableAt) throw conflict("Request the close first.");
    const head = await rt.conn.publicClient.getBlock({ blockTag: "latest" });
    if (Number(head.timestamp) * 1000 < row.closableAt.getTime()) {
      throw conflict(`The withdrawal delay ends at ${row.closableAt.toISOString()}.`, "WITHDRAWAL_DELAY_PENDING", {
        closableAt: row.closableAt.toISOString(),
      });
    }
  }
  const receipt = await workerTransaction(rt, { functionName: "closeProject", args: [onChainProjectId(project.id)] });
  await applyReceipt(ctx, rt, receipt);
  return fundingRow(ctx.db, project.id);
}
