/** Security headers for every response. HSTS only when the request came over TLS. */
export function securityHeaders(headers: Headers, secure: boolean) {
  headers.set(
    "content-security-policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
  );
  headers.set("x-content-type-options", "nosniff");
  headers.set("x-frame-options", "DENY");
  headers.set("referrer-policy", "same-origin");
  headers.set("cross-origin-opener-policy", "same-origin");
  headers.set("permissions-policy", "camera=(), microphone=(), geolocation=()");
  if (secure) headers.set("strict-transport-security", "max-age=31536000; includeSubDomains");
}

/** Whether the request reached us over TLS (directly, or through a proxy we were told to trust). */
export function isSecure(request: Request, trustProxy: boolean) {
  if (request.url.startsWith("https:")) return true; // Request URLs are absolute, their scheme lower-case
  return trustProxy && request.headers.get("x-forwarded-proto") === "https";
}

/** Strict CORS: only listed origins get CORS headers; everyone else is same-origin only. */
export function corsHeaders(request: Request, headers: Headers, allowed: string[]) {
  const origin = request.headers.get("origin");
  if (!origin || !allowed.includes(origin)) return false;
  headers.set("access-control-allow-origin", origin);
  headers.set("vary", "Origin");
  headers.set("access-control-allow-credentials", "true");
  headers.set("access-control-allow-methods", "GET, POST, PATCH, PUT, DELETE");
  headers.set("access-control-allow-headers", "content-type, authorization, x-csrf-token, x-request-id");
  headers.set("access-control-max-age", "600");
  return true;
}
