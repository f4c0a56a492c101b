// Rendered signed-in pages and list APIs, kept per credential and URL for as long as the database has not changed.
//
// "Not changed" is PostgreSQL's current snapshot staying the same (src/core/db/snapshot.ts): a response rendered
// after snapshot S was read shows the database at S or later, so it may be served again to the same credential while
// the snapshot is still S, and a page requested after a write committed always shows that write. What the database
// does not hold (the clock: "expires in 2 days", quotes that lapse; a setting another node changed a moment ago) is
// bounded by a short lifetime.
//
// Only routes that read wrap their handler in `serve`; the credential (session cookie or bearer key) is part of the
// key, so a hit needs no session lookup: the session row is database state too, and revoking it is a write.
import { createHash } from "node:crypto";
import type { Database } from "../db";
import { currentSnapshot } from "../db/snapshot";
import { compress, type Encoding, pickEncoding } from "./compression";
import { getRequestMeta } from "./plugin";

/** How long a rendered response may be served while the snapshot holds: what the clock can change in that time. */
const LIFETIME_MS = 5_000;
/** Bytes of bodies kept in all (oldest dropped first); a single body above the item limit is not kept. */
const MAX_BYTES = 64 * 1024 * 1024;
const MAX_ITEM_BYTES = 2 * 1024 * 1024;

interface Entry {
  snapshot: string;
  at: number;
  status: number;
  headers: [string, string][];
  body: Uint8Array<ArrayBuffer>;
  encoded: Partial<Record<Encoding, Uint8Array<ArrayBuffer>>>;
}

export interface PageCache {
  /** The response for this request: the kept one when the database has not changed since, else `render()`'s. */
  serve(request: Request, render: () => Promise<Response>): Promise<Response>;
  /** Hits, misses and kept bytes, for /metrics and benchmarks. */
  stats(): { hits: number; misses: number; bytes: number; entries: number };
}

const caches = new WeakMap<Database, PageCache>();

/** The page cache of a database handle (one per process and database). */
export function pageCacheOf(database: Database): PageCache {
  let cache = caches.get(database);
  if (!cache) {
    cache = createPageCache(database);
    caches.set(database, cache);
  }
  return cache;
}

function headerList(h: Headers): [string, string][] {
  const out: [string, string][] = [];
  h.forEach((v, k) => {
    out.push([k, v]);
  });
  return out;
}

const credentialOf = (request: Request) =>
  request.headers.get("authorization") ?? /(?:^|;\s*)ds_session=([^;]*)/.exec(request.headers.get("cookie") ?? "")?.[1];

export function createPageCache(database: Database, opts: { lifetimeMs?: number } = {}): PageCache {
  const lifetime = opts.lifetimeMs ?? LIFETIME_MS;
  const entries = new Map<string, Entry>(); // in insertion order: the first is the oldest
  const rendering = new Map<string, Promise<Entry | Response>>();
  let bytes = 0;
  let hits = 0;
  let misses = 0;

  const drop = (key: string) => {
    const e = entries.get(key);
    if (!e) return;
    bytes -= e.body.byteLength + (e.encoded.br?.byteLength ?? 0) + (e.encoded.gzip?.byteLength ?? 0);
    entries.delete(key);
  };
  const keep = (key: string, e: Entry) => {
    drop(key);
    entries.set(key, e);
    bytes += e.body.byteLength;
    for (const k of entries.keys()) {
      if (bytes <= MAX_BYTES) break;
      drop(k);
    }
  };

  /** The kept response, compressed for this client once per encoding. */
  const answer = (request: Request, e: Entry): Response => {
    const headers = new Headers(e.headers);
    headers.append("vary", "Accept-Encoding");
    const encoding =
      request.method === "GET" && e.body.byteLength >= 1024
        ? pickEncoding(request.headers.get("accept-encoding"))
        : null;
    if (!encoding) return new Response(e.body, { status: e.status, headers });
    let body = e.encoded[encoding];
    if (!body) {
      body = e.encoded[encoding] = compress(e.body, encoding);
      bytes += body.byteLength;
    }
    headers.set("content-encoding", encoding);
    return new Response(body, { status: e.status, headers });
  };

  return {
    async serve(request, render) {
      if (request.method !== "GET") return render();
      const key = [
        createHash("sha256")
          .update(credentialOf(request) ?? "")
          .digest("base64url"),
        request.url,
        request.headers.get("hx-request") ?? "",
        request.headers.get("hx-target") ?? "",
      ].join("\n");
      const snap = await currentSnapshot(database, getRequestMeta(request)?.start);
      const kept = entries.get(key);
      if (kept && kept.snapshot === snap && Date.now() - kept.at < lifetime) {
        hits++;
        return answer(request, kept);
      }
      // one render per key and snapshot: the others asking at the same time get its result
      const flight = `${key}\n${snap}`;
      let pending = rendering.get(flight);
      if (!pending) {
        misses++;
        pending = (async () => {
          const at = Date.now();
          const res = await render();
          const type = res.headers.get("content-type") ?? "";
          if (
            res.status !== 200 ||
            res.headers.has("set-cookie") ||
            res.headers.has("content-encoding") ||
            !/^(text\/html|application\/json)\b/.test(type)
          )
            return res;
          const body = new Uint8Array(await res.arrayBuffer());
          const e: Entry = {
            snapshot: snap,
            at,
            status: res.status,
            headers: headerList(res.headers),
            body,
            encoded: {},
          };
          if (body.byteLength <= MAX_ITEM_BYTES) keep(key, e);
          return e;
        })().finally(() => rendering.delete(flight));
        rendering.set(flight, pending);
        const out = await pending;
        return out instanceof Response ? out : answer(request, out);
      }
      const out = await pending;
      // a response that was not kept (an error page, a redirect) is this request's own: render it again
      return out instanceof Response ? render() : answer(request, out);
    },
    stats: () => ({ hits, misses, bytes, entries: entries.size }),
  };
}
