// Reads that may be answered again while the database has not changed.
//
// "Not changed" is checked, not guessed: PostgreSQL's current snapshot (`pg_current_snapshot()`: xmin, xmax and the
// writers still running) decides exactly which transactions' writes a read sees. While its text stays the same, no
// write has become visible since, on this node or any other; it changes when a writing transaction commits or aborts,
// and reads leave it alone. A value loaded after snapshot S was read shows the database at S or later, so it may be
// given again while the snapshot is still S. Each caller uses a snapshot read that began after its request arrived
// (the requests of one moment share reads), so whoever asks after a write committed gets a value that includes it.
//
// Only what the database holds is covered: a cached value that also depends on the clock must say so itself (the
// session cache checks the expiry; the page cache bounds an entry's life).
import type { Database } from ".";

type Reader = (since: number) => Promise<string>;
const readers = new WeakMap<Database, Reader>();

/**
 * The database's current snapshot, as text, from a read that began at or after `since` (a `performance.now()` time:
 * when the request being answered arrived; by default now). A read that began before it may predate a write the
 * caller expects to see, so it is never used; any read begun after it is, so the requests of one moment share reads.
 * At most one read runs at a time.
 */
export function currentSnapshot(database: Database, since = performance.now()): Promise<string> {
  let read = readers.get(database);
  if (!read) {
    read = snapshotReader(database);
    readers.set(database, read);
  }
  return read(since);
}

function snapshotReader(database: Database): Reader {
  let last: { at: number; value: string } | null = null; // the latest read that ended, and when it began
  let current: { at: number; value: Promise<string> } | null = null;
  let queued: Promise<string> | null = null;
  const start = () => {
    const at = performance.now();
    // a parameter, so the statement is prepared once (PGlite's fast path)
    const value = database
      .exec<{ s: string }>("select pg_current_snapshot()::text as s where $1::int = 1", [1])
      .then(([row]) => {
        if (!last || last.at < at) last = { at, value: row!.s };
        return row!.s;
      })
      .finally(() => {
        if (current?.value === value) current = null;
      });
    current = { at, value };
    return value;
  };
  return (since) => {
    if (last && last.at >= since) return Promise.resolve(last.value);
    if (!current) return start();
    if (current.at >= since) return current.value;
    const after = current.value.then(
      () => {},
      () => {},
    );
    queued ??= after.then(() => {
      queued = null;
      return start();
    });
    return queued;
  };
}

const named = new WeakMap<Database, Map<string, SnapshotCache<unknown>>>();

/** The process's cache called `name` on this database (made on first use), for callers that share one. */
export function snapshotCacheOf<T>(database: Database, name: string): SnapshotCache<T> {
  let byName = named.get(database);
  if (!byName) {
    byName = new Map();
    named.set(database, byName);
  }
  let cache = byName.get(name);
  if (!cache) {
    cache = snapshotCache<unknown>(database);
    byName.set(name, cache);
  }
  return cache as SnapshotCache<T>;
}

export interface SnapshotCache<T> {
  /** `load()`'s value for `key`, or the one kept for it when the database has not changed since it was loaded. */
  get(key: string, load: () => Promise<T>, usable?: (value: T) => boolean, since?: number): Promise<T>;
  stats(): { hits: number; misses: number; entries: number };
}

/**
 * A bounded map of values loaded from the database, each valid while the snapshot it was loaded at is current.
 * `usable` can refuse a kept value for reasons outside the database (an expiry passed). Loads of one key at one
 * snapshot are shared by the callers asking at the same time.
 */
export function snapshotCache<T>(database: Database, maxEntries = 10_000): SnapshotCache<T> {
  const entries = new Map<string, { snapshot: string; value: T }>(); // insertion order: the first is the oldest
  const loading = new Map<string, Promise<T>>();
  let hits = 0;
  let misses = 0;
  return {
    async get(key, load, usable, since) {
      const snap = await currentSnapshot(database, since);
      const kept = entries.get(key);
      if (kept && kept.snapshot === snap && (!usable || usable(kept.value))) {
        hits++;
        return kept.value;
      }
      const flight = `${snap}\n${key}`;
      let pending = loading.get(flight);
      if (!pending) {
        misses++;
        pending = load()
          .then((value) => {
            entries.delete(key);
            entries.set(key, { snapshot: snap, value });
            if (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
            return value;
          })
          .finally(() => loading.delete(flight));
        loading.set(flight, pending);
      }
      return pending;
    },
    stats: () => ({ hits, misses, entries: entries.size }),
  };
}
