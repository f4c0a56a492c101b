// Boot: the chain follower of the payments domain runs every few seconds (overlapping passes are skipped).
import type { AppContext } from "../core/context";
import { FatalJobError } from "../core/jobs";
import { definePaymentJobs, type QueueLike } from "./jobs";
import { syncChainEvents } from "./sync";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Interval between two passes of the chain sync (`chain.sync`). */
export const SYNC_INTERVAL_MS = 15_000;

/**
 * Defines the payment jobs on the core queue and schedules `chain.sync` (cron, every minute); without a queue on
 * the context, runs the sync as a plain loop with the server.
 */
export async function setupPayments(ctx: AppContext, on: On): Promise<void> {
  const queue: QueueLike | undefined = ctx.jobs;
  const cron = ctx.cron as { register(id: string, pattern: string, job: string, payload?: unknown): void } | undefined;
  if (queue && cron) {
    ctx.payments = definePaymentJobs(ctx, queue, FatalJobError);
    // recovery of missed events needs no hurry: once a minute keeps the job table small
    cron.register("chain.sync", "0 * * * * *", "chain.sync", {});
    return;
  }
  let timer: Timer | undefined;
  let running: Promise<unknown> | undefined;
  const tick = () => {
    if (running || !ctx.chain) return;
    running = syncChainEvents(ctx)
      .then((r) => {
        if (r.recorded.length > 0 || r.paymentsRecovered > 0) {
          ctx.log.info("chain sync", {
            events: r.recorded.length,
            paymentsRecovered: r.paymentsRecovered,
            to: String(r.to),
          });
        }
      })
      .catch((err) => ctx.log.warn("chain sync failed; will retry", { error: (err as Error).message }))
      .finally(() => {
        running = undefined;
      });
  };
  on.start(() => {
    timer = setInterval(tick, SYNC_INTERVAL_MS);
    tick();
  });
  on.stop(async () => {
    clearInterval(timer);
    await running;
  });
}
