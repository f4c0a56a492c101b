// Response compression: brotli when the client accepts it, else gzip, for HTML, CSS, JavaScript and JSON bodies.
// Immutable responses (content-hashed assets) are compressed once, at the highest level, and kept in memory; pages
// are compressed per response at a fast level. Event streams are never touched: they must flush as they are written.
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** A content coding this server produces. */
export type Encoding = "br" | "gzip";

const COMPRESSIBLE = /^(text\/(html|css|javascript|plain|xml)|application\/(javascript|json|xml)|image\/svg\+xml)\b/i;
/** Below this a compressed body saves less than its framing costs. */
const MIN_BYTES = 1024;

/** The coding to use for an Accept-Encoding header: br, then gzip; none for identity or a refusal (q=0). */
export function pickEncoding(accept: string | null): Encoding | null {
  if (!accept) return null;
  const q = new Map<string, number>();
  for (const part of accept.toLowerCase().split(",")) {
    const [name, ...params] = part.trim().split(";");
    if (!name) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const value = qp ? Number(qp.slice(2)) : 1;
    q.set(name.trim(), Number.isFinite(value) ? value : 0);
  }
  const weight = (c: string) => q.get(c) ?? (q.has("*") ? q.get("*")! : 0);
  const br = weight("br");
  const gz = weight("gzip");
  if (br > 0 && br >= gz) return "br";
  if (gz > 0) return "gzip";
  return null;
}

/**
 * Compresses bytes; `best` for bodies compressed once and cached, otherwise a level fast enough per request.
 * Per response, brotli's quality 1 costs a tenth of quality 5 for bodies 8–22% larger (measured: the 78 KB
 * project list 0.12 ms and 3.5 KB against 1.35 ms and 3.2 KB; a 5.6 KB page 0.09 ms against 0.40 ms), and is
 * still smaller than gzip at level 6.
 */
export function compress(body: Uint8Array, encoding: Encoding, best = false): Uint8Array<ArrayBuffer> {
  if (encoding === "gzip") return new Uint8Array(gzipSync(body, { level: best ? 9 : 6 }));
  const out = brotliCompressSync(body, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: best ? 11 : 1,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.byteLength,
    },
  });
  return new Uint8Array(out);
}

const cache = new Map<string, Uint8Array<ArrayBuffer>>();
const CACHE_LIMIT = 64;

/** The compressed bytes of an immutable asset, made on first request and then served from memory. */
export function compressedAsset(key: string, body: Uint8Array | string, encoding: Encoding): Uint8Array<ArrayBuffer> {
  const k = `${encoding}:${key}`;
  let out = cache.get(k);
  if (!out) {
    out = compress(typeof body === "string" ? new TextEncoder().encode(body) : body, encoding, true);
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(k, out);
  }
  return out;
}

/** Adds a token to a header's comma-separated list unless present. */
function appendVary(headers: Headers, token: string) {
  const vary = headers.get("vary");
  if (!vary) headers.set("vary", token);
  else if (
    !vary
      .toLowerCase()
      .split(/\s*,\s*/)
      .includes(token.toLowerCase())
  )
    headers.set("vary", `${vary}, ${token}`);
}

/**
 * The response compressed for the request when its type is text-like and it is large enough, with
 * `Vary: Accept-Encoding` on every compressible response. Anything else comes back unchanged.
 */
export async function compressResponse(request: Request, response: Response): Promise<Response> {
  const type = response.headers.get("content-type") ?? "";
  if (!COMPRESSIBLE.test(type) || type.startsWith("text/event-stream")) return response;
  if (!response.body || response.headers.has("content-encoding") || response.status === 204 || response.status === 304)
    return response;
  appendVary(response.headers, "Accept-Encoding");
  const encoding = pickEncoding(request.headers.get("accept-encoding"));
  if (!encoding || request.method === "HEAD") return response;
  const immutable = /\bimmutable\b/.test(response.headers.get("cache-control") ?? "");
  const bytes = new Uint8Array(await response.arrayBuffer());
  const headers = new Headers(response.headers);
  if (bytes.byteLength < MIN_BYTES) return new Response(bytes, { status: response.status, headers });
  const body = immutable ? compressedAsset(new URL(request.url).pathname, bytes, encoding) : compress(bytes, encoding);
  headers.set("content-encoding", encoding);
  headers.delete("content-length");
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}
