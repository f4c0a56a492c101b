// The same suite against each backend: Docker (the engine is started and the images built if needed) and
// bubblewrap. Every limit and isolation rule is checked with a real command that tries to break it.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureSandboxImages } from "../../test/support/docker";
import { BwrapBackend } from "./bwrap";
import { DockerBackend } from "./docker";
import { egressAllowed, startEgressProxy } from "./egress";
import type { RunSpec, SandboxBackend } from "./types";

// Not under the per-run test dir (0700): the bubblewrap sandbox user must be able to reach its work dirs.
const root = mkdtempSync(join(tmpdir(), "devsponsor-sandbox-test-"));
chmodSync(root, 0o711);
let seq = 0;

async function workDir(backend: SandboxBackend): Promise<string> {
  const dir = join(root, `w${++seq}`);
  mkdirSync(dir);
  await backend.ownWorkDir(dir);
  return dir;
}

// Real containers: some cases take a few seconds (npm, fork bombs, memory limits).
setDefaultTimeout(60_000);
beforeAll(() => ensureSandboxImages(), 600_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const backends: [string, () => SandboxBackend][] = [
  ["docker", () => new DockerBackend()],
  ["bwrap", () => new BwrapBackend()],
];

describe.each(backends)("%s backend", (_name, make) => {
  const backend = make();
  const run = async (cmd: string, extra: Partial<RunSpec> = {}) =>
    backend.run({ cmd: ["sh", "-c", cmd], workDir: await workDir(backend), ...extra });

  test("captures stdout, stderr and the exit code, and records the image", async () => {
    const r = await run("echo out; echo err >&2; exit 3");
    expect(r).toMatchObject({ status: "FAILED", exitCode: 3, stdout: "out\n", stderr: "err\n", backend: backend.kind });
    expect(r.image.digest).toMatch(/^(sha256:[0-9a-f]{64}|rootfs:[0-9a-f]+)$/);
    expect(r.image.tools.bun).toBe(Bun.version);
    expect((await run("exit 0")).status).toBe("OK");
  });

  test("runs as an unprivileged user with no capabilities and a fixed environment", async () => {
    process.env.SANDBOX_TEST_SECRET = "do-not-leak";
    const r = await run("id -u; grep CapEff /proc/self/status; env", { env: { FOO: "bar" } });
    delete process.env.SANDBOX_TEST_SECRET;
    const [uid, cap] = r.stdout.split("\n");
    expect(uid).toBe("1000");
    expect(cap).toBe("CapEff:\t0000000000000000");
    expect(r.stdout).toContain("FOO=bar");
    expect(r.stdout).toContain("TZ=UTC");
    expect(r.stdout).not.toContain("do-not-leak");
  });

  test("only /work and /tmp are writable; the work dir is shared with the host", async () => {
    const dir = await workDir(backend);
    const r = await backend.run({
      cmd: [
        "sh",
        "-c",
        "echo hi > /work/out && echo t > /tmp/t && for p in /usr/x /etc/x /x /home/x /var/x; do touch $p 2>/dev/null && echo WROTE $p; done; true",
      ],
      workDir: dir,
    });
    expect(r.status).toBe("OK");
    expect(r.stdout).not.toContain("WROTE");
    expect(readFileSync(join(dir, "out"), "utf8")).toBe("hi\n");
  });

  test("cannot read secrets or host files", async () => {
    const secretDir = join(root, "appliance-data");
    mkdirSync(secretDir, { recursive: true });
    writeFileSync(join(secretDir, "master.key"), "top-secret");
    const r = await run(`cat /etc/shadow; cat ${secretDir}/master.key; ls /root; ls /var/run/docker.sock`);
    expect(r.stdout).not.toContain("top-secret");
    expect(r.stdout).not.toContain("root:");
    expect(r.stdout).not.toContain("docker.sock");
  });

  test("has no network", async () => {
    const r = await run(
      `bun -e 'for (const u of ["http://1.1.1.1", "https://registry.npmjs.org/"]) { try { await fetch(u, { signal: AbortSignal.timeout(3000) }); console.log("REACHED", u) } catch (e) { console.log("blocked", e.code ?? e.name) } }'; cat /proc/net/dev | tail -n +3 | cut -d: -f1`,
    );
    expect(r.stdout).not.toContain("REACHED");
    expect(r.stdout.trim().split("\n").at(-1)?.trim()).toBe("lo");
  });

  test("wall-clock limit ends the run with TIMEOUT", async () => {
    const r = await run("while :; do :; done", { limits: { timeoutMs: 1000 } });
    expect(r.status).toBe("TIMEOUT");
    expect(r.durationMs).toBeLessThan(5000);
  });

  test("memory limit ends the run with OOM", async () => {
    const r = await backend.run({
      cmd: ["python3", "-c", "a=[]\nwhile True: a.append(b'x' * (1 << 20))"],
      workDir: await workDir(backend),
      limits: { memoryMb: 128, timeoutMs: 30_000 },
    });
    const enforced = backend.kind === "docker" || (backend as BwrapBackend).cgroupSupport() !== null;
    if (enforced) expect(r.status).toBe("OOM");
    else expect(r.status).not.toBe("OK");
  });

  test("limits of 2 GiB and more are applied as given (no 32-bit overflow)", async () => {
    const r = await run(
      "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null; echo ok",
      { limits: { memoryMb: 4096, tmpMb: 2048 } },
    );
    expect(r.status).toBe("OK");
    expect(r.stdout).toContain("ok");
    if (backend.kind === "docker") expect(r.stdout.split("\n")[0]).toBe(String(4096 * 1024 * 1024));
  });

  test("a run that fills its work dir ends with DISK_LIMIT", async () => {
    const r = await run('i=0; while :; do head -c 4194304 /dev/zero > "fill$i"; i=$((i+1)); sleep 0.02; done', {
      limits: { diskMb: 32, timeoutMs: 30_000 },
    });
    expect(r.status).toBe("DISK_LIMIT");
    expect(r.message).toContain("32 MiB disk limit");
    expect(r.durationMs).toBeLessThan(15_000);
  });

  test("output limit ends the run with OUTPUT_LIMIT and keeps only the budget", async () => {
    const r = await run("yes 0123456789", { limits: { outputBytes: 100_000 } });
    expect(r.status).toBe("OUTPUT_LIMIT");
    expect(r.stdout.length).toBeLessThanOrEqual(100_000);
    expect(r.outputBytes).toBeGreaterThan(100_000);
  });

  test("a fork bomb is contained and the next run works", async () => {
    const r = await run("bomb() { bomb | bomb & }; bomb; sleep 1; echo done", {
      limits: { pids: 64, timeoutMs: 10_000 },
    });
    expect(["OK", "FAILED", "TIMEOUT"]).toContain(r.status);
    const after = await run("echo alive");
    expect(after.stdout).toBe("alive\n");
  });

  test("egress: only the allowed registry is reachable, through the appliance's proxy", async () => {
    const proxy = await startEgressProxy(["registry.npmjs.org"], root);
    try {
      const r = await run(
        `bun -e 'for (const u of ["https://registry.npmjs.org/is-number/7.0.0", "https://example.com/"]) { try { const res = await fetch(u, { signal: AbortSignal.timeout(10000) }); console.log(res.status, u) } catch (e) { console.log("blocked", u) } }'`,
        { egressSocket: proxy.socketPath },
      );
      expect(r.stdout).toContain("200 https://registry.npmjs.org/is-number/7.0.0");
      expect(r.stdout).toContain("blocked https://example.com/");
      expect(proxy.events).toContainEqual({ host: "example.com", port: 443, allowed: false });
    } finally {
      await proxy.close();
    }
    expect(existsSync(proxy.socketPath)).toBe(false);
  });
});

test("egress allow-list matching", () => {
  const allow = ["registry.npmjs.org", "*.crates.io", "git.example.com:8443"];
  expect(egressAllowed(allow, "registry.npmjs.org", 443)).toBe(true);
  expect(egressAllowed(allow, "REGISTRY.npmjs.org.", 443)).toBe(true);
  expect(egressAllowed(allow, "registry.npmjs.org", 80)).toBe(false);
  expect(egressAllowed(allow, "evil-registry.npmjs.org", 443)).toBe(false);
  expect(egressAllowed(allow, "static.crates.io", 443)).toBe(true);
  expect(egressAllowed(allow, "crates.io", 443)).toBe(false);
  expect(egressAllowed(allow, "xcrates.io", 443)).toBe(false);
  expect(egressAllowed(allow, "git.example.com", 8443)).toBe(true);
  expect(egressAllowed(allow, "git.example.com", 443)).toBe(false);
});

describe("bwrap backend without a built root filesystem (host /usr)", () => {
  const saved = process.env.DEVSPONSOR_SANDBOX_ROOTFS;
  beforeAll(() => {
    process.env.DEVSPONSOR_SANDBOX_ROOTFS = join(root, "no-rootfs");
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.DEVSPONSOR_SANDBOX_ROOTFS;
    else process.env.DEVSPONSOR_SANDBOX_ROOTFS = saved;
  });

  test("runs the host's tools read-only, without network, and records their versions", async () => {
    const backend = new BwrapBackend();
    const r = await backend.run({
      cmd: [
        "sh",
        "-c",
        "bun --version; touch /usr/x /etc/x 2>/dev/null && echo WROTE; cat /etc/shadow 2>/dev/null && echo LEAKED; cat /proc/net/dev | tail -n +3 | cut -d: -f1",
      ],
      workDir: await workDir(backend),
    });
    expect(r.status).toBe("OK");
    expect(r.image).toMatchObject({ ref: "host", digest: "host", tools: { bun: Bun.version } });
    expect(r.stdout.split("\n").map((l) => l.trim())).toEqual([Bun.version, "lo", ""]);
  });
});

test("a pinned image wins over the role's current tag (Docker)", async () => {
  const backend = new DockerBackend();
  const prover = await backend.image("prover");
  const r = await backend.run({
    cmd: ["sh", "-c", "command -v git || echo no-git"],
    workDir: await workDir(backend),
    pinnedImage: prover,
  });
  expect(r.image.digest).toBe(prover.digest);
  expect(r.stdout).toBe("no-git\n");
});
