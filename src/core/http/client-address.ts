// The address a request came from. `server.requestIP` exists only on the listening server, not in `app.handle`,
// so the server writes the socket's peer into an internal header that the app reads.

/** Internal header carrying the socket's peer address; set by the server, never trusted from the client. */
export const PEER_ADDRESS_HEADER = "x-devsponsor-peer";

/** Replaces any client-sent copy of the peer header with the socket's address (the server calls this first). */
export function withPeerAddress(request: Request, address: string | null | undefined): Request {
  // A client could send the header itself to pick the address its sign-in attempts are counted under.
  request.headers.delete(PEER_ADDRESS_HEADER);
  if (address) request.headers.set(PEER_ADDRESS_HEADER, address);
  return request;
}

/**
 * The client's address: behind a trusted proxy the last X-Forwarded-For hop (the one our proxy appended; hops to
 * its left are whatever the client wrote), else the socket's peer, else "local" (in-process requests).
 */
export function clientAddress(request: Request, trustProxy: boolean): string {
  if (trustProxy) {
    const hops = (request.headers.get("x-forwarded-for") ?? "")
      .split(",")
      .map((h) => h.trim())
      .filter(Boolean);
    const last = hops.at(-1);
    if (last) return last.slice(0, 64);
  }
  return request.headers.get(PEER_ADDRESS_HEADER)?.slice(0, 64) || "local";
}
