// Calls on one repository as the App's installation that holds it: the installation and current name come from
// the stored repository (by its stable id), so a renamed or transferred repository keeps working.
import { eq } from "drizzle-orm";
import type { Octokit } from "octokit";
import type { AppContext } from "../core/context";
import { FatalJobError } from "../core/jobs";
import { githubClient, githubError } from "./client";
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
