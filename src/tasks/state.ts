// The task state machine, in one place: which transitions exist, who may make each, and the one function that
// applies a transition (checks the table, moves the row only if nobody moved it first, writes the audit trail and
// emits the one domain event of the change).
import { sql } from "drizzle-orm";
import { auditMany } from "../audit/service";
import { type Db, resultRows } from "../core/db";
import { AppError } from "../core/errors";
import { type Task, type TaskStatus, tasks } from "../milestones/schema";
import { emitTaskEvents, type TaskEventName } from "./events";

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
  const [moved] = await transitionMany(tx, [input]);
  if (!moved) throw new AppError("TASK_STATE_CONFLICT", "The task changed meanwhile; reload and try again.", 409);
}

/**
 * Applies transitions of different tasks inside `tx` with a handful of statements whatever their number (a batch
 * of claims): each moves only from the state its caller saw; answers, per input, whether it moved. The ones that
 * moved are audited and emitted, in order. A move the table does not allow throws before anything is written.
 */
export async function transitionMany(tx: Q, inputs: TransitionInput[]): Promise<boolean[]> {
  const events = inputs.map((input) => {
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
    return input.event ?? rule.event;
  });
  if (new Set(inputs.map((i) => i.task.id)).size !== inputs.length)
    throw new Error("one transition per task at a time");
  if (inputs.length === 0) return [];
  // The inputs as comma-joined lists (ids and states hold no commas), so the statement's text is the same whatever
  // their number and is prepared once.
  const col = (f: (i: TransitionInput) => string) => inputs.map(f).join(",");
  const moved = await tx.execute(
    sql`update ${tasks} set status = v.next, updated_at = now(),
          claimed_by_id = case when v.set_claimer then nullif(v.claimer, '')::uuid else ${tasks.claimedById} end
        from unnest(string_to_array(${col((i) => i.task.id)}, ',')::uuid[], string_to_array(${col((i) => i.task.status)}, ','),
                    string_to_array(${col((i) => i.to)}, ','),
                    string_to_array(${col((i) => (i.claimedById !== undefined ? "t" : "f"))}, ',')::boolean[],
                    string_to_array(${col((i) => i.claimedById ?? "")}, ','))
          as v(id, seen, next, set_claimer, claimer)
        where ${tasks.id} = v.id and ${tasks.status} = v.seen returning ${tasks.id} as id`,
  );
  const ids = new Set(resultRows<{ id: string }>(moved).map((r) => r.id));
  const done = inputs.map((i) => ids.has(i.task.id));
  const applied = inputs.map((input, n) => ({ input, event: events[n]! })).filter((_, n) => done[n]);
  await emitTaskEvents(
    tx,
    applied.map(({ input, event }) => ({
      name: event,
      event: {
        taskId: input.task.id,
        projectId: input.task.projectId,
        orgId: input.orgId,
        title: input.task.title,
        actorId: actorIdOf(input.actor),
        claimerId: input.claimedById || input.task.claimedById,
        from: input.task.status,
        to: input.to,
        reason: input.reason,
        ...(input.data ?? {}),
      },
    })),
  );
  // the audit entries last: the chain's lock is held until the commit, so it is taken as late as this step allows
  await auditMany(
    tx as Db,
    applied.map(({ input, event }) => ({
      actorId: actorIdOf(input.actor),
      action: event,
      targetType: "task",
      targetId: input.task.id,
      orgId: input.orgId,
      payload: {
        from: input.task.status,
        to: input.to,
        ...(input.reason ? { reason: input.reason } : {}),
        ...(input.data ?? {}),
      },
    })),
  );
  return done;
}

const actorIdOf = (actor: Actor) => (actor.kind === "system" ? null : actor.userId);
