// Jobs of the funding domain (id: funding.harvest) and their cron entry.
import type { AppContext } from "../core/context";
import { harvestAll } from "./yield";

/** Defines `funding.harvest` (the yield of every project in yield mode) and schedules it daily at 04:00. */
export function setupFunding(ctx: AppContext): void {
  ctx.jobs.define("funding.harvest", () => harvestAll(ctx), { concurrency: 1, maxAttempts: 3, backoffMs: 60_000 });
  ctx.cron.register("funding.harvest", "0 0 4 * * *", "funding.harvest");
}
