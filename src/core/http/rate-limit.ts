import { rateLimited } from "../errors";

/** A token bucket per key: `capacity` requests at once, refilled at `refillPerSecond`. In memory, per process. */
export function createRateLimiter(opts: { capacity: number; refillPerSecond: number; maxKeys?: number }) {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const maxKeys = opts.maxKeys ?? 50_000;

  /** Takes one token for `key`, or throws RATE_LIMITED with the seconds to wait. */
  function take(key: string, cost = 1, now = performance.now()) {
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= maxKeys) buckets.delete(buckets.keys().next().value as string); // oldest first
      b = { tokens: opts.capacity, at: now };
      buckets.set(key, b);
    }
    b.tokens = Math.min(opts.capacity, b.tokens + ((now - b.at) / 1000) * opts.refillPerSecond);
    b.at = now;
    if (b.tokens < cost) throw rateLimited(Math.ceil((cost - b.tokens) / opts.refillPerSecond));
    b.tokens -= cost;
  }
  return { take, reset: () => buckets.clear() };
}
