// What the planner reads of a repository: its file tree and README, from a shallow clone into a temp dir that
// is removed afterwards. Access tokens travel in git's environment config (never argv, never a log line).
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join } from "node:path";
import { AppError } from "../core/errors";
import { runProcess } from "../core/process";
import { listPlainDir, readPlainText } from "../core/safe-fs";

/** A repository as the planner sees it. */
export interface RepoSnapshot {
  files: string[];
  /** True when the tree had more files than were kept. */
  truncated: boolean;
  readme: string | null;
  readmePath: string | null;
}

const MAX_FILES = 400;
const MAX_README = 16_000;
/** Bytes of the README read (UTF-8 takes up to 4 bytes a character). */
const MAX_README_BYTES = 4 * MAX_README;

/** Replaces every occurrence of a secret (and its base64 forms) in a text. */
export function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets.filter((x) => x.length >= 4)) {
    for (const form of [s, Buffer.from(`x-access-token:${s}`).toString("base64"), Buffer.from(s).toString("base64")]) {
      out = out.split(form).join("[redacted]");
    }
  }
  return out.replace(/(https?:\/\/)[^/@\s]+@/g, "$1[redacted]@");
}

function fetchFailed(message: string, code = "REPO_FETCH_FAILED"): AppError {
  return new AppError(code, message, 422);
}

async function git(
  args: string[],
  opts: { cwd?: string; env: Record<string, string>; timeoutMs: number; signal?: AbortSignal },
) {
  // git's remote helpers are its children: the whole group ends at the deadline, not only the top git.
  const r = await runProcess(["git", ...args], {
    cwd: opts.cwd,
    env: opts.env,
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
  });
  return { ...r, code: r.code ?? -1 };
}

/**
 * Shallow-clones `url` (any git URL, or a local path) and reads its tree and README. `token` (a GitHub
 * installation token for private repositories) is sent as an HTTP header through git's environment config.
 * Errors carry git's message with every secret removed.
 */
export async function snapshotRepo(
  url: string,
  opts: {
    token?: string;
    timeoutMs?: number;
    tmpDir?: string;
    signal?: AbortSignal;
    gitConfig?: [string, string][];
  } = {},
): Promise<RepoSnapshot> {
  const parent = opts.tmpDir ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, "ds-repo-"));
  const secrets = opts.token ? [opts.token] : [];
  // Only the ordinary transports: git's ext:: and fd:: run commands.
  const config: [string, string][] = [
    ["protocol.allow", "never"],
    ...["https", "http", "ssh", "git", "file"].map((p): [string, string] => [`protocol.${p}.allow`, "always"]),
    // a checked URL must not redirect elsewhere; the caller may pin its name to the checked addresses
    ["http.followRedirects", "false"],
    ...(opts.gitConfig ?? []),
  ];
  if (opts.token) {
    config.push([
      "http.extraHeader",
      `Authorization: Basic ${Buffer.from(`x-access-token:${opts.token}`).toString("base64")}`,
    ]);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    GIT_TERMINAL_PROMPT: "0",
    GIT_ASKPASS: "/bin/false",
    SSH_ASKPASS: "/bin/false",
    GIT_SSH_COMMAND: "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_COUNT: String(config.length),
  };
  config.forEach(([k, v], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = k;
    env[`GIT_CONFIG_VALUE_${i}`] = v;
  });
  // --depth is ignored for plain local paths; a file:// URL makes it apply.
  const source = isAbsolute(url) ? `file://${url}` : url;
  try {
    const target = join(dir, "repo");
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const clone = await git(
      ["clone", "--depth", "1", "--single-branch", "--no-tags", "--quiet", "--", source, target],
      { env, timeoutMs, signal: opts.signal },
    );
    if (clone.timedOut)
      throw fetchFailed(`git clone timed out after ${Math.round(timeoutMs / 1000)} s`, "REPO_TIMEOUT");
    if (clone.aborted) throw fetchFailed("git clone was cancelled", "CANCELLED");
    if (clone.code !== 0) {
      throw fetchFailed(
        `git clone failed: ${scrub(clone.stderr.trim(), secrets).slice(0, 400) || `exit ${clone.code}`}`,
      );
    }
    const ls = await git(["ls-files", "-z"], { cwd: target, env, timeoutMs: 15_000, signal: opts.signal });
    const all = ls.stdout.split("\0").filter(Boolean).sort();
    // The checkout is the repository's to shape: a README that is a symlink (to a key file, /proc/self/environ)
    // or a hard link is not read.
    const readmePath =
      listPlainDir(target, target).find((e) => e.isFile() && /^readme(\.(md|markdown|txt|rst|adoc))?$/i.test(e.name))
        ?.name ?? null;
    const readme = readmePath
      ? (readPlainText(target, join(target, readmePath), MAX_README_BYTES, { truncate: true })?.slice(0, MAX_README) ??
        null)
      : null;
    return { files: all.slice(0, MAX_FILES), truncated: all.length > MAX_FILES, readme, readmePath };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
