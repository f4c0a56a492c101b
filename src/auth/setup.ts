import type { AppContext } from "../core/context";
import { ensureSetupToken } from "./first-admin";
import { makeAuthenticator } from "./http";
import { pruneSessions } from "./service";

/** Start/stop registration handed to each domain's setup by `setupDomains`. */
export interface LifecycleHooks {
  start(fn: () => Promise<void> | void): void;
  stop(fn: () => Promise<void> | void): void;
}

/**
 * Installs the real authenticator (sessions and API keys); at start, prints the setup token while no admin exists
 * and prunes long-ended sessions.
 */
export async function setupIdentity(ctx: AppContext, on: LifecycleHooks) {
  ctx.authenticate = makeAuthenticator(ctx);
  on.start(async () => {
    const token = await ensureSetupToken(ctx.db, ctx.config.dataDir);
    // In the message, not a field: the logger redacts token-like fields, and the operator needs to read this one.
    if (token) ctx.log.warn(`no platform admin yet: open /setup and enter the setup token ${token}`);
    try {
      await pruneSessions(ctx.db);
    } catch (err) {
      ctx.log.warn("session pruning failed", { err });
    }
  });
}
