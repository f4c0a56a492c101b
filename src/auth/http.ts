// HTTP pieces of identity: cookies, the authenticator installed on the context, client address and origin.
import type { AppContext, Authenticator } from "../core/context";
import { isSecure } from "../core/http/security";
import { resolveApiKey, resolveSession } from "./service";

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
 * subject to CSRF), else the session cookie.
 */
export function makeAuthenticator(ctx: AppContext): Authenticator {
  return async (request) => {
    const bearer = bearerToken(request);
    if (bearer !== null || request.headers.has("authorization")) return bearer ? resolveApiKey(ctx.db, bearer) : null;
    const token = readCookie(request, SESSION_COOKIE);
    return token ? resolveSession(ctx.db, token) : null;
  };
}

/** The client's address: the first X-Forwarded-For hop behind a trusted proxy, else the socket's peer. */
export function clientIp(
  ctx: AppContext,
  request: Request,
  server?: { requestIP(r: Request): { address: string } | null } | null,
) {
  if (ctx.config.trustProxy) {
    const fwd = request.headers.get("x-forwarded-for");
    if (fwd) return fwd.split(",")[0].trim();
  }
  return server?.requestIP(request)?.address ?? "local";
}

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

/** A same-site path to go to after sign-in, or "/" when `next` points elsewhere. */
export function safeNext(next: unknown): string {
  if (typeof next !== "string" || !/^\/(?![/\\])/.test(next) || next.length > 500) return "/";
  return next;
}
