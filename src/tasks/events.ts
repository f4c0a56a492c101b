// The tasks domain's single emit point: every task event passes here, inside the transaction of the change it
// announces. It turns each event into in-app notifications (and their e-mails in the outbox) for the people
// concerned, hands it to the in-transaction subscribers, and writes it to the domain event bus's outbox.
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "../core/db";
import { emitEvent } from "../events/service";
import { notify } from "../notifications/service";
import { orgMembers } from "../orgs/schema";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Names of the task events. */
export type TaskEventName =
  | "task.claimed"
  | "task.unclaimed"
  | "task.released"
  | "task.claim_expired"
  | "task.claim_expiring"
  | "task.work_linked"
  | "task.verification_started"
  | "task.verification_failed"
  | "task.verified"
  | "task.flaky"
  | "task.payment_started"
  | "task.payment_failed"
  | "task.rejected"
  | "task.paid";

/** What every task event carries. */
export interface TaskEvent {
  taskId: string;
  projectId: string;
  orgId: string;
  title: string;
  actorId: string | null;
  /** The claimer the event concerns, when there is one. */
  claimerId?: string | null;
  reason?: string;
  [k: string]: unknown;
}

const who: Record<
  TaskEventName,
  { claimer: boolean; reviewers: boolean; type: string; say: (e: TaskEvent) => string }
> = {
  "task.claimed": { claimer: false, reviewers: true, type: "TASK_CLAIMED", say: (e) => `Task claimed: ${e.title}` },
  "task.unclaimed": {
    claimer: false,
    reviewers: true,
    type: "TASK_UNCLAIMED",
    say: (e) => `Task given up: ${e.title}`,
  },
  "task.released": { claimer: true, reviewers: false, type: "TASK_RELEASED", say: (e) => `Claim released: ${e.title}` },
  "task.claim_expired": {
    claimer: true,
    reviewers: true,
    type: "CLAIM_EXPIRED",
    say: (e) => `Claim expired: ${e.title}`,
  },
  "task.claim_expiring": {
    claimer: true,
    reviewers: false,
    type: "CLAIM_EXPIRING",
    say: (e) => `Your claim expires soon: ${e.title}`,
  },
  "task.work_linked": { claimer: false, reviewers: true, type: "PR_LINKED", say: (e) => `Work linked: ${e.title}` },
  "task.verification_started": {
    claimer: true,
    reviewers: false,
    type: "VERIFICATION_PENDING",
    say: (e) => `Verification started: ${e.title}`,
  },
  "task.verification_failed": {
    claimer: true,
    reviewers: false,
    type: "VERIFICATION_FAILED",
    say: (e) => `Verification failed: ${e.title}`,
  },
  "task.verified": { claimer: true, reviewers: true, type: "VERIFICATION_SUCCESS", say: (e) => `Verified: ${e.title}` },
  "task.flaky": {
    claimer: true,
    reviewers: true,
    type: "VERIFICATION_FLAKY",
    say: (e) => `Flaky tests, waiting for a reviewer: ${e.title}`,
  },
  "task.payment_started": {
    claimer: true,
    reviewers: false,
    type: "PAYMENT_PENDING",
    say: (e) => `Payment on its way: ${e.title}`,
  },
  "task.payment_failed": {
    claimer: true,
    reviewers: true,
    type: "PAYMENT_FAILED",
    say: (e) => `Payment failed: ${e.title}`,
  },
  "task.rejected": {
    claimer: true,
    reviewers: false,
    type: "TASK_REJECTED",
    say: (e) => `Changes requested: ${e.title}`,
  },
  "task.paid": { claimer: true, reviewers: true, type: "PAYMENT", say: (e) => `Paid: ${e.title}` },
};

/** Hears every task event inside the emitting transaction (to queue its own work); it must not throw. */
export type TaskEventSubscriber = (tx: Tx | Db, name: TaskEventName, event: TaskEvent) => void | Promise<void>;

const subscribers = new Set<TaskEventSubscriber>();

/** Adds a subscriber to every task event (domains register at boot); returns the function that removes it. */
export function onTaskEvent(fn: TaskEventSubscriber): () => void {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

/** Emits one task event: notifies the claimer and/or the project's reviewers (never the person who acted). */
export async function emitTaskEvent(tx: Tx | Db, name: TaskEventName, event: TaskEvent): Promise<void> {
  const rule = who[name];
  const recipients = new Set<string>();
  if (rule.claimer && event.claimerId) recipients.add(event.claimerId);
  if (rule.reviewers) {
    const rows = await tx
      .select({ userId: orgMembers.userId })
      .from(orgMembers)
      .where(and(eq(orgMembers.orgId, event.orgId), inArray(orgMembers.role, ["OWNER", "MAINTAINER", "SPONSOR"])));
    for (const r of rows) recipients.add(r.userId);
  }
  if (event.actorId) recipients.delete(event.actorId);
  for (const userId of recipients) {
    await notify(tx as Db, userId, {
      type: rule.type,
      title: rule.say(event),
      body: event.reason ?? "",
      link: `/tasks/${event.taskId}`,
      metadata: { event: name, taskId: event.taskId, projectId: event.projectId },
      email: name === "task.paid" || name === "task.verification_failed" || name === "task.claim_expiring",
    });
  }
  for (const fn of subscribers) await fn(tx, name, event);
  await emitEvent(tx as Db, name, event);
}
