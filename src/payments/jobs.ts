// Durable jobs of the payments domain (ids: payments.proof, payments.release, chain.sync). Written against the
// narrow part of the core queue they use, so they run on whatever queue `ctx.jobs` holds.
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { isTransient } from "./release";
import { createPaymentProof, releaseTaskPayment } from "./service";
import { syncChainEvents } from "./sync";

type Ctx = Pick<AppContext, "db" | "settings" | "chain" | "openChain" | "events" | "log">;

/** What these jobs need of the core queue (src/core/jobs JobQueue). */
export interface QueueLike {
  define<P, R>(
    name: string,
    handler: (payload: P) => Promise<R>,
    opts?: { concurrency?: number; maxAttempts?: number; backoffMs?: number },
  ): {
    enqueue(
      payload: P,
      opts?: { key?: string; delayMs?: number; scope?: { orgId: string; projectId?: string | null } },
    ): Promise<{ id: string; created: boolean }>;
  };
}

/** Retrying cannot help with a contract's refusal or a bad report: mark it fatal (the job goes dead at once). */
async function fatalUnlessTransient<T>(
  fn: () => Promise<T>,
  Fatal: new (m: string, o?: ErrorOptions) => Error,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError && !isTransient(err) && err.code !== "UNAVAILABLE") {
      throw new Fatal(`${err.code}: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

/** Defines the jobs; the returned handles enqueue with the per-task idempotency keys. */
export function definePaymentJobs(
  ctx: Ctx,
  queue: QueueLike,
  Fatal: new (m: string, o?: ErrorOptions) => Error = Error,
) {
  const release = queue.define<{ proofId: string }, Awaited<ReturnType<typeof releaseTaskPayment>>>(
    "payments.release",
    (p) => fatalUnlessTransient(() => releaseTaskPayment(ctx, p.proofId), Fatal),
    // one release at a time: the worker key's nonces stay in order; RPC hiccups retry with backoff
    { concurrency: 1, maxAttempts: 8, backoffMs: 2_000 },
  );
  // The payout proves only a report the harness signed and stored for the task's linked commit: the payload
  // names the stored verification, never a report.
  const proof = queue.define<{ verificationId: string }, { proofId: string }>(
    "payments.proof",
    async (p) => {
      const { proofId, taskId, scope } = await fatalUnlessTransient(
        () => createPaymentProof(ctx, p.verificationId),
        Fatal,
      );
      await release.enqueue({ proofId }, { key: `payments.release:${taskId}`, scope });
      return { proofId };
    },
    { concurrency: 1, maxAttempts: 3 },
  );
  const sync = queue.define<Record<string, never>, { events: number; paymentsRecovered: number }>(
    "chain.sync",
    async () => {
      const r = await syncChainEvents(ctx);
      return { events: r.recorded.length, paymentsRecovered: r.paymentsRecovered };
    },
    { concurrency: 1, maxAttempts: 1 },
  );
  return { proof, release, sync };
}

/** The payment jobs' handles, as registered on the context at boot. */
export type PaymentJobs = ReturnType<typeof definePaymentJobs>;
