import { ErrorPage } from "../../../ui/error-page";
import type { AppError } from "../errors";

/** Whether the caller wants HTML (a browser or htmx) rather than the JSON envelope. */
export function wantsHtml(request: Request) {
  const path = new URL(request.url).pathname;
  if (path.startsWith("/api/") || path === "/health") return false;
  if (request.headers.get("hx-request") === "true") return true;
  return (request.headers.get("accept") ?? "").includes("text/html");
}

/** Renders an AppError: the JSON envelope for API callers, an HTML page or fragment for browsers and htmx. */
export async function errorResponse(request: Request, error: AppError, headers: Record<string, string> = {}) {
  const h = { ...headers };
  if (error.code === "RATE_LIMITED") h["retry-after"] = String(error.details.retryAfterSeconds ?? 1);
  if (wantsHtml(request)) {
    const fragment = request.headers.get("hx-request") === "true";
    return new Response(await ErrorPage({ error, fragment }), {
      status: error.status,
      headers: { ...h, "content-type": "text/html; charset=utf-8" },
    });
  }
  return new Response(JSON.stringify(error.toJSON()), {
    status: error.status,
    headers: { ...h, "content-type": "application/json; charset=utf-8" },
  });
}
