// The client address through a real listening server: the peer header cannot be forged, X-Forwarded-For only
// counts behind a trusted proxy, and then only its last hop.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { clientAddress, PEER_ADDRESS_HEADER, withPeerAddress } from "./client-address";

let server: ReturnType<typeof Bun.serve>;
let base: string;
beforeAll(() => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    // As src/server.ts does it.
    fetch: (request, srv) => {
      const r = withPeerAddress(request, srv.requestIP(request)?.address);
      const trust = new URL(r.url).searchParams.get("trust") === "1";
      return new Response(clientAddress(r, trust));
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(() => server.stop(true));

test.each([
  ["no headers", "", {}, "127.0.0.1"],
  ["a forged peer header is replaced", "", { [PEER_ADDRESS_HEADER]: "203.0.113.1" }, "127.0.0.1"],
  ["X-Forwarded-For is ignored without trust", "", { "x-forwarded-for": "203.0.113.2" }, "127.0.0.1"],
  ["behind a trusted proxy: its hop", "?trust=1", { "x-forwarded-for": "203.0.113.3" }, "203.0.113.3"],
  [
    "behind a trusted proxy: the last hop",
    "?trust=1",
    { "x-forwarded-for": "198.51.100.9, 203.0.113.4" },
    "203.0.113.4",
  ],
  ["trusted, no header: the peer", "?trust=1", {}, "127.0.0.1"],
] as [string, string, Record<string, string>, string][])("%s", async (_name, query, headers, want) => {
  const res = await fetch(`${base}/${query}`, { headers });
  expect(await res.text()).toBe(want);
});

test("in-process requests (no server) are 'local'", () => {
  expect(clientAddress(new Request("http://localhost/"), false)).toBe("local");
});
