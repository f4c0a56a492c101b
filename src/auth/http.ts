// HTTP pieces of identity: cookies, the authenticator installed on the context, client address and origin.
import type { AppContext, Authenticator } from "../core/context";
import { clientAddress } from "../core/http/client-address";
import { getRequestMeta } from "../core/http/plugin";
import { isSecure } from "../core/http/security";
import { sha256Hex } from "../core/crypto";
import { snapshotCache } from "../core/db/snapshot";
import { lookupApiKey, lookupSession, type ResolvedCredential } from "./service";

export const SESSION_COOKIE = "ds_session";
/** Double-submit token for forms shown before sign-in (setup, sign-in, sign-up). */
export const PRE_CSRF_COOKIE = "ds_pre";
export const OAUTH_STATE_COOKIE = "ds_oauth";

/** Reads one cookie from the request. */
export function readCookie(request: Request, name: string): string | null {
  const header = request.headers.get("cookie");
  if (!header) return null;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) {
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}

/** A Set-Cookie value: HttpOnly and SameSite=Lax always, Secure when the request came over TLS. */
export function cookie(
  ctx: AppContext,
  request: Request,
  name: string,
  value: string,
  opts: { maxAgeSeconds?: number; path?: string } = {},
): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, `Path=${opts.path ?? "/"}`, "HttpOnly", "SameSite=Lax"];
  if (opts.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}`);
  if (isSecure(request, ctx.config.trustProxy)) parts.push("Secure");
  return parts.join("; ");
}

/** The Set-Cookie value of a new browser session. */
export const sessionCookie = (ctx: AppContext, request: Request, s: { token: string; expiresAt: Date }) =>
  cookie(ctx, request, SESSION_COOKIE, s.token, { maxAgeSeconds: (s.expiresAt.getTime() - Date.now()) / 1000 });

/** A Set-Cookie value that deletes the cookie. */
export const clearCookie = (ctx: AppContext, request: Request, name: string, path = "/") =>
  cookie(ctx, request, name, "", { maxAgeSeconds: 0, path });

/** The bearer token of an `Authorization` header, if any. */
export function bearerToken(request: Request): string | null {
  const h = request.headers.get("authorization");
  if (!h) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(h.trim());
  return m ? m[1] : null;
}

/**
 * Resolves the caller: an `Authorization: Bearer` API key (cookies are then ignored, so API calls are never
 * subject to CSRF), else the session cookie. A credential seen before is not looked up again while the sessions,
 * API keys and users have not changed (their `auth` version, src/core/db/data-versions.ts: signing in or out,
 * revoking a key or disabling a user raise it; writes elsewhere do not), its expiry has not passed and its use need
 * not be recorded yet.
 */
export function makeAuthenticator(ctx: AppContext): Authenticator {
  const known = snapshotCache<ResolvedCredential | null>(ctx.database, { scope: "auth" });
  const usable = (c: ResolvedCredential | null) => {
    if (!c) return true;
    const now = Date.now();
    return (!c.expiresAt || c.expiresAt.getTime() > now) && c.recordUseBy.getTime() > now;
  };
  // a copy: whoever handles the request may add to its principal
  const principalOf = (c: ResolvedCredential | null) => (c ? { ...c.principal } : null);
  const looked = new WeakSet<Request>();
  return async (request) => {
    // The first look at a request may use a snapshot read begun since it arrived; a later look (a live stream
    // checking that its session still holds) needs one begun now.
    const since = looked.has(request) ? undefined : getRequestMeta(request)?.start;
    looked.add(request);
    const bearer = bearerToken(request);
    if (bearer !== null || request.headers.has("authorization")) {
      if (!bearer) return null;
      return principalOf(await known.get(`k:${sha256Hex(bearer)}`, () => lookupApiKey(ctx.db, bearer), usable, since));
    }
    const token = readCookie(request, SESSION_COOKIE);
    if (!token) return null;
    return principalOf(await known.get(`s:${sha256Hex(token)}`, () => lookupSession(ctx.db, token), usable, since));
  };
}

/** The client's address (X-Forwarded-For only behind a trusted proxy). */
export const clientIp = (ctx: AppContext, request: Request) => clientAddress(request, ctx.config.trustProxy);

/** This site's origin as users reach it: the configured public URL, else what the request says. */
export function siteOrigin(ctx: AppContext, request: Request): string {
  const configured = ctx.settings.get("instance.publicUrl") || ctx.config.publicUrl;
  if (configured) return new URL(configured).origin;
  const url = new URL(request.url);
  if (ctx.config.trustProxy) {
    const proto = request.headers.get("x-forwarded-proto");
    const host = request.headers.get("x-forwarded-host");
    if (proto && host) return `${proto}://${host}`;
  }
  return url.origin;
}

const ORIGIN_PROBE = "http://next.invalid";
// Browsers drop tabs and newlines from URLs and read a backslash as "/", so "/\t/evil.example" leaves the site.
const unsafeChar = (s: string) => {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f || c === 0x5c) return true; // controls, space, DEL, backslash
  }
  return false;
};

/**
 * A same-site path to go to after sign-in, or "/" when `next` could lead elsewhere: it must start with a single
 * "/", hold no whitespace, control characters or backslashes, not even percent-encoded (some hop may decode
 * them), and resolve to this origin.
 */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || next.length > 500 || !next.startsWith("/")) return "/";
  let form = next;
  for (let round = 0; ; round++) {
    if (unsafeChar(form) || form.startsWith("//")) return "/";
    let decoded: string;
    try {
      decoded = decodeURIComponent(form);
    } catch {
      return "/";
    }
    if (decoded === form) break;
    if (round === 3) return "/"; // encoded over and over: no link of ours looks like that
    form = decoded;
  }
  try {
    if (new URL(next, ORIGIN_PROBE).origin !== ORIGIN_PROBE) return "/";
  } catch {
    return "/";
  }
  return next;
}
