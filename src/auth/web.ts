// Small helpers shared by the identity pages: redirects with cookies, form fields, the layout's viewer.
import type { Principal } from "../core/context";

/** A 303 redirect (after a form post), with optional Set-Cookie values. htmx requests get HX-Redirect. */
export function seeOther(request: Request, location: string, cookies: string[] = []): Response {
  const headers = new Headers();
  for (const c of cookies) headers.append("set-cookie", c);
  if (request.headers.get("hx-request") === "true") {
    headers.set("hx-redirect", location);
    return new Response(null, { status: 204, headers });
  }
  headers.set("location", location);
  return new Response(null, { status: 303, headers });
}

/** A string field of a parsed form or JSON body ("" when missing). */
export function field(body: unknown, name: string): string {
  const v = (body as Record<string, unknown> | null | undefined)?.[name];
  if (Array.isArray(v)) return typeof v[0] === "string" ? v[0] : "";
  return typeof v === "string" ? v : "";
}

/** All values of a repeated form field (checkbox groups). */
export function fields(body: unknown, name: string): string[] {
  const v = (body as Record<string, unknown> | null | undefined)?.[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return typeof v === "string" ? [v] : [];
}

/** The layout's view of the caller. */
export const viewerOf = (p: Principal | null) => (p ? { name: p.name, isAdmin: p.isAdmin } : null);
