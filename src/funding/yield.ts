// Yield mode (spec §3.9): an ERC-20 project whose token has an ERC-4626 vault on the escrow may keep its idle
// funds in the vault; the harvest cron (`funding.harvest`) takes the yield above the principal out, the yield
// fee to the treasury and the rest to the sponsor, as the escrow's YieldHarvested event records it.
import { and, desc, eq, isNotNull, sql } from "drizzle-orm";
import { type Address, zeroAddress } from "viem";
import { ProjectEscrow } from "../chain/contracts.gen";
import { type ChainRuntime, requireChain } from "../chain/service";
import type { AppContext, Principal } from "../core/context";
import { conflict } from "../core/errors";
import { loadProject } from "../projects/access";
import { type Project, projects } from "../projects/schema";
import { onChainProjectId } from "../zk/attestation";
import { applyReceipt, fundingRow, sponsorTransaction, workerTransaction } from "./lifecycle";
import { projectFunding, type YieldHarvest, yieldHarvests } from "./schema";

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain">;

/** The vault configured on the escrow for a project's token, or null (native coin, or no vault set). */
export async function vaultFor(rt: ChainRuntime, token: string | null): Promise<Address | null> {
  if (!token || !rt.deployment) return null;
  const vault = await rt.conn.publicClient.readContract({
    address: rt.deployment.escrow,
    abi: ProjectEscrow.abi,
    functionName: "vaults",
    args: [token as Address],
  });
  return vault === zeroAddress ? null : vault;
}

/** What the funding tab shows about yield. */
export interface YieldView {
  /** Yield mode can be chosen: an ERC-20 project whose token has a vault. */
  available: boolean;
  vault: Address | null;
  mode: Project["fundingMode"];
  /** Yield the project could harvest now, in base units. */
  pending: bigint;
  /** Harvests so far, newest first, and their totals. */
  harvests: YieldHarvest[];
  totals: { yieldAmount: bigint; fee: bigint; sponsorShare: bigint };
}

/** Loads the yield view; a chain that cannot be read gives `available: false` instead of failing the page. */
export async function yieldView(ctx: Ctx, project: Project): Promise<YieldView> {
  const harvests = await ctx.db
    .select()
    .from(yieldHarvests)
    .where(eq(yieldHarvests.projectId, project.id))
    .orderBy(desc(yieldHarvests.createdAt))
    .limit(200);
  const totals = harvests.reduce(
    (a, h) => ({
      yieldAmount: a.yieldAmount + BigInt(h.yieldAmount),
      fee: a.fee + BigInt(h.fee),
      sponsorShare: a.sponsorShare + BigInt(h.sponsorShare),
    }),
    { yieldAmount: 0n, fee: 0n, sponsorShare: 0n },
  );
  let vault: Address | null = null;
  let pending = 0n;
  try {
    const rt = await requireChain(ctx);
    vault = await vaultFor(rt, project.tokenAddress);
    if (project.fundingMode === "YIELD" && rt.deployment) {
      pending = await rt.conn.publicClient.readContract({
        address: rt.deployment.escrow,
        abi: ProjectEscrow.abi,
        functionName: "pendingYield",
        args: [onChainProjectId(project.id)],
      });
    }
  } catch {
    // no chain: the page still shows the recorded harvests
  }
  return { available: vault !== null, vault, mode: project.fundingMode, pending, harvests, totals };
}

/**
 * Switches a funded ERC-20 project between escrow and yield mode through the escrow's setMode (POST
 * /api/projects/:id/fund/mode). Leaving yield mode harvests first (the escrow does). The sponsor's wallet sends
 * it (on the dev chain, the dev sponsor account).
 */
export async function setYieldMode(
  ctx: Ctx,
  principal: Principal | null,
  projectId: string,
  mode: "ESCROW" | "YIELD",
  txHash?: string,
) {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  if (project.state !== "ACTIVE") throw conflict("Only a funded, active project can change its mode.");
  const row = await fundingRow(ctx.db, project.id);
  if (row.closeRequestedAt) throw conflict("The project is closing.");
  const rt = await requireChain(ctx);
  if (!project.tokenAddress) throw conflict("Yield mode is for ERC-20 tokens only.", "NO_VAULT");
  if (!(await vaultFor(rt, project.tokenAddress)))
    throw conflict("No vault is configured on the escrow for this token.", "NO_VAULT");
  if (!txHash && project.fundingMode === mode) return { mode };
  const receipt = await sponsorTransaction(
    rt,
    project,
    { functionName: "setMode", args: [onChainProjectId(project.id), mode === "YIELD" ? 1 : 0] },
    txHash,
  );
  await applyReceipt(ctx, rt, receipt);
  const [after] = await ctx.db.select({ mode: projects.fundingMode }).from(projects).where(eq(projects.id, project.id));
  return { mode: after!.mode };
}

/** One project's harvest by the appliance's worker; nothing is sent when there is no yield to take. */
export async function harvestProject(ctx: Ctx, projectId: string): Promise<YieldHarvest | null> {
  const rt = await requireChain(ctx);
  const key = onChainProjectId(projectId);
  const pending = await rt.conn.publicClient.readContract({
    address: rt.deployment!.escrow,
    abi: ProjectEscrow.abi,
    functionName: "pendingYield",
    args: [key],
  });
  if (pending === 0n) return null;
  const receipt = await workerTransaction(rt, { functionName: "harvest", args: [key] });
  await applyReceipt(ctx, rt, receipt);
  const [row] = await ctx.db
    .select()
    .from(yieldHarvests)
    .where(and(eq(yieldHarvests.projectId, projectId), eq(yieldHarvests.txHash, receipt.transactionHash)));
  return row ?? null;
}

/** The sponsor harvests now from the funding tab (the cron does the same on its schedule). */
export async function harvestNow(ctx: Ctx, principal: Principal | null, projectId: string) {
  const project = await loadProject(ctx.db, principal, projectId, "project.fund");
  if (project.fundingMode !== "YIELD") throw conflict("The project is not in yield mode.", "NO_VAULT");
  return harvestProject(ctx, project.id);
}

/** The cron job `funding.harvest`: harvests every active project in yield mode, one at a time. */
export async function harvestAll(ctx: Ctx & Pick<AppContext, "log">) {
  const rows = await ctx.db
    .select({ id: projects.id })
    .from(projects)
    .leftJoin(projectFunding, eq(projectFunding.projectId, projects.id))
    .where(
      and(
        eq(projects.state, "ACTIVE"),
        eq(projects.fundingMode, "YIELD"),
        sql`${projectFunding.closedAt} is null`,
        isNotNull(projects.tokenAddress),
      ),
    );
  let harvested = 0;
  let yieldAmount = 0n;
  let failed = 0;
  for (const r of rows) {
    try {
      const h = await harvestProject(ctx, r.id);
      if (h) {
        harvested++;
        yieldAmount += BigInt(h.yieldAmount);
      }
    } catch (err) {
      // one project's failure does not stop the others; the next run tries again
      failed++;
      ctx.log.warn("yield harvest failed", { projectId: r.id, error: (err as Error).message });
    }
  }
  if (failed > 0 && harvested === 0 && rows.length === failed) throw new Error(`every harvest failed (${failed})`);
  return { projects: rows.length, harvested, failed, yieldAmount: yieldAmount.toString() };
}
