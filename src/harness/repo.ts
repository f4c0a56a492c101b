// Fetching the repository under test, on the host (never in the sandbox, so tokens stay out of it): a bare
// mirror per repository URL is kept in the cache and updated, then the exact commit is checked out into the run's
// work dir as a one-commit repository that holds no URL and no credentials.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { AppError } from "../core/errors";
import { runProcess } from "../core/process";

/** Who made a commit and when (unix seconds). */
export interface Signature {
  name: string;
  email: string;
  time: number;
}

/** The commit a run verifies. */
export interface CommitInfo {
  commit: string;
  /** Git tree hash of the checked-out files. */
  tree: string;
  parents: string[];
  author: Signature;
  committer: Signature;
  subject: string;
}

/** Options of fetchRepo. */
export interface FetchOptions {
  /** Any git URL, or a local path. */
  repo: string;
  /** A commit SHA (full or abbreviated), a branch or a tag. */
  ref: string;
  /** Directory to check out into (created). */
  dest: string;
  /** Where the mirrors are kept. */
  cacheDir: string;
  /** A token for HTTPS remotes (GitHub installation or user token). Sent as a header, never stored. */
  token?: string;
  onLog?: (line: string) => void;
  /** Cancels the fetch: every git process of it is ended. */
  signal?: AbortSignal;
  /** Limit of each git command (default 10 minutes). */
  timeoutMs?: number;
}

/** A git failure the caller can show: bad URL, unknown ref, unreachable remote. */
export class FetchError extends AppError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super("REPO_FETCH_FAILED", message, 422, details);
    this.name = "FetchError";
  }
}

/** A fetch that takes longer is stopped (a huge or hostile remote). */
const GIT_TIMEOUT_MS = 10 * 60_000;

const SHA_RE = /^[0-9a-f]{7,64}$/i;

// Fetches into one mirror run one at a time (git's ref locks would make concurrent ones fail).
const mirrorLocks = new Map<string, Promise<unknown>>();
async function withMirrorLock<T>(mirror: string, fn: () => Promise<T>): Promise<T> {
  const previous = mirrorLocks.get(mirror) ?? Promise.resolve();
  const next = previous.catch(() => {}).then(fn);
  mirrorLocks.set(mirror, next);
  try {
    return await next;
  } finally {
    if (mirrorLocks.get(mirror) === next) mirrorLocks.delete(mirror);
  }
}
const FULL_SHA_RE = /^([0-9a-f]{40}|[0-9a-f]{64})$/i;

/** The URL without credentials, as recorded in the digest; local paths are made absolute. */
export function publicRepoUrl(repo: string): string {
  if (isLocalPath(repo)) return resolve(repo.replace(/^file:\/\//, ""));
  try {
    const u = new URL(repo);
    u.username = "";
    u.password = "";
    return u.toString().replace(/\/$/, "");
  } catch {
    // scp-like git@host:path has no password to hide
    return repo;
  }
}

function isLocalPath(repo: string): boolean {
  return (
    repo.startsWith("/") ||
    repo.startsWith(".") ||
    repo.startsWith("file://") ||
    (!repo.includes(":") && existsSync(repo))
  );
}

interface GitResult {
  code: number;
  stdout: string;
  stderr: string;
}

// Git on the host must not read the host user's config (credential helpers, url rewrites, hooks paths).
const GIT_ENV: Record<string, string> = {
  PATH: process.env.PATH ?? "/usr/bin:/bin",
  HOME: "/nonexistent",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_TERMINAL_PROMPT: "0",
  GIT_ASKPASS: "/bin/false",
  SSH_ASKPASS: "/bin/false",
  GIT_SSH_COMMAND: "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new",
  LANG: "C.UTF-8",
  TZ: "UTC",
};

interface GitOptions {
  cwd?: string;
  token?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

async function git(args: string[], opts: GitOptions = {}): Promise<GitResult> {
  const env: Record<string, string> = { ...GIT_ENV };
  if (process.env.SSL_CERT_FILE) env.SSL_CERT_FILE = process.env.SSL_CERT_FILE;
  if (process.env.GIT_SSL_CAINFO) env.GIT_SSL_CAINFO = process.env.GIT_SSL_CAINFO;
  if (process.env.SSH_AUTH_SOCK) env.SSH_AUTH_SOCK = process.env.SSH_AUTH_SOCK;
  if (opts.token) {
    // Passed through the environment, not argv, so it never shows in a process list.
    const basic = Buffer.from(`x-access-token:${opts.token}`).toString("base64");
    Object.assign(env, {
      GIT_CONFIG_COUNT: "1",
      GIT_CONFIG_KEY_0: "http.extraHeader",
      GIT_CONFIG_VALUE_0: `Authorization: Basic ${basic}`,
    });
  }
  // In its own process group: at the deadline git's remote helpers end with it, not only the top git.
  const r = await runProcess(["git", ...args], {
    cwd: opts.cwd,
    env,
    timeoutMs: opts.timeoutMs ?? GIT_TIMEOUT_MS,
    signal: opts.signal,
  });
  if (r.timedOut)
    throw new FetchError(`git ${args[0]} timed out after ${Math.round((opts.timeoutMs ?? GIT_TIMEOUT_MS) / 1000)} s`);
  if (r.aborted) throw new AppError("CANCELLED", "The run was cancelled.", 409);
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function gitOk(args: string[], opts: GitOptions = {}): Promise<string> {
  const r = await git(args, opts);
  if (r.code !== 0)
    throw new FetchError(`git ${args[0]} failed: ${scrub(r.stderr.trim() || r.stdout.trim(), opts.token)}`);
  return r.stdout;
}

function scrub(text: string, token?: string): string {
  const out = text.replace(/(https?:\/\/)[^/@\s]+@/g, "$1");
  return token ? out.split(token).join("[redacted]") : out;
}

/** Fetches `ref` of `repo` into the mirror cache and checks the commit out at `dest`. */
export async function fetchRepo(opts: FetchOptions): Promise<CommitInfo> {
  const url = isLocalPath(opts.repo) ? resolve(opts.repo.replace(/^file:\/\//, "")) : opts.repo;
  if (!isLocalPath(opts.repo) && !/^(https?|ssh|git):\/\/|^[\w.-]+@[\w.-]+:/.test(opts.repo)) {
    throw new FetchError("The repository must be a git URL or a local path.", { repo: publicRepoUrl(opts.repo) });
  }
  if (isLocalPath(opts.repo) && !existsSync(url))
    throw new FetchError("The repository path does not exist.", { repo: url });
  if (!opts.ref || opts.ref.startsWith("-") || /\s|\.\.|[~^:?*[\\]/.test(opts.ref)) {
    throw new FetchError("The ref must be a commit SHA, a branch or a tag.", { ref: opts.ref });
  }
  const log = opts.onLog ?? (() => {});
  const mirror = mirrorOf(opts.cacheDir, url);
  return withMirrorLock(mirror, () => fetchWithMirror(opts, url, mirror, log));
}

function mirrorOf(cacheDir: string, url: string): string {
  return join(cacheDir, "repos", `${createHash("sha256").update(publicRepoUrl(url)).digest("hex").slice(0, 24)}.git`);
}

/** One path the work changed: git's status letter (A, M, D, T) and the path. */
export interface PathChange {
  status: string;
  path: string;
}

/** A file of a commit's tree: its git mode (100644, 100755, 120000 for a symlink, …) and its bytes. */
export interface TreeFile {
  mode: string;
  data: Buffer;
}

/** What the work changed against the base commit, and a reader of both commits' files. */
export interface BaseComparison {
  base: string;
  changes: PathChange[];
  /** A file's bytes at the base or the head commit; null when absent or not a plain file (a symlink, a submodule). */
  read(which: "base" | "head", path: string): Promise<Buffer | null>;
  /** The files below `paths` (files or directories) at the base commit, by repository path. */
  filesAt(which: "base" | "head", paths: readonly string[]): Promise<Map<string, TreeFile>>;
}

/**
 * Fetches the base commit into the repository's mirror (the head was fetched by fetchRepo) and lists the paths
 * changed from base to head (renames count as a deletion and an addition). Everything is read from the mirror on
 * the host, never from the checkout the sandbox wrote to.
 */
export async function compareWithBase(opts: {
  repo: string;
  cacheDir: string;
  base: string;
  head: string;
  token?: string;
  onLog?: (line: string) => void;
  signal?: AbortSignal;
}): Promise<BaseComparison> {
  const url = isLocalPath(opts.repo) ? resolve(opts.repo.replace(/^file:\/\//, "")) : opts.repo;
  if (!FULL_SHA_RE.test(opts.base) && (opts.base.startsWith("-") || /\s|\.\.|[~^:?*[\\]/.test(opts.base)))
    throw new FetchError("The base must be a commit SHA, a branch or a tag.", { ref: opts.base });
  const mirror = mirrorOf(opts.cacheDir, url);
  const lim = { cwd: mirror, signal: opts.signal };
  const base = await withMirrorLock(mirror, () =>
    resolveInMirror({ ref: opts.base, token: opts.token, signal: opts.signal }, url, mirror, opts.onLog ?? (() => {})),
  );
  const commits = { base, head: opts.head };
  const out = await gitOk(["diff", "--name-status", "-z", "--no-renames", "--no-ext-diff", base, opts.head], lim);
  const parts = out.split("\0");
  const changes: PathChange[] = [];
  for (let i = 0; i + 1 < parts.length; i += 2) changes.push({ status: parts[i]!, path: parts[i + 1]! });
  const filesAt = async (which: "base" | "head", paths: readonly string[]) => {
    const files = new Map<string, TreeFile>();
    if (paths.length === 0) return files;
    const list = await gitOk(["ls-tree", "-r", "-z", "--full-tree", commits[which], "--", ...paths], lim);
    for (const entry of list.split("\0")) {
      const m = /^(\d{6}) (\w+) ([0-9a-f]+)\t(.+)$/s.exec(entry);
      if (m?.[2] !== "blob") continue;
      // Test files may be binary fixtures: the bytes are collected as they come, not decoded.
      const chunks: Uint8Array[] = [];
      const r = await runProcess(["git", "cat-file", "blob", m[3]!], {
        cwd: mirror,
        env: GIT_ENV,
        signal: opts.signal,
        timeoutMs: GIT_TIMEOUT_MS,
        onStdout: (c) => chunks.push(c),
      });
      if (r.code !== 0) throw new FetchError(`git cat-file failed for ${m[4]}: ${r.stderr.trim()}`);
      files.set(m[4]!, { mode: m[1]!, data: Buffer.concat(chunks) });
    }
    return files;
  };
  return {
    base,
    changes,
    filesAt,
    async read(which, path) {
      const f = (await filesAt(which, [path])).get(path);
      return f && f.mode !== "120000" ? f.data : null;
    },
  };
}

/** Makes sure the mirror holds `opts.ref` (fetching it when missing) and returns its full commit SHA. */
async function resolveInMirror(
  opts: Pick<FetchOptions, "ref" | "token" | "signal" | "timeoutMs">,
  url: string,
  mirror: string,
  log: (line: string) => void,
): Promise<string> {
  const lim = { signal: opts.signal, timeoutMs: opts.timeoutMs };
  if (!existsSync(join(mirror, "HEAD"))) {
    mkdirSync(mirror, { recursive: true });
    await gitOk(["init", "-q", "--bare", mirror], lim);
  }
  const auth = { cwd: mirror, token: opts.token, ...lim };

  let commit: string | undefined;
  const have = async (rev: string) => {
    const r = await git(["rev-parse", "-q", "--verify", `${rev}^{commit}`], { cwd: mirror, ...lim });
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  if (FULL_SHA_RE.test(opts.ref)) {
    commit = await have(opts.ref);
    if (!commit) {
      log(`fetching ${opts.ref.slice(0, 12)} from ${publicRepoUrl(url)}`);
      // Servers that refuse to serve an arbitrary SHA get a full fetch below.
      if ((await git(["fetch", "-q", "--no-tags", url, opts.ref], auth)).code === 0) commit = await have(opts.ref);
    }
  } else {
    log(`fetching ${opts.ref} from ${publicRepoUrl(url)}`);
    const r = await git(
      ["fetch", "-q", "--no-tags", url, `+${opts.ref}:refs/fetched/${opts.ref.replace(/^refs\//, "")}`],
      auth,
    );
    if (r.code === 0) commit = await have(`refs/fetched/${opts.ref.replace(/^refs\//, "")}`);
    else if (!SHA_RE.test(opts.ref)) {
      // a tag is not under refs/heads; try it explicitly
      const t = await git(
        ["fetch", "-q", "--no-tags", url, `+refs/tags/${opts.ref}:refs/fetched/tags/${opts.ref}`],
        auth,
      );
      if (t.code === 0) commit = await have(`refs/fetched/tags/${opts.ref}`);
      else throw new FetchError(`Unable to fetch ${opts.ref}: ${scrub(r.stderr.trim(), opts.token)}`);
    }
  }
  if (!commit && SHA_RE.test(opts.ref)) {
    log("fetching all branches and tags");
    await gitOk(
      ["fetch", "-q", "--no-tags", url, "+refs/heads/*:refs/fetched/*", "+refs/tags/*:refs/fetched/tags/*"],
      auth,
    );
    commit = await have(opts.ref);
  }
  if (!commit) throw new FetchError(`Commit ${opts.ref} was not found in the repository.`, { ref: opts.ref });

  return commit;
}

async function fetchWithMirror(
  opts: FetchOptions,
  url: string,
  mirror: string,
  log: (line: string) => void,
): Promise<CommitInfo> {
  const lim = { signal: opts.signal, timeoutMs: opts.timeoutMs };
  const commit = await resolveInMirror(opts, url, mirror, log);

  mkdirSync(opts.dest, { recursive: true });
  await gitOk(["init", "-q", opts.dest], lim);
  await gitOk(["fetch", "-q", "--no-tags", "--depth=1", mirror, commit], { cwd: opts.dest, ...lim });
  // No smudge filters, no hooks, no fsmonitor: only what is in the tree.
  await gitOk(
    ["-c", "core.hooksPath=/dev/null", "-c", "advice.detachedHead=false", "checkout", "-q", "--detach", commit],
    { cwd: opts.dest, ...lim },
  );
  await git(["update-ref", "-d", "FETCH_HEAD"], { cwd: opts.dest, ...lim });

  const fmt = ["%H", "%T", "%P", "%an", "%ae", "%at", "%cn", "%ce", "%ct", "%s"].join("%x00");
  const meta = (await gitOk(["show", "-s", `--format=${fmt}`, commit], { cwd: mirror, ...lim }))
    .replace(/\n$/, "")
    .split("\0");
  const [hash, tree, parents, an, ae, at, cn, ce, ct, subject] = meta as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const checkedOutTree = (await gitOk(["rev-parse", "HEAD^{tree}"], { cwd: opts.dest, ...lim })).trim();
  if (checkedOutTree !== tree) throw new FetchError("The checkout does not match the commit's tree.");
  return {
    commit: hash,
    tree,
    parents: parents ? parents.split(" ") : [],
    author: { name: an, email: ae, time: Number(at) },
    committer: { name: cn, email: ce, time: Number(ct) },
    subject,
  };
}
