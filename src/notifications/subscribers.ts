// The one place where bus events become notifications: for each event, who hears of it and what they read.
// Each subscriber runs in the transaction that records its delivery (src/events/service.ts), so a redelivered
// event finds the subscriber recorded and notifies nobody twice; the preferences of each person decide the
// channels (src/notifications/service.ts `notify`). The person who acted is never told of their own act.
import { and, eq, inArray } from "drizzle-orm";
import { formatUnits, getAddress, isAddress } from "viem";
import type { AppContext } from "../core/context";
import type { Db } from "../core/db";
import type { DomainEvent } from "../events/service";
import { tasks } from "../milestones/schema";
import { orgMembers } from "../orgs/schema";
import { payments } from "../payments/schema";
import { projects } from "../projects/schema";
import { taskVerifications } from "../tasks/schema";
import { type NotificationInput, notify } from "./service";

/** Who hears of a task event: the claimer, the project's reviewers (owners, maintainers, sponsors), or both. */
interface TaskRule {
  claimer: boolean;
  reviewers: boolean;
  type: string;
  say: (title: string) => string;
}

/** Task events (src/tasks/events.ts) and their notifications; `task.paid` is told by `payment.completed`. */
export const TASK_RULES: Record<string, TaskRule> = {
  "task.claimed": { claimer: false, reviewers: true, type: "TASK_CLAIMED", say: (t) => `Task claimed: ${t}` },
  "task.unclaimed": { claimer: false, reviewers: true, type: "TASK_UNCLAIMED", say: (t) => `Task given up: ${t}` },
  "task.released": { claimer: true, reviewers: false, type: "TASK_RELEASED", say: (t) => `Claim released: ${t}` },
  "task.claim_expired": { claimer: true, reviewers: true, type: "CLAIM_EXPIRED", say: (t) => `Claim expired: ${t}` },
  "task.claim_expiring": {
    claimer: true,
    reviewers: false,
    type: "CLAIM_EXPIRING",
    say: (t) => `Your claim expires soon: ${t}`,
  },
  "task.work_linked": { claimer: false, reviewers: true, type: "PR_LINKED", say: (t) => `Work linked: ${t}` },
  "task.verification_started": {
    claimer: true,
    reviewers: false,
    type: "VERIFICATION_PENDING",
    say: (t) => `Verification started: ${t}`,
  },
  "task.verification_failed": {
    claimer: true,
    reviewers: false,
    type: "VERIFICATION_FAILED",
    say: (t) => `Verification failed: ${t}`,
  },
  "task.verified": { claimer: true, reviewers: true, type: "VERIFICATION_SUCCESS", say: (t) => `Verified: ${t}` },
  "task.flaky": {
    claimer: true,
    reviewers: true,
    type: "VERIFICATION_FLAKY",
    say: (t) => `Flaky tests, waiting for a reviewer: ${t}`,
  },
  "task.payment_started": {
    claimer: true,
    reviewers: false,
    type: "PAYMENT_PENDING",
    say: (t) => `Payment on its way: ${t}`,
  },
  "task.payment_failed": {
    claimer: true,
    reviewers: true,
    type: "PAYMENT_FAILED",
    say: (t) => `Payment failed: ${t}`,
  },
  "task.rejected": { claimer: true, reviewers: false, type: "TASK_REJECTED", say: (t) => `Changes requested: ${t}` },
};

const str = (v: unknown) => (typeof v === "string" ? v : null);

/** Registers every notification subscriber on the bus. */
export function subscribeNotifications(ctx: AppContext) {
  const bus = ctx.events;
  if (!bus) return;
  bus.subscribe("notifications.task", "task.*", taskEvent);
  bus.subscribe("notifications.payment-completed", "payment.completed", paymentCompleted);
  bus.subscribe("notifications.project-funded", "project.funded", projectFunded);
  bus.subscribe("notifications.yield-harvested", "yield.harvested", yieldHarvested);
  bus.subscribe("notifications.repo-access", "repo.access_granted", repoAccessGranted);
}

/** The org's owners, maintainers and sponsors: the people a project's tasks report to. */
async function reviewersOf(tx: Db, orgId: string): Promise<string[]> {
  const rows = await tx
    .select({ userId: orgMembers.userId })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, orgId), inArray(orgMembers.role, ["OWNER", "MAINTAINER", "SPONSOR"])));
  return rows.map((r) => r.userId);
}

/** Notifies each recipient once (the actor left out), with the event named in the metadata. */
async function tell(tx: Db, event: DomainEvent, recipients: Iterable<string>, n: NotificationInput, actorId?: unknown) {
  const told = new Set(recipients);
  if (typeof actorId === "string") told.delete(actorId);
  for (const userId of told) {
    await notify(tx, userId, { ...n, metadata: { ...n.metadata, event: event.name, eventId: event.id } });
  }
}

/** Why a verification failed, with its failing tests named (at most 20). */
async function failingTests(tx: Db, verificationId: string | null): Promise<string[]> {
  if (!verificationId) return [];
  const [v] = await tx
    .select({ tests: taskVerifications.tests, named: taskVerifications.named })
    .from(taskVerifications)
    .where(eq(taskVerifications.id, verificationId));
  if (!v) return [];
  const names = new Set<string>();
  for (const n of v.named ?? []) if (n.status !== "passed") names.add(`${n.id} (${n.status})`);
  for (const t of v.tests ?? []) if (!t.passed && ![...names].some((x) => x.startsWith(`${t.id} (`))) names.add(t.id);
  return [...names].slice(0, 20);
}

/** `task.*`: the claimer and/or the reviewers, per TASK_RULES. */
async function taskEvent(event: DomainEvent, tx: Db) {
  const rule = TASK_RULES[event.name];
  if (!rule) return;
  const e = event.payload;
  const taskId = String(e.taskId);
  const recipients: string[] = [];
  const claimerId = str(e.claimerId);
  if (rule.claimer && claimerId) recipients.push(claimerId);
  if (rule.reviewers) recipients.push(...(await reviewersOf(tx, String(e.orgId))));
  let body = str(e.reason) ?? "";
  if (event.name === "task.verification_failed") {
    const failing = await failingTests(tx, str(e.verificationId));
    if (failing.length > 0) body = `${body}\n\nFailing tests:\n${failing.map((f) => `- ${f}`).join("\n")}`.trim();
  }
  await tell(
    tx,
    event,
    recipients,
    {
      type: rule.type,
      title: rule.say(String(e.title)),
      body,
      link: `/tasks/${taskId}`,
      metadata: { taskId, projectId: e.projectId },
    },
    e.actorId,
  );
}

/** `payment.completed`: the claimer received the amount (after the fee); the project's reviewers sent it. */
async function paymentCompleted(event: DomainEvent, tx: Db) {
  const e = event.payload;
  const taskId = String(e.taskId);
  const [row] = await tx
    .select({
      title: tasks.title,
      claimerId: tasks.claimedById,
      orgId: projects.orgId,
      projectId: projects.id,
      symbol: projects.tokenSymbol,
      decimals: projects.tokenDecimals,
    })
    .from(tasks)
    .innerJoin(projects, eq(projects.id, tasks.projectId))
    .where(eq(tasks.id, taskId));
  if (!row) return; // deleted since
  const [payment] = await tx
    .select({ amount: payments.amount, fee: payments.fee, payee: payments.payee })
    .from(payments)
    .where(eq(payments.id, String(e.paymentId)));
  const gross = BigInt(payment?.amount ?? str(e.amount) ?? "0");
  const fee = BigInt(payment?.fee ?? "0");
  const unit = row.symbol ?? "ETH";
  const money = (v: bigint) => `${formatUnits(v, row.decimals)} ${unit}`;
  const tx_ = str(e.txHash) ?? "";
  const stored = payment?.payee ?? str(e.payee) ?? "";
  // shown as people copy addresses from their wallets (EIP-55 mixed case); stored lower-cased
  const payee = isAddress(stored, { strict: false }) ? getAddress(stored) : stored;
  const metadata = { taskId, projectId: row.projectId, paymentId: e.paymentId, txHash: tx_ };
  if (row.claimerId) {
    await tell(tx, event, [row.claimerId], {
      type: "PAYMENT",
      title: `Payment received: ${money(gross - fee)} for ${row.title}`,
      body: [
        `You received ${money(gross - fee)} at ${payee}${fee > 0n ? ` (${money(gross)} less the ${money(fee)} fee)` : ""}.`,
        `Transaction: ${tx_}`,
      ].join("\n"),
      link: "/me/earnings",
      metadata,
    });
  }
  await tell(
    tx,
    event,
    await reviewersOf(tx, row.orgId),
    {
      type: "PAYMENT_SENT",
      title: `Payment sent: ${money(gross)} for ${row.title}`,
      body: [
        `${money(gross - fee)} went to ${payee}${fee > 0n ? `, ${money(fee)} fee` : ""}.`,
        `Transaction: ${tx_}`,
      ].join("\n"),
      link: `/tasks/${taskId}`,
      metadata,
    },
    row.claimerId,
  );
}

/** The project of an event with its org, title and token; null when it was deleted since. */
async function projectOf(tx: Db, projectId: string) {
  const [p] = await tx
    .select({
      title: projects.title,
      orgId: projects.orgId,
      symbol: projects.tokenSymbol,
      decimals: projects.tokenDecimals,
    })
    .from(projects)
    .where(eq(projects.id, projectId));
  return p ?? null;
}

/** `project.funded`: the org's owners, maintainers and sponsors hear that the project is live. */
async function projectFunded(event: DomainEvent, tx: Db) {
  const projectId = String(event.payload.projectId);
  const project = await projectOf(tx, projectId);
  if (!project) return;
  const amount = str(event.payload.amount);
  await tell(tx, event, await reviewersOf(tx, project.orgId), {
    type: "PROJECT_FUNDED",
    title: `Project funded: ${project.title}`,
    body: amount
      ? `${formatUnits(BigInt(amount), project.decimals)} ${project.symbol ?? "ETH"} deposited; its tasks can be claimed.`
      : "",
    link: `/projects/${projectId}`,
    metadata: { projectId },
  });
}

/** `yield.harvested`: the org's owners, maintainers and sponsors see the harvest and its split. */
async function yieldHarvested(event: DomainEvent, tx: Db) {
  const e = event.payload;
  const projectId = String(e.projectId);
  const project = await projectOf(tx, projectId);
  if (!project) return;
  const money = (v: unknown) => `${formatUnits(BigInt(str(v) ?? "0"), project.decimals)} ${project.symbol ?? "ETH"}`;
  await tell(tx, event, await reviewersOf(tx, project.orgId), {
    type: "YIELD_HARVESTED",
    title: `Yield harvested: ${money(e.yieldAmount)} for ${project.title}`,
    body: `Sponsors' share ${money(e.sponsorShare)}, fee ${money(e.fee)}.\nTransaction: ${str(e.txHash) ?? ""}`,
    link: `/projects/${projectId}`,
    metadata: { projectId, harvestId: e.harvestId, txHash: e.txHash },
  });
}

/**
 * `repo.access_granted` ({ taskId, userId, repo, state, acceptUrl? }): the claimer may push to the private
 * repository (ACTIVE), or has an invitation to accept on the host first (PENDING).
 */
async function repoAccessGranted(event: DomainEvent, tx: Db) {
  const e = event.payload;
  const userId = str(e.userId);
  const taskId = str(e.taskId);
  if (!userId || !taskId) return;
  const repo = str(e.repo) ?? "the project's repository";
  const pending = e.state === "PENDING";
  await tell(tx, event, [userId], {
    type: "REPO_ACCESS_GRANTED",
    title: `Repository access: ${repo}`,
    body: pending
      ? `You are invited to ${repo}. Accept the invitation${str(e.acceptUrl) ? ` at ${str(e.acceptUrl)}` : " on GitHub"}, then push your work there.`
      : `You can push to ${repo} now.`,
    link: `/tasks/${taskId}`,
    metadata: { taskId, repo },
  });
}
