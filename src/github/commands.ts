// Slash commands in issue and pull request comments: /claim, /unclaim and /status, from GitHub users whose
// account is linked to a DevSponsor account. The tasks service decides who may do what; the bot answers.
import { and, eq } from "drizzle-orm";
import type { AppContext, Principal } from "../core/context";
import { AppError, invalidInput } from "../core/errors";
import { requireOrgRole } from "../orgs/permissions";
import { claimTask, latestVerification, loadTask, unclaimTask } from "../tasks/service";
import { postComment, repoClient } from "./api";
import { appConfig } from "./client";
import { githubIssueLinks, githubPulls, githubRepositories } from "./schema";
import { principalOf } from "./service";

type Payload = Record<string, any>;

/** One command found in a comment. */
export interface SlashCommand {
  name: "claim" | "unclaim" | "status";
  /** A task id or task URL given after the command, if any. */
  arg: string;
}

/** The commands of a comment, one per line starting with `/claim`, `/unclaim` or `/status` (at most 5). */
export function parseCommands(body: string): SlashCommand[] {
  const out: SlashCommand[] = [];
  for (const line of body.split(/\r?\n/)) {
    const m = /^\s*\/(claim|unclaim|status)(?:\s+(\S+))?\s*$/.exec(line);
    if (m) out.push({ name: m[1] as SlashCommand["name"], arg: m[2] ?? "" });
    if (out.length === 5) break;
  }
  return out;
}

const taskIdIn = (arg: string) =>
  /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/i.exec(arg)?.[1]?.toLowerCase();

/** Runs the commands of a new comment and answers each; returns what happened. */
export async function runCommands(ctx: AppContext, p: Payload): Promise<string> {
  const commands = parseCommands(String(p.comment?.body ?? ""));
  if (commands.length === 0) return "comment without commands";
  // The bot's own answers (and other bots) never run commands.
  if (p.comment?.user?.type === "Bot" || p.sender?.type === "Bot") return "comment by a bot: ignored";
  const repoId = Number(p.repository?.id);
  const number = Number(p.issue?.number);
  const [repo] = await ctx.db.select().from(githubRepositories).where(eq(githubRepositories.repoId, repoId));
  if (!repo?.projectId) return "commands in a repository not linked to a project: ignored";
  if (repo.removedAt || !repo.installationId) return "the App no longer reaches this repository: ignored";
  const client = await repoClient(ctx, repoId);
  const login = String(p.comment?.user?.login ?? "");
  const principal = await principalOf(ctx, p.comment?.user ?? {});
  const answers: string[] = [];
  for (const cmd of commands) {
    if (!principal) {
      answers.push(`@${login} your GitHub account is not linked to a DevSponsor account: sign in with GitHub first.`);
      break;
    }
    const taskId = taskIdIn(cmd.arg) ?? (await linkedTask(ctx, repoId, number, !!p.issue?.pull_request));
    if (!taskId) {
      answers.push(`@${login} no task is linked here: give the task, e.g. \`/${cmd.name} <task URL>\`.`);
      continue;
    }
    try {
      const tc = await loadTask(ctx.db, principal, taskId);
      if (tc.project.id !== repo.projectId) {
        answers.push(`@${login} that task belongs to another project's repository.`);
        continue;
      }
      const link = taskLink(ctx, taskId);
      if (cmd.name === "claim") {
        await claimTask(ctx, principal, taskId);
        await ctx.db.insert(githubIssueLinks).values({ repoId, number, taskId }).onConflictDoNothing();
        answers.push(`@${login} claimed [${tc.task.title}](${link}).`);
      } else if (cmd.name === "unclaim") {
        await unclaimTask(ctx, principal, taskId);
        answers.push(`@${login} gave up [${tc.task.title}](${link}); it is open again.`);
      } else {
        const v = await latestVerification(ctx.db, taskId);
        const verdict = v
          ? ` Latest verification: ${v.status}${v.passedCount != null ? ` (${v.passedCount} passed, ${v.failedCount ?? 0} failed)` : ""}.`
          : "";
        answers.push(`[${tc.task.title}](${link}) is ${tc.task.status}.${verdict}`);
      }
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500) throw err;
      answers.push(`@${login} /${cmd.name} refused: ${err.message}`);
    }
  }
  await postComment(client, number, answers.join("\n\n"));
  return `${commands.map((c) => `/${c.name}`).join(", ")} by ${login}: ${answers.length} answer${answers.length === 1 ? "" : "s"}`;
}

/** The task an issue or pull request is tied to (an issue by its link, a pull request by its claim). */
async function linkedTask(ctx: AppContext, repoId: number, number: number, isPull: boolean) {
  const [link] = await ctx.db
    .select({ taskId: githubIssueLinks.taskId })
    .from(githubIssueLinks)
    .where(and(eq(githubIssueLinks.repoId, repoId), eq(githubIssueLinks.number, number)));
  if (link) return link.taskId;
  if (!isPull) return undefined;
  const [pull] = await ctx.db
    .select({ taskId: githubPulls.taskId })
    .from(githubPulls)
    .where(and(eq(githubPulls.repoId, repoId), eq(githubPulls.number, number)));
  return pull?.taskId ?? undefined;
}

/** The task's page on this appliance (absolute when the public URL is set). */
export function taskLink(ctx: Pick<AppContext, "settings">, taskId: string): string {
  return `${ctx.settings.get("instance.publicUrl").replace(/\/+$/, "")}/tasks/${taskId}`;
}

/**
 * Links a GitHub issue of the project's repository to a task (project maintainers, owners and sponsors): slash
 * commands in that issue then act on the task without naming it.
 */
export async function linkIssue(
  ctx: Pick<AppContext, "db" | "settings">,
  principal: Principal | null,
  taskId: string,
  url: string,
): Promise<{ repoId: number; number: number }> {
  const tc = await loadTask(ctx.db, principal, taskId);
  await requireOrgRole(ctx.db, principal, tc.project.orgId, "project.manageMilestones", "Task");
  const base = appConfig(ctx.settings).baseUrl.toLowerCase();
  const m = /^(.+)\/([\w.-]+\/[\w.-]+)\/issues\/(\d{1,9})\/?$/.exec(url.trim());
  if (!m || m[1]!.toLowerCase() !== base) {
    throw invalidInput({ url: `Give an issue URL on ${base} (…/owner/repo/issues/123).` });
  }
  const [repo] = await ctx.db.select().from(githubRepositories).where(eq(githubRepositories.projectId, tc.project.id));
  if (!repo || repo.fullName.toLowerCase() !== m[2]!.toLowerCase()) {
    throw invalidInput({ url: "That issue is not in the project's repository (installed with the GitHub App)." });
  }
  const number = Number(m[3]);
  await ctx.db
    .insert(githubIssueLinks)
    .values({ repoId: repo.repoId, number, taskId })
    .onConflictDoUpdate({ target: [githubIssueLinks.repoId, githubIssueLinks.number], set: { taskId } });
  return { repoId: repo.repoId, number };
}
