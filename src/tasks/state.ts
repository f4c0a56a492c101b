// The task state machine, in one place: which transitions exist, who may make each, and the one function that
// applies a transition (checks the table, moves the row only if nobody moved it first, writes the audit trail and
// emits the one domain event of the change).
import { and, eq } from "drizzle-orm";
import { audit } from "../audit/service";
import type { Db } from "../core/db";
import { AppError } from "../core/errors";
import { type Task, type TaskStatus, tasks } from "../milestones/schema";
import { emitTaskEvent, type TaskEventName } from "./events";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
/** A database handle or an open transaction. */
export type Q = Db | Tx;

/** Who makes a transition: the claimer, a reviewer of the project (sponsor, maintainer, owner), or the system. */
export type Actor = { kind: "claimer"; userId: string } | { kind: "reviewer"; userId: string } | { kind: "system" };

interface Rule {
  from: TaskStatus;
  to: TaskStatus;
  by: Actor["kind"][];
  event: TaskEventName;
  /** Events the same move may announce instead, when the caller names one (a flaky verdict waits as VERIFIED). */
  also?: TaskEventName[];
}

/** Every allowed transition (spec §6.1.5–6.1.8). Anything else is TASK_STATE_CONFLICT. */
export const TRANSITIONS: readonly Rule[] = [
  { from: "OPEN", to: "CLAIMED", by: ["claimer"], event: "task.claimed" },
  { from: "CLAIMED", to: "OPEN", by: ["claimer"], event: "task.unclaimed" },
  { from: "CLAIMED", to: "OPEN", by: ["reviewer"], event: "task.released" },
  { from: "CLAIMED", to: "OPEN", by: ["system"], event: "task.claim_expired" },
  { from: "VERIFYING", to: "OPEN", by: ["reviewer"], event: "task.released" },
  { from: "VERIFIED", to: "OPEN", by: ["reviewer"], event: "task.released" },
  { from: "CLAIMED", to: "VERIFYING", by: ["claimer", "system"], event: "task.verification_started" },
  { from: "VERIFIED", to: "VERIFYING", by: ["claimer", "system"], event: "task.verification_started" },
  { from: "VERIFYING", to: "CLAIMED", by: ["system"], event: "task.verification_failed" },
  { from: "VERIFYING", to: "VERIFIED", by: ["system"], event: "task.verified", also: ["task.flaky"] },
  { from: "VERIFIED", to: "PAYING", by: ["system", "reviewer"], event: "task.payment_started" },
  { from: "VERIFIED", to: "CLAIMED", by: ["reviewer"], event: "task.rejected" },
  { from: "PAYING", to: "PAID", by: ["system"], event: "task.paid" },
  { from: "PAYING", to: "VERIFIED", by: ["system"], event: "task.payment_failed" },
];

/** The rule for a move, or undefined when the table has none. */
export function ruleFor(from: TaskStatus, to: TaskStatus, actor: Actor["kind"]): Rule | undefined {
  return TRANSITIONS.find((r) => r.from === from && r.to === to && r.by.includes(actor));
}

/** What a transition changes besides the state. */
export interface TransitionInput {
  task: Pick<Task, "id" | "projectId" | "status" | "title" | "claimedById">;
  orgId: string;
  to: TaskStatus;
  actor: Actor;
  /** Sets or clears the claimer (claim, unclaim, release, expiry). */
  claimedById?: string | null;
  /** In words, for the audit trail and the notification (a failed test, a reviewer's comment). */
  reason?: string;
  data?: Record<string, unknown>;
  /** One of the rule's `also` events instead of its own. */
  event?: TaskEventName;
}

/**
 * Applies one transition inside `tx`: refuses moves the table does not allow, moves the row only from the state
 * the caller saw (a concurrent change makes this TASK_STATE_CONFLICT), audits and emits.
 */
export async function transition(tx: Q, input: TransitionInput): Promise<void> {
  const { task, to, actor } = input;
  const rule = ruleFor(task.status, to, actor.kind);
  if (!rule) {
    throw new AppError(
      "TASK_STATE_CONFLICT",
      `A task that is ${task.status.toLowerCase()} cannot become ${to.toLowerCase()} this way.`,
      409,
    );
  }
  if (input.event && input.event !== rule.event && !rule.also?.includes(input.event)) {
    throw new AppError(
      "TASK_STATE_CONFLICT",
      `A ${task.status.toLowerCase()} task cannot announce ${input.event}.`,
      409,
    );
  }
  const event = input.event ?? rule.event;
  const set: Partial<Task> = { status: to, updatedAt: new Date() };
  if (input.claimedById !== undefined) set.claimedById = input.claimedById;
  const moved = await tx
    .update(tasks)
    .set(set)
    .where(and(eq(tasks.id, task.id), eq(tasks.status, task.status)))
    .returning({ id: tasks.id });
  if (moved.length === 0) {
    throw new AppError("TASK_STATE_CONFLICT", "The task changed meanwhile; reload and try again.", 409);
  }
  const actorId = actor.kind === "system" ? null : actor.userId;
  await emitTaskEvent(tx, event, {
    taskId: task.id,
    projectId: task.projectId,
    orgId: input.orgId,
    title: task.title,
    actorId,
    claimerId: input.claimedById || task.claimedById,
    from: task.status,
    to,
    reason: input.reason,
    ...(input.data ?? {}),
  });
  // the audit entry last: its chain lock is held until the commit, so it is taken as late as this step allows
  await audit(tx as Db, {
    actorId,
    action: event,
    targetType: "task",
    targetId: task.id,
    orgId: input.orgId,
    payload: { from: task.status, to, ...(input.reason ? { reason: input.reason } : {}), ...(input.data ?? {}) },
  });
}
