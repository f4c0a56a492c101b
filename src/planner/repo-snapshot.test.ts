// The planner's view of a repository, against real git repositories and a real (hanging) HTTP remote.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../core/errors";
import { snapshotRepo } from "./repo-snapshot";

const GIT_ENV = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: "/nonexistent",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_AUTHOR_NAME: "t",
  GIT_AUTHOR_EMAIL: "t@t",
  GIT_COMMITTER_NAME: "t",
  GIT_COMMITTER_EMAIL: "t@t",
};

let dir: string;
let outside: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "ds-snap-repo-"));
  outside = mkdtempSync(join(tmpdir(), "ds-snap-secret-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

function git(...args: string[]) {
  const r = Bun.spawnSync(["git", "-C", dir, ...args], { env: GIT_ENV });
  if (r.exitCode !== 0) throw new Error(r.stderr.toString());
}

function commitAll() {
  git("add", "-A");
  git("commit", "-q", "-m", "init");
}

/** Pids of live (non-zombie) processes whose command line mentions `needle`. */
function processesMentioning(needle: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, "utf8");
      const state = /^State:\s+(\w)/m.exec(readFileSync(`/proc/${name}/status`, "utf8"))?.[1];
      if (cmdline.includes(needle) && state !== "Z") found.push(Number(name));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

describe("snapshotRepo reads plain files of the checkout only", () => {
  test("a README that links to a secret file outside the repository is not read", async () => {
    const secret = join(outside, "master.key");
    writeFileSync(secret, "MASTER-KEY-0123456789abcdef\n");
    git("init", "-q", "-b", "main");
    symlinkSync(secret, join(dir, "README.md"));
    writeFileSync(join(dir, "a.ts"), "export const a = 1;\n");
    commitAll();
    const snap = await snapshotRepo(dir);
    expect(snap.files).toEqual(["README.md", "a.ts"]);
    expect(snap.readme).toBeNull();
    expect(JSON.stringify(snap)).not.toContain("MASTER-KEY");
  });

  test("a README that links to /proc/self/environ is not read", async () => {
    git("init", "-q", "-b", "main");
    symlinkSync("/proc/self/environ", join(dir, "README"));
    commitAll();
    const snap = await snapshotRepo(dir);
    expect(snap.readme).toBeNull();
    expect(JSON.stringify(snap)).not.toContain(`PATH=${GIT_ENV.PATH}`);
  });

  test("a plain README beside a linked one is the one read", async () => {
    writeFileSync(join(outside, "README.md"), "SECRET-IN-DIR\n");
    git("init", "-q", "-b", "main");
    symlinkSync(join(outside, "README.md"), join(dir, "README.md"));
    writeFileSync(join(dir, "readme.txt"), "plain text readme\n");
    commitAll();
    const snap = await snapshotRepo(dir);
    expect(snap.readmePath).toBe("readme.txt");
    expect(snap.readme).toBe("plain text readme\n");
    expect(JSON.stringify(snap)).not.toContain("SECRET-IN-DIR");
  });
});

describe("snapshotRepo ends at its time limit", () => {
  test("a remote that accepts the request and never answers ends the clone and every git process at the limit", async () => {
    // Accepts git's smart-HTTP request and never answers it.
    const open: { end(): void }[] = [];
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { open: (s) => void open.push(s), data: () => {} },
    });
    const url = `http://127.0.0.1:${server.port}/owner/hangs.git`;
    try {
      const started = performance.now();
      const err = await snapshotRepo(url, { timeoutMs: 2500 }).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("REPO_TIMEOUT");
      expect(open.length).toBeGreaterThan(0);
      expect(elapsed).toBeGreaterThanOrEqual(2400);
      expect(elapsed).toBeLessThan(6000);
      expect(processesMentioning(`127.0.0.1:${server.port}`)).toEqual([]);
    } finally {
      for (const s of open) s.end();
      server.stop(true);
    }
  }, 20_000);
});
