// Outgoing webhooks as the appliance runs them: the bus subscriber (every org event), the `webhooks.deliver` job
// (one per delivery; a failed attempt is retried by the queue with exponential backoff and jitter) and the
// `webhooks.prune` cron entry that drops finished deliveries after 30 days.
import type { AppContext } from "../core/context";
import type { RunContext } from "../core/jobs";
import { attemptDelivery, DELIVER_JOB, eventSubscriber, pruneDeliveries, SUBSCRIBER } from "./service";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Subscribes the webhooks to the bus and defines their jobs; call after `setupEvents`. */
export function setupWebhooks(ctx: AppContext, on: On) {
  const off = ctx.events?.subscribe(SUBSCRIBER, "*", eventSubscriber(ctx));
  if (off) on.stop(off);
  ctx.jobs.define<{ deliveryId: string }>(
    DELIVER_JOB,
    ({ deliveryId }, run: RunContext) => attemptDelivery(ctx, deliveryId, run),
    // 30 s, 1 min, 2 min … up to 1 h between attempts (each a random point in the upper half of its step)
    { concurrency: 10, backoffMs: 30_000, maxBackoffMs: 3_600_000, timeoutMs: 30_000 },
  );
  ctx.jobs.define("webhooks.prune", async () => ({ pruned: await pruneDeliveries(ctx) }), { maxAttempts: 1 });
  ctx.cron.register("webhooks.prune", "0 45 3 * * *", "webhooks.prune");
}
