import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeRepo } from "../../test/fixtures/hostile/repos";
import { hangingRemote, processesMentioning } from "../../test/support/hanging-remote";
import type { AppError } from "../core/errors";
import { FetchError, fetchRepo, publicRepoUrl } from "./repo";

const tmp = () => mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "fetch-"));
const git = (cwd: string, ...args: string[]) =>
  Bun.spawnSync(["git", ...args], { cwd })
    .stdout.toString()
    .trim();

test("fetches by full SHA, short SHA, branch and tag; the checkout holds no remote", async () => {
  const repo = makeRepo({ "a.txt": "one\n" });
  const second = makeRepo({ "a.txt": "two\n" }, repo.path);
  git(repo.path, "tag", "v1", repo.sha);
  const cacheDir = tmp();
  const cases: [string, string, string][] = [
    [repo.sha, repo.sha, "one\n"],
    [second.sha.slice(0, 10), second.sha, "two\n"],
    ["main", second.sha, "two\n"],
    ["v1", repo.sha, "one\n"],
  ];
  for (const [ref, sha, content] of cases) {
    const dest = join(tmp(), "src");
    const info = await fetchRepo({ repo: repo.path, ref, dest, cacheDir });
    expect(info.commit).toBe(sha);
    expect(readFileSync(join(dest, "a.txt"), "utf8")).toBe(content);
    expect(info.tree).toBe(git(repo.path, "rev-parse", `${sha}^{tree}`));
    expect(readFileSync(join(dest, ".git", "config"), "utf8")).not.toContain("[remote");
  }
});

test("a rewritten branch is fetched again; concurrent fetches of one repository succeed", async () => {
  const repo = makeRepo({ "a.txt": "one\n" });
  const cacheDir = tmp();
  await fetchRepo({ repo: repo.path, ref: "main", dest: join(tmp(), "s"), cacheDir });
  git(
    repo.path,
    "-c",
    "user.name=T",
    "-c",
    "user.email=t@example.test",
    "commit",
    "-q",
    "--amend",
    "-m",
    "rewritten",
    "--allow-empty",
  );
  const rewritten = git(repo.path, "rev-parse", "HEAD");
  const all = await Promise.all(
    Array.from({ length: 4 }, () => fetchRepo({ repo: repo.path, ref: "main", dest: join(tmp(), "s"), cacheDir })),
  );
  expect(all.map((i) => i.commit)).toEqual(Array(4).fill(rewritten));
  expect(all[0]!.subject).toBe("rewritten");
});

test("bad refs, paths and unknown commits are refused as FetchError", async () => {
  const repo = makeRepo({ "a.txt": "x\n" });
  const cacheDir = tmp();
  for (const ref of ["--upload-pack=touch /tmp/pwned", "a..b", "main:evil", ""]) {
    await expect(fetchRepo({ repo: repo.path, ref, dest: join(tmp(), "s"), cacheDir })).rejects.toBeInstanceOf(
      FetchError,
    );
  }
  await expect(
    fetchRepo({ repo: "ext::sh -c touch% /tmp/pwned", ref: "main", dest: join(tmp(), "s"), cacheDir }),
  ).rejects.toBeInstanceOf(FetchError);
  await expect(fetchRepo({ repo: repo.path, ref: "f".repeat(40), dest: join(tmp(), "s"), cacheDir })).rejects.toThrow(
    "not found",
  );
  expect(existsSync("/tmp/pwned")).toBe(false);
});

test("public URLs drop credentials", () => {
  expect(publicRepoUrl("https://x-access-token:ghs_secret@github.com/acme/widget.git")).toBe(
    "https://github.com/acme/widget.git",
  );
  expect(publicRepoUrl("git@github.com:acme/widget.git")).toBe("git@github.com:acme/widget.git");
});

test("a remote that never answers ends the fetch and every git process at the limit", async () => {
  const remote = hangingRemote();
  try {
    const started = performance.now();
    const err = await fetchRepo({
      repo: remote.url,
      ref: "main",
      dest: join(tmp(), "src"),
      cacheDir: tmp(),
      timeoutMs: 2000,
    }).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(FetchError);
    expect((err as FetchError).message).toContain("timed out");
    expect(elapsed).toBeLessThan(5000);
    expect(processesMentioning(`127.0.0.1:${remote.port}`)).toEqual([]);
  } finally {
    remote.stop();
  }
}, 20_000);

test("aborting the run's signal ends the fetch at once", async () => {
  const remote = hangingRemote();
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 500);
  try {
    const err = await fetchRepo({
      repo: remote.url,
      ref: "main",
      dest: join(tmp(), "src"),
      cacheDir: tmp(),
      signal: ac.signal,
    }).catch((e: unknown) => e);
    expect((err as AppError).code).toBe("CANCELLED");
    expect(processesMentioning(`127.0.0.1:${remote.port}`)).toEqual([]);
  } finally {
    remote.stop();
  }
}, 20_000);
