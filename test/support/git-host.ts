// A git host for tests and demos without GitHub: bare repositories under one folder, served on loopback with
// git's own smart HTTP (`git http-backend` as a CGI program), clone and push included.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

const HTTP_BACKEND = "/usr/lib/git-core/git-http-backend";

/** A running git host: `url(name)` is the clone URL of repository `name`. */
export interface GitHost {
  root: string;
  origin: string;
  url(name: string): string;
  /** Creates a bare repository with one commit holding `files` on `branch`; returns its head commit. */
  createRepo(name: string, files: Record<string, string>, branch?: string): Promise<string>;
  /** Commits `files` (null deletes) on top of `branch` (created from `from` when new) and pushes it; returns the commit. */
  push(
    name: string,
    files: Record<string, string | null>,
    opts?: { branch?: string; from?: string; message?: string },
  ): Promise<string>;
  stop(): Promise<void>;
}

/** Runs git and returns its trimmed stdout; throws with git's stderr when it fails. */
export async function git(args: string[], cwd?: string, env: Record<string, string> = {}): Promise<string> {
  const proc = Bun.spawn(["git", ...args], {
    cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "Test",
      GIT_AUTHOR_EMAIL: "test@example.test",
      GIT_COMMITTER_NAME: "Test",
      GIT_COMMITTER_EMAIL: "test@example.test",
      GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0",
      ...env,
    },
  });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`git ${args.join(" ")} failed (${code}): ${err.trim()}`);
  return out.trim();
}

/** Answers one smart-HTTP request by running `git http-backend` with the CGI environment it expects. */
async function cgi(root: string, request: Request): Promise<Response> {
  const url = new URL(request.url);
  const body = request.method === "POST" ? new Uint8Array(await request.arrayBuffer()) : undefined;
  const proc = Bun.spawn([HTTP_BACKEND], {
    stdin: body ?? "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: "1",
      GIT_CONFIG_NOSYSTEM: "1",
      REQUEST_METHOD: request.method,
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: request.headers.get("content-type") ?? "",
      HTTP_CONTENT_ENCODING: request.headers.get("content-encoding") ?? "",
      CONTENT_LENGTH: body ? String(body.byteLength) : "",
      GIT_PROTOCOL: request.headers.get("git-protocol") ?? "",
      REMOTE_USER: "test",
      REMOTE_ADDR: "127.0.0.1",
    },
  });
  const [out, code] = await Promise.all([new Response(proc.stdout).arrayBuffer(), proc.exited]);
  const bytes = new Uint8Array(out);
  // CGI output: header lines, a blank line (CRLF or LF), then the body.
  let split = -1;
  let start = -1;
  for (let i = 0; i + 1 < bytes.length; i++) {
    if (bytes[i] === 10 && bytes[i + 1] === 10) {
      [split, start] = [i, i + 2];
      break;
    }
    if (bytes[i] === 10 && bytes[i + 1] === 13 && bytes[i + 2] === 10) {
      [split, start] = [i, i + 3];
      break;
    }
  }
  if (split < 0) {
    const err = await new Response(proc.stderr).text();
    return new Response(`git http-backend failed (${code}): ${err}`, { status: 500 });
  }
  const head = new TextDecoder().decode(bytes.subarray(0, split));
  const headers = new Headers();
  let status = 200;
  for (const line of head.split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i < 0) continue;
    const k = line.slice(0, i).trim();
    const v = line.slice(i + 1).trim();
    if (k.toLowerCase() === "status") status = Number.parseInt(v, 10);
    else headers.append(k, v);
  }
  return new Response(bytes.subarray(start), { status, headers });
}

/** Options of a git host. */
export interface GitHostOptions {
  /**
   * Decides whether a request for repository `name` (owner/repo, without .git) may be served, given its
   * Authorization header; refused requests get 401 as from GitHub. Every request is served without it.
   */
  authorize?: (name: string, authorization: string | null) => boolean;
}

/** Starts a git host on 127.0.0.1 with an ephemeral port; repositories live in a temp folder removed by stop(). */
export function startGitHost(opts: GitHostOptions = {}): GitHost {
  const root = mkdtempSync(join(process.env.DEVSPONSOR_TEST_TMP ?? tmpdir(), "git-host-"));
  const serve = (req: Request) => {
    const name = /^\/(.+?)\.git(?:\/|$)/.exec(decodeURIComponent(new URL(req.url).pathname))?.[1] ?? "";
    if (opts.authorize && !opts.authorize(name, req.headers.get("authorization"))) {
      return new Response("Authentication failed\n", {
        status: 401,
        headers: { "www-authenticate": 'Basic realm="GitHub"' },
      });
    }
    return cgi(root, req);
  };
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: serve });
  const origin = `http://127.0.0.1:${server.port}`;
  const work = (name: string) => join(root, ".work", name);

  const host: GitHost = {
    root,
    origin,
    url: (name) => `${origin}/${name}.git`,
    async createRepo(name, files, branch = "main") {
      const bare = join(root, `${name}.git`);
      await git(["init", "--bare", "-q", "-b", branch, bare]);
      await git(["config", "http.receivepack", "true"], bare);
      const dir = work(name);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      await git(["init", "-q", "-b", branch], dir);
      // The host's own pushes go to the bare repository directly (past any authorization the host asks of clients).
      await git(["remote", "add", "origin", bare], dir);
      return commitAndPush(dir, files, branch, "initial commit");
    },
    async push(name, files, opts = {}) {
      const dir = work(name);
      const branch = opts.branch ?? "main";
      await git(["fetch", "-q", "origin"], dir);
      const exists = (await git(["ls-remote", "--heads", "origin", branch], dir)) !== "";
      await git(["checkout", "-q", "-B", branch, exists ? `origin/${branch}` : `origin/${opts.from ?? "main"}`], dir);
      return commitAndPush(dir, files, branch, opts.message ?? `change ${branch}`);
    },
    async stop() {
      server.stop(true);
      rmSync(root, { recursive: true, force: true });
    },
  };
  return host;
}

async function commitAndPush(dir: string, files: Record<string, string | null>, branch: string, message: string) {
  for (const [path, content] of Object.entries(files)) {
    const file = join(dir, path);
    if (content === null) {
      rmSync(file, { force: true });
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  await git(["add", "-A"], dir);
  await git(["commit", "-q", "--allow-empty", "-m", message], dir);
  await git(["push", "-q", "origin", `HEAD:refs/heads/${branch}`], dir);
  return git(["rev-parse", "HEAD"], dir);
}
