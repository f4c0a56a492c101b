// Delivers the domain events a test's actions stored, in the test's own flow: test apps boot without job workers,
// so what the bus's subscribers do (notifications, e-mails) happens when a test calls this.
import type { AppContext } from "../../src/core/context";

/** Hands every undelivered event to its subscribers, oldest first; returns how many were delivered. */
export async function deliverEvents(ctx: AppContext): Promise<number> {
  if (!ctx.events) throw new Error("the event bus is not set up");
  const rows = await ctx.database.exec<{ id: string }>(
    "select id from domain_events where delivered_at is null order by created_at",
  );
  for (const r of rows) await ctx.events.deliver(r.id);
  return rows.length;
}
