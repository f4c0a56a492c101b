import type { AppContext } from "../core/context";
import { makeAuthenticator } from "./http";
import { pruneSessions } from "./service";

/** Start/stop registration handed to each domain's setup by `setupDomains`. */
export interface LifecycleHooks {
  start(fn: () => Promise<void> | void): void;
  stop(fn: () => Promise<void> | void): void;
}

/** Installs the real authenticator (sessions and API keys) and prunes long-ended sessions at start. */
export async function setupIdentity(ctx: AppContext, on: LifecycleHooks) {
  ctx.authenticate = makeAuthenticator(ctx);
  on.start(async () => {
    try {
      await pruneSessions(ctx.db);
    } catch (err) {
      ctx.log.warn("session pruning failed", { err });
    }
  });
}
