// Oversized request heads (a huge query string or headers) answered with the error envelope. Bun refuses a head
// beyond its own limit (16 KiB by default; the executable is built with 64 KiB) with a bare 431 before the app
// sees it, so the app refuses from a lower limit first, where it still can answer properly.
import { AppError } from "../errors";
import { errorResponse } from "./errors";

/** The largest request line plus headers the app accepts; below every limit Bun may run with. */
export const MAX_HEAD_BYTES = 12 * 1024;

/** The request line's and headers' size, as counted on the wire (without the separators' few bytes each). */
export function headBytes(request: Request): number {
  // The path and query as sent: the URL after its origin (read from the string; parsing a URL on every request
  // showed in profiles).
  const url = request.url;
  const start = url.indexOf("/", url.indexOf("://") + 3);
  const hash = url.indexOf("#");
  const target = start < 0 ? 1 : (hash < 0 ? url.length : hash) - start;
  let n = request.method.length + target + 10;
  request.headers.forEach((value, name) => {
    n += name.length + value.length + 4;
  });
  return n;
}

/** A 431 in the envelope when the head is too large, else null (the request goes on to the app). */
export function refuseLargeHead(request: Request): Promise<Response> | null {
  if (headBytes(request) <= MAX_HEAD_BYTES) return null;
  const error = new AppError(
    "HEADERS_TOO_LARGE",
    `The request's address and headers are too large (at most ${MAX_HEAD_BYTES / 1024} KiB).`,
    431,
  );
  return errorResponse(request, error);
}
