// Egress for dependency installs: sandboxes have no network interface besides loopback, so the only way out is
// a unix socket the appliance serves. Behind it an HTTPS (CONNECT) proxy admits only the hosts an admin allows.
// Inside the sandbox a small bridge listens on 127.0.0.1:3128, forwards to the socket, and runs the command with
// the usual proxy variables set, so npm, bun, pip, go and cargo all find it.
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Package registries allowed by default (an admin setting can change the list). */
export const DEFAULT_EGRESS_ALLOW = [
  "registry.npmjs.org",
  "pypi.org",
  "files.pythonhosted.org",
  "proxy.golang.org",
  "sum.golang.org",
  "index.crates.io",
  "static.crates.io",
];

/** Where the egress directory appears inside a sandbox. */
export const EGRESS_MOUNT = "/run/egress";

/** Port the in-sandbox bridge listens on (loopback only). */
export const BRIDGE_PORT = 3128;

/** One connection attempt seen by the proxy. */
export interface EgressEvent {
  host: string;
  port: number;
  allowed: boolean;
}

/** A running proxy: mount `dir` at EGRESS_MOUNT and wrap the command with `bridgeCommand`. */
export interface EgressProxy {
  dir: string;
  socketPath: string;
  events: EgressEvent[];
  close(): Promise<void>;
}

/** True when `host:port` matches an allow-list entry ("host", "*.suffix", or either with ":port"; port 443 by default). */
export function egressAllowed(allow: readonly string[], host: string, port: number): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  return allow.some((entry) => {
    const [pattern, p] = entry.toLowerCase().split(":") as [string, string | undefined];
    if ((p ? Number(p) : 443) !== port) return false;
    if (pattern.startsWith("*.")) return h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1;
    return h === pattern;
  });
}

/**
 * CA bundle the sandbox should trust for egress: DEVSPONSOR_EGRESS_CA_FILE, else the one this process was told
 * to trust (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE), for networks that inspect TLS. Public certificates only.
 */
export function egressCaFile(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return [env.DEVSPONSOR_EGRESS_CA_FILE, env.NODE_EXTRA_CA_CERTS, env.SSL_CERT_FILE].find((f) => f && existsSync(f));
}

/** Starts a CONNECT proxy on a fresh unix socket admitting only `allow`. */
export async function startEgressProxy(
  allow: readonly string[],
  parentDir = tmpdir(),
  caFile = egressCaFile(),
): Promise<EgressProxy> {
  mkdirSync(parentDir, { recursive: true });
  const dir = mkdtempSync(join(parentDir, "egress-"));
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "bridge.mjs"), BRIDGE_SOURCE, { mode: 0o644 });
  if (caFile) copyFileSync(caFile, join(dir, "ca.pem"));
  chmodSync(join(dir, "bridge.mjs"), 0o644);
  const socketPath = join(dir, "proxy.sock");
  const events: EgressEvent[] = [];
  const open = new Set<Socket>();

  const server = createServer((client) => {
    open.add(client);
    client.on("close", () => open.delete(client));
    client.on("error", () => client.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) {
        if (head.length > 8192) client.end("HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n");
        return;
      }
      client.off("data", onData);
      const requestLine = head.subarray(0, head.indexOf("\r\n") + 2).toString("latin1");
      const m = /^CONNECT ([^\s:]+|\[[^\]]+\]):(\d+) HTTP\/1\.[01]\r\n/i.exec(requestLine);
      if (!m) {
        // Plain HTTP is never forwarded (registries are HTTPS); the attempt is recorded.
        const plain = /^[A-Z]+ http:\/\/([^/:\s]+)(?::(\d+))?/i.exec(requestLine);
        if (plain) events.push({ host: plain[1]!, port: Number(plain[2] ?? 80), allowed: false });
        client.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const host = m[1]!;
      const port = Number(m[2]);
      const allowed = egressAllowed(allow, host, port);
      events.push({ host, port, allowed });
      if (!allowed) {
        client.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        return;
      }
      const upstream = connect(port, host);
      open.add(upstream);
      upstream.on("close", () => open.delete(upstream));
      upstream.once("connect", () => {
        client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        const rest = head.subarray(end + 4);
        if (rest.length) upstream.write(rest);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      upstream.on("error", () => {
        if (!client.destroyed) client.end("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
      });
      client.on("close", () => upstream.destroy());
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => resolve());
  });
  // The sandbox user is not the appliance's user.
  chmodSync(socketPath, 0o666);

  return {
    dir,
    socketPath,
    events,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Wraps a command so it runs behind the bridge (inside the sandbox). */
export function bridgeCommand(cmd: string[]): string[] {
  return ["bun", `${EGRESS_MOUNT}/bridge.mjs`, ...cmd];
}

// Runs inside the sandbox under bun: loopback listener → unix socket, then the wrapped command.
const BRIDGE_SOURCE = `import { createServer, connect } from "node:net";
import { existsSync } from "node:fs";
import { constants } from "node:os";
const sock = ${JSON.stringify(`${EGRESS_MOUNT}/proxy.sock`)};
const server = createServer((c) => {
  const u = connect(sock);
  c.pipe(u); u.pipe(c);
  c.on("error", () => u.destroy()); u.on("error", () => c.destroy());
  c.on("close", () => u.destroy()); u.on("close", () => c.destroy());
});
await new Promise((r) => server.listen(${BRIDGE_PORT}, "127.0.0.1", r));
const proxy = "http://127.0.0.1:${BRIDGE_PORT}";
const env = { ...process.env, HTTPS_PROXY: proxy, HTTP_PROXY: proxy, https_proxy: proxy, http_proxy: proxy,
  npm_config_proxy: proxy, npm_config_https_proxy: proxy, CARGO_HTTP_PROXY: proxy };
const ca = ${JSON.stringify(`${EGRESS_MOUNT}/ca.pem`)};
if (existsSync(ca)) Object.assign(env, { NODE_EXTRA_CA_CERTS: ca, SSL_CERT_FILE: ca, PIP_CERT: ca, REQUESTS_CA_BUNDLE: ca,
  GIT_SSL_CAINFO: ca, CARGO_HTTP_CAINFO: ca, npm_config_cafile: ca });
const child = Bun.spawn(process.argv.slice(2), { env, stdio: ["inherit", "inherit", "inherit"] });
const code = await child.exited;
server.close();
process.exit(child.signalCode ? 128 + (constants.signals[child.signalCode] ?? 1) : code);
`;
