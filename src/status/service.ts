import type { AppContext } from "../core/context";

export type ComponentStatus = { status: "ok" | "degraded" | "down"; detail?: string; [k: string]: unknown };

const cache = new WeakMap<AppContext, { at: number; value: Promise<Health> }>();
type Health = Awaited<ReturnType<typeof computeHealth>>;

/**
 * The instance's health, computed at most twice a second: under load every caller shares one round of checks
 * (the status page and /health stay cheap), yet a failure shows within half a second.
 */
export function instanceHealth(ctx: AppContext, maxAgeMs = 500): Promise<Health> {
  const hit = cache.get(ctx);
  if (hit && performance.now() - hit.at < maxAgeMs) return hit.value;
  const value = computeHealth(ctx);
  cache.set(ctx, { at: performance.now(), value });
  return value;
}

/** Runs every cheap health check (database first) with a time limit each. */
async function computeHealth(ctx: AppContext) {
  const components: Record<string, ComponentStatus> = {};
  const checks: [string, () => Promise<ComponentStatus>][] = [
    [
      "database",
      async () => {
        const t = performance.now();
        await ctx.database.exec("select 1");
        return { status: "ok", kind: ctx.database.kind, latencyMs: Math.round((performance.now() - t) * 10) / 10 };
      },
    ],
    ...ctx.health.entries(),
  ];
  await Promise.all(
    checks.map(async ([name, check]) => {
      try {
        components[name] = await withTimeout(check(), 2000);
      } catch (err) {
        components[name] = { status: "down", detail: (err as Error).message };
      }
    }),
  );
  const statuses = Object.values(components).map((c) => c.status);
  const status =
    components.database?.status === "down" ? "down" : statuses.every((s) => s === "ok") ? "ok" : "degraded";
  return {
    status,
    version: ctx.version,
    instanceId: ctx.instanceId,
    uptimeSeconds: Math.round((Date.now() - ctx.startedAt.getTime()) / 1000),
    components,
  };
}

/** What a caller may see of the health: admins everything; anyone else the states only (details hold URLs, keys, errors). */
export function healthFor(health: Health, viewer: { isAdmin: boolean } | null) {
  if (viewer?.isAdmin) return health;
  const components: Record<string, { status: ComponentStatus["status"] }> = {};
  for (const [name, c] of Object.entries(health.components)) components[name] = { status: c.status };
  return { status: health.status, components };
}

/** The health as anyone sees it, or in full. */
export type VisibleHealth = ReturnType<typeof healthFor>;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
