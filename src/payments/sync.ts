// The chain follower of the payments domain: reads confirmed escrow events and reconciles them with the
// database, so a release whose result was never recorded (crash, lost connection) is found and recorded later.
import { requireChain } from "../chain/service";
import { syncEscrowEvents, type SyncResult } from "../chain/events";
import { dbSyncStore } from "../chain/store";
import type { AppContext } from "../core/context";
import { applyFundingEvents } from "../funding/lifecycle";
import { recordReleaseEvent } from "./service";

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain" | "events" | "log">;

/** One sync pass (cron `chain.sync`): new events recorded; missed releases completed. Returns what it did. */
export async function syncChainEvents(ctx: Ctx): Promise<SyncResult & { paymentsRecovered: number }> {
  const rt = await requireChain(ctx);
  const d = rt.deployment;
  if (!d) return { from: 0n, to: -1n, recorded: [], reorg: false, paymentsRecovered: 0 };
  let paymentsRecovered = 0;
  const result = await syncEscrowEvents(rt.conn, dbSyncStore(ctx.db), {
    escrow: d.escrow,
    deployBlock: BigInt(d.deployBlock),
    confirmations: rt.confirmations,
  });
  if (result.reorg) ctx.log.warn("chain reorg detected: events re-read", { from: String(result.from) });
  for (const ev of result.recorded) {
    if (ev.name !== "PaymentReleased") continue;
    const recovered = await recordReleaseEvent(ctx, {
      taskId: String(ev.args.taskId),
      txHash: ev.txHash,
      fee: String(ev.args.fee),
      payee: String(ev.args.payee),
      amount: String(ev.args.amount),
      blockNumber: ev.blockNumber,
    });
    if (recovered) paymentsRecovered++;
  }
  // closes, refunds, mode changes and harvests done outside the appliance
  await applyFundingEvents(ctx, result.recorded);
  return { ...result, paymentsRecovered };
}
