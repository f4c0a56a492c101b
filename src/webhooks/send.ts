// One HTTP POST to a webhook endpoint, to the addresses the SSRF check just approved: the connection's name lookup
// is pinned to them, so a name that changes between the check and the request cannot lead elsewhere. Redirects are
// never followed (a 3xx is a failed attempt).
import type { LookupAddress } from "node:dns";
import http from "node:http";
import https from "node:https";

/** What one attempt got: a status (null when no response came), the start of the body, or the error. */
export interface SendResult {
  statusCode: number | null;
  durationMs: number;
  responseBody: string | null;
  error: string | null;
}

/** The longest a request may take, connection to last byte. */
export const REQUEST_TIMEOUT_MS = 10_000;
const BODY_LIMIT = 2000;

/**
 * Posts `body` to `url` with `headers`. `addresses` (from the SSRF check) pin the name's resolution; empty means the
 * name was allowed as such by the admin and resolves normally.
 */
export function send(
  url: string,
  body: string,
  headers: Record<string, string>,
  addresses: string[],
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<SendResult> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const target = new URL(url);
  const client = target.protocol === "https:" ? https : http;
  const pinned = addresses.map((a) => ({ address: a, family: a.includes(":") ? 6 : 4 }));
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: Omit<SendResult, "durationMs">) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ...r, durationMs: elapsed() });
    };
    const req = client.request(
      target,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
        ...(pinned.length
          ? {
              lookup: (
                _host: string,
                opts: { all?: boolean },
                cb: (err: Error | null, a: string | LookupAddress[], f?: number) => void,
              ) => (opts?.all ? cb(null, pinned) : cb(null, pinned[0]!.address, pinned[0]!.family)),
            }
          : {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < BODY_LIMIT * 4) chunks.push(c);
          size += c.length;
        });
        res.on("end", () =>
          finish({
            statusCode: res.statusCode ?? null,
            responseBody: Buffer.concat(chunks).toString("utf8").slice(0, BODY_LIMIT),
            error: null,
          }),
        );
        res.on("error", (e) => finish({ statusCode: res.statusCode ?? null, responseBody: null, error: e.message }));
      },
    );
    const timer = setTimeout(() => {
      finish({ statusCode: null, responseBody: null, error: `no answer within ${timeoutMs / 1000} s` });
      req.destroy();
    }, timeoutMs);
    req.on("error", (e) => finish({ statusCode: null, responseBody: null, error: e.message }));
    req.end(body);
  });
}
