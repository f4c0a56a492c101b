// Sign-in back-off. Failures are counted per client address and per address+account pair, never per account
// alone: a stranger who types alice's e-mail with wrong passwords slows only themselves, not alice.
import { rateLimited } from "../core/errors";

/** Tuning of the back-off: free failures per key, then a wait that doubles with each failure up to `maxMs`. */
export interface ThrottleOptions {
  /** Failures an address may make against one account before it must wait. */
  pairFreeFailures: number;
  /** Failures an address may make in all (against any accounts) before it must wait. */
  addressFreeFailures: number;
  baseMs: number;
  maxMs: number;
  /** A key with no failure for this long starts over. */
  forgetAfterMs: number;
  maxKeys: number;
}

const DEFAULTS: ThrottleOptions = {
  pairFreeFailures: 5,
  addressFreeFailures: 30,
  baseMs: 1000,
  maxMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
  maxKeys: 50_000,
};

interface Entry {
  failures: number;
  /** No attempt before this time (ms). */
  until: number;
  lastFailure: number;
}

/** A sign-in throttle kept in memory (one process serves the appliance). */
export function createSignInThrottle(options: Partial<ThrottleOptions> = {}) {
  const o = { ...DEFAULTS, ...options };
  const entries = new Map<string, Entry>();
  const pairKey = (address: string, account: string) => `${address}\n${account}`;
  const live = (key: string, now: number) => {
    const e = entries.get(key);
    if (e && now - e.lastFailure > o.forgetAfterMs) {
      entries.delete(key);
      return undefined;
    }
    return e;
  };
  const wait = (key: string, now: number) => Math.max(0, (live(key, now)?.until ?? 0) - now);
  const fail = (key: string, free: number, now: number) => {
    const e = live(key, now) ?? { failures: 0, until: 0, lastFailure: now };
    e.failures++;
    e.lastFailure = now;
    if (e.failures >= free) e.until = now + Math.min(o.maxMs, o.baseMs * 2 ** Math.min(30, e.failures - free));
    entries.delete(key); // re-insert: the map's order is then least recently failed first
    entries.set(key, e);
    if (entries.size > o.maxKeys) entries.delete(entries.keys().next().value as string);
  };

  return {
    /** Throws RATE_LIMITED (with the seconds to wait) while this address, or this address for `account`, waits. */
    check(address: string, account: string, now = Date.now()) {
      const ms = Math.max(wait(address, now), wait(pairKey(address, account), now));
      if (ms > 0) throw rateLimited(Math.ceil(ms / 1000));
    },
    /** Records a failed sign-in. */
    failed(address: string, account: string, now = Date.now()) {
      fail(address, o.addressFreeFailures, now);
      fail(pairKey(address, account), o.pairFreeFailures, now);
    },
    /** Records a successful sign-in: the pair starts over (the address keeps its count). */
    succeeded(address: string, account: string) {
      entries.delete(pairKey(address, account));
    },
  };
}
