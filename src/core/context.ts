import type { ChainRuntime } from "../chain/service";
import type { VectorStore } from "../documents/store";
import type { LiveHub } from "../events/live";
import type { EventBus } from "../events/service";
import type { PaymentJobs } from "../payments/jobs";
import type { Config } from "./config";
import type { Database, Db } from "./db";
import { forbidden, unauthorized } from "./errors";
import type { CronRegistry, JobQueue } from "./jobs";
import type { Logger } from "./logger";
import type { SettingsService } from "./settings/service";

/** The signed-in caller, from a browser session or an API key. */
export interface Principal {
  userId: string;
  name: string;
  email?: string | null;
  isAdmin: boolean;
  via: "session" | "api-key";
  /** API-key scopes; sessions have every scope. */
  scopes?: string[];
  /** The session's CSRF token (browser sessions only). */
  csrfToken?: string;
  /** Whether the account's e-mail address is confirmed (sessions only: pages show a banner until it is). */
  emailVerified?: boolean;
  /** The browser session's id (sessions only). */
  sessionId?: string;
  /** When the session's user last proved who they are: sign-in or password re-confirmation (sessions only). */
  authenticatedAt?: Date;
}

/** Resolves the caller of a request; the identity domain installs the real one at boot. */
export type Authenticator = (request: Request) => Promise<Principal | null>;

/** A named health check shown by /health and the status page; it must be cheap. */
export type HealthCheck = () => Promise<{ status: "ok" | "degraded" | "down"; detail?: string; [k: string]: unknown }>;

/** Everything a domain needs at run time, created once at boot and passed to every route plugin. */
export interface AppContext {
  config: Config;
  version: string;
  instanceId: string;
  startedAt: Date;
  database: Database;
  db: Db;
  settings: SettingsService;
  masterKey: Buffer;
  log: Logger;
  /** The durable job queue: domains define handlers at boot and enqueue work. */
  jobs: JobQueue;
  /** Cron entries (fire once per tick across processes) that enqueue jobs. */
  cron: CronRegistry;
  authenticate: Authenticator;
  health: Map<string, HealthCheck>;
  /** The chain once it is open (src/chain/setup.ts); `requireChain` opens it on first use. */
  chain?: ChainRuntime;
  /** Opens the configured chain (set at boot); failures are retried on the next call. */
  openChain?: () => Promise<ChainRuntime>;
  /** The payment jobs, defined on the queue at boot (src/payments/setup.ts). */
  payments?: PaymentJobs;
  /** The documents' vector store, opened on first use (src/documents/service.ts). */
  vectors?: VectorStore;
  /** The domain event bus's subscribers (src/events/jobs.ts); events are written with `emitEvent(tx, …)`. */
  events?: EventBus;
  /** The signed-in browsers' live streams of this process (src/events/live.ts). */
  live?: LiveHub;
}

/** Throws UNAUTHORIZED unless someone is signed in. */
export function requireUser(p: Principal | null): Principal {
  if (!p) throw unauthorized();
  return p;
}

/** Throws unless the caller is a platform admin. */
export function requireAdmin(p: Principal | null): Principal {
  const user = requireUser(p);
  if (!user.isAdmin) throw forbidden("Only a platform admin can do this.");
  return user;
}
