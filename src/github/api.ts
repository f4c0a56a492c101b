// Calls on one repository as the App's installation that holds it: the installation and current name come from
// the stored repository (by its stable id), so a renamed or transferred repository keeps working.
import { eq } from "drizzle-orm";
import type { Octokit } from "octokit";
import type { AppContext } from "../core/context";
import { FatalJobError } from "../core/jobs";
import { appConfig, appConfigured, githubClient, githubError } from "./client";
import { githubRepositories } from "./schema";

/** An installation client bound to one repository. */
export interface RepoClient {
  octokit: Octokit;
  owner: string;
  repo: string;
  repoId: number;
  private: boolean;
}

/** The client for a stored repository; FatalJobError when the App no longer reaches it. */
export async function repoClient(ctx: Pick<AppContext, "db" | "settings">, repoId: number): Promise<RepoClient> {
  const [r] = await ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, repoId));
  if (!r || r.removedAt || !r.installationId) throw new FatalJobError(`the App cannot reach repository ${repoId}`);
  const [owner, repo] = r.fullName.split("/") as [string, string];
  try {
    const octokit = await githubClient(ctx).installation(r.installationId);
    return { octokit, owner, repo, repoId, private: r.private };
  } catch (err) {
    throw githubError(err, `act on ${r.fullName}`);
  }
}

/** The stored repository linked to a project, if any. */
export async function projectRepo(ctx: Pick<AppContext, "db">, projectId: string) {
  const [r] = await ctx.db.select().from(githubRepositories).where(eq(githubRepositories.projectId, projectId));
  return r && !r.removedAt && r.installationId ? r : undefined;
}

/** Lower-cased `owner/name` of a project repository URL on the configured GitHub, or null. */
export function fullNameOf(baseUrl: string, repoUrl: string | null): string | null {
  if (!repoUrl) return null;
  const base = baseUrl.replace(/\/+$/, "").toLowerCase();
  const u = repoUrl
    .trim()
    .toLowerCase()
    .replace(/\/+$/, "")
    .replace(/\.git$/, "");
  if (!u.startsWith(`${base}/`)) return null;
  const rest = u.slice(base.length + 1);
  return /^[\w.-]+\/[\w.-]+$/.test(rest) ? rest : null;
}

/**
 * The installation token git fetches `repoUrl` with, for the host-side fetches of a project's work (the link
 * check, the harness): only when the URL names the repository linked to that project, so a URL someone else
 * gives (a fork, another repository of the same installation) never gets the App's access. Undefined when no App
 * reaches it. A token that cannot be had is an error for a private repository; a public one is fetched without.
 */
export async function projectGitToken(
  ctx: Pick<AppContext, "db" | "settings" | "log">,
  projectId: string,
  repoUrl: string,
): Promise<string | undefined> {
  if (!appConfigured(ctx.settings)) return undefined;
  const name = fullNameOf(appConfig(ctx.settings).baseUrl, repoUrl);
  if (!name) return undefined;
  const repo = await projectRepo(ctx, projectId);
  if (!repo?.installationId || repo.fullName.toLowerCase() !== name) return undefined;
  try {
    return await githubClient(ctx).installationToken(repo.installationId);
  } catch (err) {
    if (repo.private) throw githubError(err, `issue a token to fetch ${repo.fullName}`);
    ctx.log.warn("github: fetching a public repository without a token", { repo: repo.fullName, err });
    return undefined;
  }
}

/** Posts a comment on an issue or pull request. */
export async function postComment(c: RepoClient, number: number, body: string): Promise<number> {
  try {
    const res = await c.octokit.request("POST /repos/{owner}/{repo}/issues/{issue_number}/comments", {
      owner: c.owner,
      repo: c.repo,
      issue_number: number,
      body,
    });
    return Number(res.data.id);
  } catch (err) {
    throw githubError(err, `comment on ${c.owner}/${c.repo}#${number}`);
  }
}
