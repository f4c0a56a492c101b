// Checks a claimer's work link with git itself, before anything is queued: the remote answers, the branch (or
// the pull request's head) has the commit, the commit shares history with the project's repository (same
// repository or a fork) and was committed after the claim.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppError } from "../core/errors";
import { runProcess } from "../core/process";

const GIT_TIMEOUT_MS = 60_000;

/** What was found out about linked work. */
export interface CheckedWork {
  branch: string;
  commit: string;
  committedAt: Date;
}

const refused = (message: string) => new AppError("WORK_LINK_INVALID", message, 422);

async function git(args: string[], cwd?: string, timeoutMs = GIT_TIMEOUT_MS, token?: string): Promise<string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: cwd ?? tmpdir(),
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_COUNT: "2",
    GIT_CONFIG_KEY_0: "protocol.allow",
    GIT_CONFIG_VALUE_0: "user",
    GIT_CONFIG_KEY_1: "http.followRedirects",
    GIT_CONFIG_VALUE_1: "false",
  };
  if (token) {
    // In the environment, never in argv or a URL: a process list, git's messages and the repository stay clean.
    Object.assign(env, {
      GIT_CONFIG_COUNT: "3",
      GIT_CONFIG_KEY_2: "http.extraHeader",
      GIT_CONFIG_VALUE_2: `Authorization: Basic ${Buffer.from(`x-access-token:${token}`).toString("base64")}`,
    });
  }
  const r = await runProcess(["git", ...args], { cwd, timeoutMs, env });
  if (r.timedOut) throw new AppError("WORK_LINK_UNREACHABLE", "The repository did not answer in time.", 422);
  if (r.code !== 0) {
    const last = r.stderr.trim().split("\n").pop() ?? "";
    const why = token ? last.split(token).join("[redacted]") : last;
    throw new AppError(
      "WORK_LINK_UNREACHABLE",
      `git could not read the repository: ${why.replace(/https?:\/\/[^@\s]+@/g, "https://")}`,
      422,
    );
  }
  return r.stdout.trim();
}

/** A GitHub-style pull request URL split into its repository and number. */
export function parsePullRequestUrl(url: string): { repoUrl: string; number: number } | null {
  const m = /^(https?:\/\/[^/\s]+\/[^/\s]+\/[^/\s]+?)\/pulls?\/(\d{1,9})\/?$/.exec(url.trim());
  if (!m) return null;
  return { repoUrl: `${m[1]}.git`.replace(/\.git\.git$/, ".git"), number: Number(m[2]) };
}

/**
 * Resolves and checks linked work. `ref` is a branch name or `refs/pull/N/head`; `commit`, when given, must be
 * the branch's head or an ancestor of it. Throws WORK_LINK_INVALID / WORK_LINK_UNREACHABLE in words people act on.
 * `tokens` authenticate the fetches of each repository (a private GitHub repository: the App's installation token).
 */
export async function checkWork(opts: {
  projectRepoUrl: string;
  workRepoUrl: string;
  ref: string;
  commit?: string;
  claimedAt: Date;
  tokens?: { project?: string; work?: string };
}): Promise<CheckedWork> {
  if (!/^[\w./-]{1,200}$/.test(opts.ref) || opts.ref.includes("..") || opts.ref.startsWith("-")) {
    throw refused("That branch name is not valid.");
  }
  if (opts.commit !== undefined && !/^[0-9a-f]{40}$/.test(opts.commit)) {
    throw refused("Give the full 40-character commit hash.");
  }
  const dir = mkdtempSync(join(tmpdir(), "ds-work-"));
  try {
    await git(["init", "-q", "--bare", dir]);
    const workToken = opts.tokens?.work;
    const heads = await git(["ls-remote", "--", opts.workRepoUrl, opts.ref], dir, undefined, workToken);
    const head = heads.split("\n").find((l) => l.endsWith(`\t${opts.ref}`) || l.endsWith(`\trefs/heads/${opts.ref}`));
    if (!head) throw refused(`The repository has no branch ${opts.ref}.`);
    const tip = head.split("\t")[0]!;
    const commit = opts.commit ?? tip;
    await git(["fetch", "-q", "--no-tags", "--", opts.workRepoUrl, `+${tip}:refs/work/tip`], dir, undefined, workToken);
    if (commit !== tip) {
      const ok = await git(["merge-base", "--is-ancestor", commit, tip], dir).then(
        () => true,
        () => false,
      );
      if (!ok) throw refused(`Commit ${commit.slice(0, 12)} is not on ${opts.ref}.`);
    }
    if (opts.workRepoUrl !== opts.projectRepoUrl) {
      // A fork shares history with the project's repository: their default branches have a common ancestor.
      await git(
        ["fetch", "-q", "--no-tags", "--", opts.projectRepoUrl, "+HEAD:refs/project/head"],
        dir,
        undefined,
        opts.tokens?.project,
      );
      const base = await git(["merge-base", commit, "refs/project/head"], dir).catch(() => "");
      if (!base) throw refused("That repository is neither the project's repository nor a fork of it.");
    }
    const committedAt = new Date(Number(await git(["show", "-s", "--format=%ct", commit], dir)) * 1000);
    // Commit times have one-second resolution: a commit made in the claim's own second still counts.
    if (committedAt.getTime() < Math.floor(opts.claimedAt.getTime() / 1000) * 1000) {
      throw refused("That commit is older than your claim: push a commit made after you claimed the task.");
    }
    return { branch: opts.ref, commit, committedAt };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The head commit of a repository's default branch (what `HEAD` points to on the remote), read with
 * `git ls-remote --symref`. `gitConfig` comes from the repository URL check (src/core/net/ssrf.ts); `token`
 * authenticates a private repository.
 */
export async function remoteHead(
  url: string,
  gitConfig: [string, string][] = [],
  timeoutMs = 30_000,
  token?: string,
): Promise<{ commit: string; ref: string }> {
  const config = gitConfig.flatMap(([k, v]) => ["-c", `${k}=${v}`]);
  const out = await git([...config, "ls-remote", "--symref", "--", url, "HEAD"], undefined, timeoutMs, token);
  const ref = /^ref: (refs\/heads\/\S+)\tHEAD$/m.exec(out)?.[1];
  const commit = /^([0-9a-f]{40})\tHEAD$/m.exec(out)?.[1];
  if (!commit) throw new AppError("REPO_EMPTY", "The repository has no default branch with a commit yet.", 422);
  return { commit, ref: ref ?? "HEAD" };
}
