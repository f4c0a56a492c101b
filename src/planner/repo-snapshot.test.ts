// The planner's view of a repository, against real git repositories and a real (hanging) HTTP remote.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hangingRemote, processesMentioning } from "../../test/support/hanging-remote";
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
    const remote = hangingRemote();
    try {
      const started = performance.now();
      const err = await snapshotRepo(remote.url, { timeoutMs: 2500 }).catch((e: unknown) => e);
      const elapsed = performance.now() - started;
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).code).toBe("REPO_TIMEOUT");
      expect(remote.connections()).toBeGreaterThan(0);
      expect(elapsed).toBeGreaterThanOrEqual(2400);
      expect(elapsed).toBeLessThan(6000);
      expect(processesMentioning(`127.0.0.1:${remote.port}`)).toEqual([]);
    } finally {
      remote.stop();
    }
  }, 20_000);
});

describe("a checked repository URL stays where it was checked", () => {
  test("git does not follow a redirect elsewhere; the name can be pinned to the checked address", async () => {
    const { startGitHost } = await import("../../test/support/git-host");
    const host = startGitHost();
    await host.createRepo("target", { "README.md": "# target\n" });
    const redirector = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => {
        const u = new URL(req.url);
        return Response.redirect(`${host.origin}${u.pathname.replace(/^\/r\.git/, "/target.git")}${u.search}`, 302);
      },
    });
    try {
      await expect(snapshotRepo(`http://127.0.0.1:${redirector.port}/r.git`)).rejects.toThrow();
      expect((await snapshotRepo(host.url("target"))).readmePath).toBe("README.md");
      const port = new URL(host.origin).port;
      const pinned = await snapshotRepo(`http://git.pinned.invalid:${port}/target.git`, {
        gitConfig: [["http.curloptResolve", `git.pinned.invalid:${port}:127.0.0.1`]],
      });
      expect(pinned.readmePath).toBe("README.md");
    } finally {
      redirector.stop(true);
      await host.stop();
    }
  }, 60_000);
});
