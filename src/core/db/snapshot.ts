// Reads that may be answered again while the database has not changed.
//
// "Not changed" is checked, not guessed: PostgreSQL's current snapshot (`pg_current_snapshot()`: xmin, xmax and the
// writers still running) decides exactly which transactions' writes a read sees. While its text stays the same, no
// write has become visible since, on this node or any other; it changes when a writing transaction commits or aborts,
// and reads leave it alone. A value loaded after snapshot S was read shows the database at S or later, so it may be
// given again while the snapshot is still S. Each caller uses a snapshot read that began after its request arrived
// (the requests of one moment share reads), so whoever asks after a write committed gets a value that includes it.
//
// A cache of what only some tables decide can be scoped to their group's version instead (src/core/db/data-versions.ts,
// read with the snapshot): triggers raise it in the writing transaction, so it too changes exactly when such a write
// becomes visible, and writes to other tables leave the cached values alone.
//
// The embedded database has one user, this process: while no statement has ended since a read, the read still holds,
// so most requests of a busy moment need none of their own.
//
// Only what the database holds is covered: a cached value that also depends on the clock must say so itself (the
// session cache checks the expiry; the page cache bounds an entry's life).
import { getTableName } from "drizzle-orm";
import type { Database } from ".";
import { dataVersions } from "./data-versions";

/** The snapshot as text, and each table group's version (src/core/db/data-versions.ts). */
interface DbState {
  snapshot: string;
  versions: Record<string, string>;
}
type Reader = (since: number) => Promise<DbState>;
const readers = new WeakMap<Database, Reader>();

/**
 * The database's current snapshot, as text, from a read that began at or after `since` (a `performance.now()` time:
 * when the request being answered arrived; by default now). A read that began before it may predate a write the
 * caller expects to see, so it is never used; any read begun after it is, so the requests of one moment share reads.
 * At most one read runs at a time.
 */
export async function currentSnapshot(database: Database, since = performance.now()): Promise<string> {
  return (await currentState(database, since)).snapshot;
}

function currentState(database: Database, since = performance.now()): Promise<DbState> {
  let read = readers.get(database);
  if (!read) {
    read = snapshotReader(database);
    readers.set(database, read);
  }
  return read(since);
}

function snapshotReader(database: Database): Reader {
  // the latest read that ended, when it began, and (embedded database) how many statements had ended by then
  let last: { at: number; value: DbState; ended?: number } | null = null;
  let current: { at: number; value: Promise<DbState> } | null = null;
  let queued: Promise<DbState> | null = null;
  const start = () => {
    const at = performance.now();
    const ended = database.ended?.();
    // a parameter, so the statement is prepared once (PGlite's fast path)
    const value = database
      .exec<{ s: string; v: string | null }>(
        `select pg_current_snapshot()::text as s,
           (select string_agg(name || '=' || version, ',') from ${getTableName(dataVersions)}) as v
         where $1::int = 1`,
        [1],
      )
      .then(([row]) => {
        const versions: Record<string, string> = {};
        for (const pair of row!.v?.split(",") ?? []) {
          const eq = pair.lastIndexOf("=");
          versions[pair.slice(0, eq)] = pair.slice(eq + 1);
        }
        const state = { snapshot: row!.s, versions };
        if (!last || last.at < at) last = { at, value: state, ended };
        return state;
      })
      .finally(() => {
        if (current?.value === value) current = null;
      });
    current = { at, value };
    return value;
  };
  return (since) => {
    if (last && last.at >= since) return Promise.resolve(last.value);
    // Embedded: when no statement but that read itself has ended since it began, nothing has changed since.
    if (last?.ended !== undefined && database.ended!() === last.ended + 1) return Promise.resolve(last.value);
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
 * A bounded map of values loaded from the database, each valid while the snapshot it was loaded at is current, or
 * with `scope`, while that table group's version is (the values must then depend on those tables only).
 * `usable` can refuse a kept value for reasons outside the database (an expiry passed). Loads of one key at one
 * snapshot are shared by the callers asking at the same time.
 */
export function snapshotCache<T>(
  database: Database,
  opts: { maxEntries?: number; scope?: string } = {},
): SnapshotCache<T> {
  const { maxEntries = 10_000, scope } = opts;
  const entries = new Map<string, { snapshot: string; value: T }>(); // insertion order: the first is the oldest
  const loading = new Map<string, Promise<T>>();
  let hits = 0;
  let misses = 0;
  return {
    async get(key, load, usable, since) {
      const state = await currentState(database, since);
      const snap = scope ? `${scope}=${state.versions[scope] ?? "0"}` : state.snapshot;
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
