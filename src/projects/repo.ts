import { isAbsolute } from "node:path";
import { invalidInput } from "../core/errors";
import type { RepoProvider } from "./schema";

/** A repository reference as entered, normalized. */
export interface RepoRef {
  /** What we store and show: `https://host/owner/name` for GitHub, the URL or path as given otherwise. */
  url: string;
  provider: RepoProvider;
  host: string | null;
  /** `owner/name` for GitHub repositories. */
  fullName: string | null;
}

/** GitHub's view of a repository: the numeric id is stable across renames and transfers. */
export interface GithubRepo {
  id: string;
  fullName: string;
  htmlUrl: string;
  private: boolean;
}

const SCP = /^(?<user>[\w.-]+)@(?<host>[\w.-]+):(?<path>[^\\]+)$/; // git@github.com:owner/name.git
const GITHUB_PATH = /^\/?(?<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/(?<name>[A-Za-z0-9._-]{1,100}?)(?:\.git)?\/?$/;

/**
 * Parses a repository URL: GitHub or GitHub Enterprise (`githubHosts`), any other git URL (https, ssh, git,
 * scp-like), or a local path. Credentials in the URL are refused: they would be stored and shown.
 */
export function parseRepoUrl(raw: string, githubHosts: string[]): RepoRef {
  const input = raw.trim();
  const bad = (why: string) => invalidInput({ repoUrl: why });
  if (!input) throw bad("is empty");
  if (input.length > 500) throw bad("is too long");
  if (input.startsWith("-") || /[\s\0]/.test(input)) throw bad("is not a repository URL");
  if (/^[a-z][a-z0-9+.-]*::/i.test(input)) throw bad("uses a transport that is not allowed"); // git's ext:: and friends

  if (isAbsolute(input) || input.startsWith("file://")) {
    const path = input.startsWith("file://") ? decodeURIComponent(new URL(input).pathname) : input;
    if (path.split("/").includes("..")) throw bad("must be a plain absolute path");
    return { url: path, provider: "git", host: null, fullName: null };
  }

  const scp = SCP.exec(input);
  if (scp?.groups && !input.includes("://")) {
    const { host, path } = scp.groups;
    return fromHostPath("ssh", host!, `/${path}`, input, githubHosts);
  }

  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw bad("is not a URL, an scp-like git address or an absolute path");
  }
  const scheme = u.protocol.replace(/:$/, "");
  if (!["https", "http", "ssh", "git"].includes(scheme)) throw bad(`scheme ${scheme} is not allowed`);
  if (u.password || (u.username && scheme !== "ssh")) throw bad("must not contain credentials");
  if (u.search || u.hash) throw bad("must not have a query or fragment");
  return fromHostPath(scheme, u.host.toLowerCase(), u.pathname, input, githubHosts);
}

function fromHostPath(scheme: string, host: string, path: string, original: string, githubHosts: string[]): RepoRef {
  if (githubHosts.includes(host)) {
    const m = GITHUB_PATH.exec(path);
    if (!m?.groups) throw invalidInput({ repoUrl: "a GitHub URL must be https://HOST/OWNER/NAME" });
    const fullName = `${m.groups.owner}/${m.groups.name}`;
    return { url: `https://${host}/${fullName}`, provider: "github", host, fullName };
  }
  return { url: scheme === "ssh" ? original : original.replace(/\/+$/, ""), provider: "git", host, fullName: null };
}

/** The hosts that are GitHub: github.com plus the configured GitHub Enterprise host. */
export function githubHostsFrom(baseUrl: string): string[] {
  const hosts = new Set(["github.com"]);
  try {
    if (baseUrl) hosts.add(new URL(baseUrl).host.toLowerCase());
  } catch {
    // an unparsable setting adds nothing
  }
  return [...hosts];
}

/** The URL git clones from: GitHub repositories by their current https location. */
export function cloneUrlOf(ref: Pick<RepoRef, "url" | "provider" | "host" | "fullName">): string {
  if (ref.provider === "github" && ref.host && ref.fullName) return `https://${ref.host}/${ref.fullName}.git`;
  return ref.url;
}

/**
 * Asks the GitHub API about a repository, by `owner/name` or by numeric id (`/repositories/:id`, which still
 * answers after a rename or transfer). Returns null when GitHub does not know it or cannot be reached.
 */
export async function fetchGithubRepo(
  apiUrl: string,
  by: { fullName: string } | { id: string },
  opts: { token?: string; timeoutMs?: number } = {},
): Promise<GithubRepo | null> {
  const base = apiUrl.replace(/\/+$/, "");
  const path = "id" in by ? `/repositories/${encodeURIComponent(by.id)}` : `/repos/${by.fullName}`;
  try {
    const res = await fetch(base + path, {
      headers: {
        accept: "application/vnd.github+json",
        "user-agent": "devsponsor",
        ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      },
      signal: AbortSignal.timeout(opts.timeoutMs ?? 3000),
    });
    if (!res.ok) return null;
    const body = (await res.json()) as { id?: number; full_name?: string; html_url?: string; private?: boolean };
    if (typeof body.id !== "number" || typeof body.full_name !== "string") return null;
    return { id: String(body.id), fullName: body.full_name, htmlUrl: body.html_url ?? "", private: !!body.private };
  } catch {
    return null;
  }
}
