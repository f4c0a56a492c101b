import { describe, expect, test } from "bun:test";
import { checkHost, checkRepoUrl, forbiddenRange, gitTarget, type HostResolver, inRange, parseIp } from "./ssrf";

/** A resolver over a fixed table: no outside DNS in tests. */
const table =
  (names: Record<string, string[]>): HostResolver =>
  async (host) => {
    const hit = names[host];
    if (!hit) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
    return hit;
  };

const resolve = table({
  "git.example.com": ["93.184.216.34"],
  "both.example.com": ["93.184.216.34", "10.0.0.5"],
  "rebind.example.com": ["169.254.169.254"],
  "v6.example.com": ["2606:4700::1111"],
  "mapped.example.com": ["::ffff:127.0.0.1"],
  "git.lan": ["192.168.1.20"],
});

describe("addresses", () => {
  test("every IPv4 spelling inet_aton takes is parsed", () => {
    for (const form of ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "127.1", "0x7f.0.0.1"]) {
      expect([...(parseIp(form) ?? [])]).toEqual([127, 0, 0, 1]);
    }
    expect(parseIp("256.0.0.1")).toBeNull();
    expect(parseIp("1.2.3.4.5")).toBeNull();
    expect(parseIp("git.example.com")).toBeNull();
  });

  const refused: [string, string][] = [
    ["127.0.0.1", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["10.1.2.3", "private"],
    ["172.31.255.1", "private"],
    ["192.168.0.1", "private"],
    ["100.100.0.1", "shared (CGNAT)"],
    ["169.254.169.254", "metadata"],
    ["169.254.10.1", "link-local"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fd00:ec2::254", "metadata"],
    ["fc00::1", "unique-local (private)"],
    ["fe80::1%eth0", "link-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["[::ffff:a9fe:a9fe]", "metadata"],
    ["::ffff:10.0.0.1", "private"],
    ["64:ff9b::a9fe:a9fe", "metadata"],
    ["2002:7f00:1::", "loopback"],
  ];
  for (const [ip, why] of refused) test(`${ip} is ${why}`, () => expect(forbiddenRange(ip)).toBe(why));

  for (const ip of ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "172.32.0.1"]) {
    test(`${ip} is public`, () => expect(forbiddenRange(ip)).toBeNull());
  }

  test("ranges match IPv4, IPv6 and IPv4-mapped forms", () => {
    expect(inRange("10.1.2.3", "10.1.0.0/16")).toBe(true);
    expect(inRange("10.2.0.1", "10.1.0.0/16")).toBe(false);
    expect(inRange("::ffff:10.1.0.9", "10.1.0.0/16")).toBe(true);
    expect(inRange("fd12::1", "fd00::/8")).toBe(true);
    expect(inRange("192.168.1.20", "192.168.1.20")).toBe(true);
  });
});

describe("hosts", () => {
  test("a name is refused when any of its addresses is not public", async () => {
    expect(await checkHost("git.example.com", { resolve })).toEqual({ ok: true, addresses: ["93.184.216.34"] });
    expect(await checkHost("both.example.com", { resolve })).toMatchObject({ ok: false });
    expect(await checkHost("rebind.example.com", { resolve })).toMatchObject({ ok: false });
    expect(await checkHost("mapped.example.com", { resolve })).toMatchObject({ ok: false });
    expect(await checkHost("localhost", { resolve })).toMatchObject({ ok: false });
    expect(await checkHost("LOCALHOST.", { resolve })).toMatchObject({ ok: false });
    expect(await checkHost("api.localhost", { resolve })).toMatchObject({ ok: false });
    expect(await checkHost("0x7f.1", { resolve })).toMatchObject({ ok: false });
  });

  test("a name that does not resolve is refused before a fetch, passed when only stored", async () => {
    expect(await checkHost("nowhere.invalid", { resolve })).toMatchObject({ ok: false });
    expect(await checkHost("nowhere.invalid", { resolve, unresolved: "pass" })).toMatchObject({ ok: true });
  });

  test("the admin allows names, wildcards and networks", async () => {
    expect(await checkHost("git.lan", { resolve, allow: ["git.lan"] })).toMatchObject({ ok: true });
    expect(await checkHost("git.lan", { resolve, allow: ["*.lan"] })).toMatchObject({ ok: true });
    expect(await checkHost("git.lan", { resolve, allow: ["192.168.1.0/24"] })).toMatchObject({ ok: true });
    expect(await checkHost("git.lan", { resolve, allow: ["192.168.2.0/24", "other.lan"] })).toMatchObject({
      ok: false,
    });
    // a network entry allows addresses in it, not the names of everything else
    expect(await checkHost("both.example.com", { resolve, allow: ["10.0.0.0/8"] })).toMatchObject({ ok: true });
  });

  test("the system resolver is used by default (localhost names resolve locally)", async () => {
    expect(await checkHost("127.0.0.1")).toMatchObject({ ok: false });
    expect(await checkHost("2130706433")).toMatchObject({ ok: false });
  });
});

describe("repository URLs", () => {
  test("git URL forms name their host", () => {
    expect(gitTarget("https://git.example.com/o/r.git")).toEqual({
      kind: "remote",
      scheme: "https",
      host: "git.example.com",
      port: null,
    });
    expect(gitTarget("git@127.0.0.1:o/r.git")).toMatchObject({ kind: "remote", host: "127.0.0.1" });
    expect(gitTarget("ssh://git@[::1]:2222/r")).toMatchObject({ host: "[::1]", port: 2222 });
    expect(gitTarget("file:///srv/git/r")).toEqual({ kind: "local", path: "/srv/git/r" });
    expect(gitTarget("ext::sh -c id")).toBeNull();
    expect(gitTarget("fd::3")).toBeNull();
    expect(gitTarget("ftp://example.com/r")).toBeNull();
  });

  const refused = [
    "/srv/git/repo",
    "file:///etc",
    "ext::sh -c touch% /tmp/pwned",
    "https://localhost/o/r.git",
    "http://127.0.0.1:8080/o/r.git",
    "http://2130706433/o/r.git",
    "http://0x7f.1/o/r.git",
    "http://0177.0.0.1/o/r.git",
    "ssh://git@0x7f.1/o/r.git",
    "git://[::1]/r.git",
    "https://[::ffff:127.0.0.1]/o/r",
    "https://169.254.169.254/latest/meta-data",
    "https://[fd00:ec2::254]/r",
    "git@10.0.0.8:o/r.git",
    "https://rebind.example.com/o/r.git",
    "https://nowhere.invalid/o/r.git",
  ];
  for (const url of refused) {
    test(`refuses ${url}`, async () => {
      await expect(checkRepoUrl(url, { resolve })).rejects.toMatchObject({ code: "REPO_URL_FORBIDDEN", status: 400 });
    });
  }

  test("a public https URL passes with git kept off redirects and pinned to the checked address", async () => {
    expect(await checkRepoUrl("https://git.example.com/o/r.git", { resolve })).toEqual({
      url: "https://git.example.com/o/r.git",
      gitConfig: [
        ["http.followRedirects", "false"],
        ["http.curloptResolve", "git.example.com:443:93.184.216.34"],
      ],
    });
  });

  test("ssh, git and scp-like URLs are pinned to the checked address too (git itself rewrites them)", async () => {
    const cases: [string, string][] = [
      ["git://git.example.com/o/r.git", "git://93.184.216.34/o/r.git"],
      ["ssh://git@Git.Example.com:2222/o/r.git", "ssh://git@93.184.216.34:2222/o/r.git"],
      ["git@git.example.com:o/r.git", "git@93.184.216.34:o/r.git"],
    ];
    for (const [url, expected] of cases) {
      const { gitConfig } = await checkRepoUrl(url, { resolve });
      const args = gitConfig.flatMap(([k, v]) => ["-c", `${k}=${v}`]);
      // `ls-remote --get-url` prints the URL after git's own insteadOf rewriting, without contacting anything.
      const out = Bun.spawnSync(["git", ...args, "ls-remote", "--get-url", url], { cwd: "/" });
      expect(out.stdout.toString().trim()).toBe(expected);
      if (!url.startsWith("git://")) {
        expect(gitConfig).toContainEqual(["core.sshCommand", "ssh -o HostKeyAlias=git.example.com"]);
      }
    }
    const v6 = await checkRepoUrl("git@v6.example.com:o/r.git", { resolve });
    const args = v6.gitConfig.flatMap(([k, v]) => ["-c", `${k}=${v}`]);
    const out = Bun.spawnSync(["git", ...args, "ls-remote", "--get-url", "git@v6.example.com:o/r.git"], { cwd: "/" });
    expect(out.stdout.toString().trim()).toMatch(/^git@\[[0-9a-f:]+\]:o\/r\.git$/);
  });

  test("allowed path prefixes and hosts pass", async () => {
    await expect(checkRepoUrl("/srv/git/repo", { resolve, allow: ["/srv/git"] })).resolves.toMatchObject({});
    await expect(checkRepoUrl("/srv/gitx/repo", { resolve, allow: ["/srv/git"] })).rejects.toThrow();
    await expect(checkRepoUrl("/srv/git/../../etc", { resolve, allow: ["/srv/git"] })).rejects.toThrow();
    await expect(checkRepoUrl("http://git.lan/r.git", { resolve, allow: ["git.lan"] })).resolves.toMatchObject({});
  });
});
