// The event bus as the appliance runs it: the `events.deliver` job (one per event, stored with it), the
// `events.sweep` cron entry and start-up run (new jobs for undelivered events whose job died, old delivered events
// dropped), and the live hub.
import type { AppContext } from "../core/context";
import { LiveHub } from "./live";
import { DELIVER_JOB, EventBus } from "./service";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Creates the bus and the live hub on the context and defines their jobs; subscribers register afterwards. */
export async function setupEvents(ctx: AppContext, on: On) {
  const bus = new EventBus(ctx.database, ctx.log.child({ component: "events" }));
  ctx.events = bus;
  ctx.live = new LiveHub(ctx.database, ctx.log.child({ component: "live" }));
  ctx.jobs.define<{ eventId: string }>(DELIVER_JOB, ({ eventId }) => bus.deliver(eventId), {
    concurrency: 5,
    backoffMs: 500,
    maxBackoffMs: 300_000,
  });
  // Delivered events are kept 30 days (what happened, for an admin's questions), then dropped.
  ctx.jobs.define("events.sweep", async () => ({ queued: await bus.sweep(), pruned: await bus.prune() }), {
    maxAttempts: 1,
  });
  ctx.cron.register("events.sweep", "0 */5 * * * *", "events.sweep");
  on.start(() => void ctx.jobs.enqueue("events.sweep", {}));
  on.stop(() => ctx.live?.close());
}
