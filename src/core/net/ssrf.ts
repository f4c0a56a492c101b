// Outgoing fetches to addresses a web user chose (repository URLs; later outgoing webhooks) must not reach the
// appliance itself, its private network or a cloud metadata service. Names are resolved and every address is
// checked; an admin may allow hosts, networks or local path prefixes explicitly.
import { lookup } from "node:dns/promises";
import { isAbsolute } from "node:path";
import { AppError } from "../errors";

/** Resolves a host name to its addresses (tests inject one; the default asks the system resolver). */
export type HostResolver = (host: string) => Promise<string[]>;

/** The system resolver, as the fetching process will see the name. */
export const systemResolver: HostResolver = async (host) =>
  (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
type Ip = Uint8Array;

/**
 * Parses an IP literal. IPv4 takes every form `inet_aton` takes (`2130706433`, `0x7f.1`, `0177.0.0.1`), because
 * resolvers and git hand such names to the kernel as addresses; IPv6 may carry brackets and a zone id.
 */
export function parseIp(text: string): Ip | null {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  return s.includes(":") ? parseIpv6(s) : parseIpv4(s);
}

function parseIpv4(s: string): Ip | null {
  const parts = s.split(".");
  if (parts.length > 4 || parts.some((p) => p === "")) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const m = /^(0x[0-9a-f]*|0[0-7]*|[1-9][0-9]*)$/i.exec(p);
    if (!m) return null;
    const n = /^0x/i.test(p)
      ? p.length === 2
        ? 0
        : Number.parseInt(p.slice(2), 16)
      : p.startsWith("0")
        ? Number.parseInt(p, 8) || 0
        : Number(p);
    nums.push(n);
  }
  const last = nums.pop()!;
  if (nums.some((n) => n > 255) || last >= 256 ** (4 - nums.length)) return null;
  const value = nums.reduce((acc, n, i) => acc + n * 256 ** (3 - i), 0) + last;
  return new Uint8Array([value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255]);
}

function parseIpv6(text: string): Ip | null {
  let s = text.split("%")[0]!.toLowerCase();
  const v4 = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = parseIpv4Strict(v4[1]!);
    if (!b) return null;
    s = `${s.slice(0, -v4[1]!.length)}${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const group = (h: string) => (h === "" ? [] : h.split(":"));
  const head = group(halves[0]!);
  const rest = halves.length === 2 ? group(halves[1]!) : [];
  if ([...head, ...rest].some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return null;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return null;
  const words = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...rest];
  const out = new Uint8Array(16);
  words.forEach((g, i) => {
    const w = Number.parseInt(g, 16);
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 255;
  });
  return out;
}

function parseIpv4Strict(s: string): Ip | null {
  const parts = s.split(".");
  if (parts.length !== 4 || parts.some((p) => !/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255)) return null;
  return new Uint8Array(parts.map(Number));
}

/** Whether the first `bits` bits of `ip` equal those of `net` (same family). */
function inPrefix(ip: Ip, net: Ip, bits: number): boolean {
  if (ip.length !== net.length) return false;
  for (let i = 0; i < bits; i++) {
    const mask = 0x80 >> (i % 8);
    if ((ip[i >> 3]! & mask) !== (net[i >> 3]! & mask)) return false;
  }
  return true;
}

const cidr = (text: string): [Ip, number] => {
  const [addr, bits] = text.split("/");
  return [parseIp(addr!)!, Number(bits)];
};

// Every range that is not the public internet. Order matters only for the name shown.
const FORBIDDEN_V4: [string, [Ip, number]][] = (
  [
    ["unspecified", "0.0.0.0/8"],
    ["private", "10.0.0.0/8"],
    ["shared (CGNAT)", "100.64.0.0/10"],
    ["loopback", "127.0.0.0/8"],
    ["metadata", "169.254.169.254/32"],
    ["link-local", "169.254.0.0/16"],
    ["private", "172.16.0.0/12"],
    ["reserved", "192.0.0.0/24"],
    ["documentation", "192.0.2.0/24"],
    ["private", "192.168.0.0/16"],
    ["benchmarking", "198.18.0.0/15"],
    ["documentation", "198.51.100.0/24"],
    ["documentation", "203.0.113.0/24"],
    ["multicast", "224.0.0.0/4"],
    ["reserved", "240.0.0.0/4"],
  ] as const
).map(([name, c]) => [name, cidr(c)]);

const FORBIDDEN_V6: [string, [Ip, number]][] = (
  [
    ["unspecified", "::/128"],
    ["loopback", "::1/128"],
    ["metadata", "fd00:ec2::254/128"],
    ["discard", "100::/64"],
    ["documentation", "2001:db8::/32"],
    ["unique-local (private)", "fc00::/7"],
    ["link-local", "fe80::/10"],
    ["site-local", "fec0::/10"],
    ["multicast", "ff00::/8"],
  ] as const
).map(([name, c]) => [name, cidr(c)]);

// IPv6 forms that carry an IPv4 address the kernel or a gateway will reach: mapped, compatible, NAT64.
const EMBEDS_V4: [Ip, number][] = ["::ffff:0:0/96", "::/96", "64:ff9b::/96"].map(cidr);

/** Why an address must not be fetched (`"loopback"`, `"private"`, …), or null for a public address. */
export function forbiddenRange(address: string | Ip): string | null {
  const ip = typeof address === "string" ? parseIp(address) : address;
  if (!ip) return "not an address";
  if (ip.length === 16) {
    if (inPrefix(ip, FORBIDDEN_V6[1]![1][0], 128)) return "loopback"; // ::1 is also IPv4-compatible 0.0.0.1
    if (EMBEDS_V4.some(([net, bits]) => inPrefix(ip, net, bits))) {
      return forbiddenRange(ip.slice(12));
    }
    if (inPrefix(ip, parseIp("2002::")!, 16)) return forbiddenRange(ip.slice(2, 6)); // 6to4 embeds its IPv4
    return FORBIDDEN_V6.find(([, [net, bits]]) => inPrefix(ip, net, bits))?.[0] ?? null;
  }
  return FORBIDDEN_V4.find(([, [net, bits]]) => inPrefix(ip, net, bits))?.[0] ?? null;
}

/** Whether `address` lies in `range` (`10.1.0.0/16`, `fd00::/8`, or one address). IPv4-mapped forms match IPv4. */
export function inRange(address: string, range: string): boolean {
  let ip = parseIp(address);
  const [addr, bitsText] = range.split("/");
  const net = parseIp(addr ?? "");
  if (!ip || !net) return false;
  if (ip.length === 16 && net.length === 4 && inPrefix(ip, EMBEDS_V4[0]![0], 96)) ip = ip.slice(12);
  const bits = bitsText === undefined ? net.length * 8 : Number(bitsText);
  return Number.isInteger(bits) && bits >= 0 && bits <= net.length * 8 && inPrefix(ip, net, bits);
}

/** An admin's allow-list entry: a host name (`git.lan`, `*.corp.example`), a network (CIDR or IP), or a path prefix. */
const isPathEntry = (e: string) => e.startsWith("/");
const isRangeEntry = (e: string) => !!parseIp(e.split("/")[0] ?? "");

function hostAllowed(host: string, allow: readonly string[]): boolean {
  return allow.some((raw) => {
    const e = raw.trim().toLowerCase().replace(/\.$/, "");
    if (!e || isPathEntry(e) || isRangeEntry(e)) return false;
    if (e.startsWith("*.")) return host.endsWith(e.slice(1));
    return host === e;
  });
}

function pathAllowed(path: string, allow: readonly string[]): boolean {
  return allow.some((e) => {
    const prefix = e.trim().replace(/\/+$/, "");
    return isPathEntry(e.trim()) && (path === prefix || path.startsWith(`${prefix}/`) || prefix === "");
  });
}

/** What `checkHost` needs: the admin's allow-list, and a resolver (the system's by default). */
export interface HostPolicy {
  allow?: readonly string[];
  resolve?: HostResolver;
  /** A name that does not resolve now: refused (the default, before a fetch) or passed (when only storing it). */
  unresolved?: "refuse" | "pass";
}

/** The outcome of a check: the addresses the name resolved to, or why it is refused. */
export type HostVerdict = { ok: true; addresses: string[] } | { ok: false; reason: string };

/**
 * Whether `host` (a name or an IP literal in any form) may be fetched: every address it resolves to must be public
 * or in an allowed network, unless the name itself is allowed.
 */
export async function checkHost(rawHost: string, policy: HostPolicy = {}): Promise<HostVerdict> {
  const allow = policy.allow ?? [];
  const host = rawHost
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  if (!host) return { ok: false, reason: "it has no host" };
  if (hostAllowed(host, allow)) return { ok: true, addresses: [] };
  const literal = parseIp(host);
  let addresses: string[];
  if (literal) addresses = [host];
  else if (host === "localhost" || host.endsWith(".localhost")) addresses = ["127.0.0.1"];
  else {
    try {
      addresses = await (policy.resolve ?? systemResolver)(host);
    } catch {
      addresses = [];
    }
    if (addresses.length === 0) {
      return policy.unresolved === "pass"
        ? { ok: true, addresses: [] }
        : { ok: false, reason: `${host} does not resolve` };
    }
  }
  const ranges = allow.map((e) => e.trim()).filter(isRangeEntry);
  for (const a of addresses) {
    const why = forbiddenRange(a);
    if (why && !ranges.some((r) => inRange(a, r))) return { ok: false, reason: `${host} is a ${why} address` };
  }
  return { ok: true, addresses };
}

/** Where a git URL points: a local path, or a host over a network transport. */
export type GitTarget =
  | { kind: "local"; path: string }
  | { kind: "remote"; scheme: string; host: string; port: number | null };

const NETWORK_SCHEMES = new Set(["https", "http", "ssh", "git", "git+ssh", "ssh+git"]);

/** Splits a git URL (URL, scp-like `user@host:path`, or a path) into its target; null for other transports. */
export function gitTarget(url: string): GitTarget | null {
  const s = url.trim();
  if (/^[a-z][a-z0-9+.-]*::/i.test(s)) return null; // ext::, fd:: and other remote helpers
  if (isAbsolute(s)) return { kind: "local", path: s };
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s)?.[1]?.toLowerCase();
  if (scheme === "file") {
    try {
      return { kind: "local", path: decodeURIComponent(new URL(s).pathname) };
    } catch {
      return null;
    }
  }
  if (scheme) {
    if (!NETWORK_SCHEMES.has(scheme)) return null;
    try {
      const u = new URL(s);
      return { kind: "remote", scheme, host: u.hostname, port: u.port ? Number(u.port) : null };
    } catch {
      return null;
    }
  }
  // scp-like: git reads `[user@]host:path` as ssh when no slash comes before the first colon
  const scp = /^(?:[^@/]+@)?(\[[^\]]+\]|[^:/]+):/.exec(s);
  return scp ? { kind: "remote", scheme: "ssh", host: scp[1]!, port: null } : null;
}

/** A repository URL that passed the check, with git settings that keep git on the checked addresses. */
export interface CheckedRepoUrl {
  url: string;
  /** `-c`-style git configuration: no redirects, and for http(s) the name pinned to the addresses checked. */
  gitConfig: [string, string][];
}

/** The error of a refused repository URL (the reason is safe to show: it names only what the user typed). */
export const repoUrlForbidden = (reason: string) =>
  new AppError(
    "REPO_URL_FORBIDDEN",
    `This repository address is not allowed: ${reason}. An admin can allow it in Settings (security.allowedRepoHosts).`,
    400,
    { fields: { repoUrl: reason } },
  );

/**
 * Checks a repository URL a web user gave: network transports only, to public addresses (or ones the admin
 * allowed); local paths only under an allowed path prefix. Throws REPO_URL_FORBIDDEN.
 */
export async function checkRepoUrl(url: string, policy: HostPolicy = {}): Promise<CheckedRepoUrl> {
  const target = gitTarget(url);
  if (!target) throw repoUrlForbidden("its transport is not allowed");
  const gitConfig: [string, string][] = [["http.followRedirects", "false"]];
  if (target.kind === "local") {
    if (target.path.split("/").includes("..") || !pathAllowed(target.path, policy.allow ?? [])) {
      throw repoUrlForbidden("it is a path on this server");
    }
    return { url, gitConfig };
  }
  const verdict = await checkHost(target.host, policy);
  if (!verdict.ok) throw repoUrlForbidden(verdict.reason);
  if ((target.scheme === "https" || target.scheme === "http") && verdict.addresses.length > 0) {
    // Why: git resolves the name again; pinning it stops a name that changes between check and clone.
    const port = target.port ?? (target.scheme === "https" ? 443 : 80);
    const addrs = verdict.addresses.map((a) => (a.includes(":") ? `[${a}]` : a)).join(",");
    gitConfig.push(["http.curloptResolve", `${target.host.replace(/^\[|\]$/g, "")}:${port}:${addrs}`]);
  } else if (verdict.addresses.length > 0) {
    gitConfig.push(...pinnedTransport(url, target, verdict.addresses[0]!));
  }
  return { url, gitConfig };
}

/**
 * ssh:// and git:// (and scp-like) URLs have no resolve option: git's `url.<pinned>.insteadOf` rewrites the URL to
 * the address that was checked, so a name that changes between check and clone cannot lead elsewhere; ssh keeps
 * checking the host key under the name the user typed (HostKeyAlias).
 */
function pinnedTransport(url: string, target: { scheme: string; host: string }, address: string): [string, string][] {
  const host = target.host.replace(/^\[|\]$/g, "").toLowerCase();
  if (host === address) return [];
  const literal = address.includes(":") ? `[${address}]` : address;
  const s = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(s);
  let prefix: string;
  let pinned: string;
  if (scheme) {
    const u = new URL(s);
    const auth = u.username ? `${u.username}@` : "";
    const port = u.port ? `:${u.port}` : "";
    prefix = `${scheme[1]}://${auth}${u.host}/`;
    pinned = `${scheme[1]}://${auth}${literal}${port}/`;
    // new URL() lower-cases the host; the prefix must match what the user typed
    const typed = s.slice(0, s.indexOf("/", scheme[0].length) + 1);
    if (typed.toLowerCase() === prefix.toLowerCase()) prefix = typed;
  } else {
    const m = /^((?:[^@/]+@)?)(\[[^\]]+\]|[^:/]+):/.exec(s)!;
    prefix = m[0];
    pinned = `${m[1]}${literal}:`;
  }
  const config: [string, string][] = [[`url.${pinned}.insteadOf`, prefix]];
  if (target.scheme !== "git") {
    config.push(["core.sshCommand", `ssh -o HostKeyAlias=${host.replace(/[^A-Za-z0-9.:_-]/g, "")}`]);
  }
  return config;
}
