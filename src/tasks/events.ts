// The tasks domain's single emit point: every task event passes here, inside the transaction of the change it
// announces. It hands the event to the in-transaction subscribers and writes it to the domain event bus's outbox,
// from where the notifications domain tells the people concerned.
import type { Db } from "../core/db";
import { emitEvents } from "../events/service";

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

/** Hears every task event inside the emitting transaction (to queue its own work); it must not throw. */
export type TaskEventSubscriber = (tx: Tx | Db, name: TaskEventName, event: TaskEvent) => void | Promise<void>;

const subscribers = new Set<TaskEventSubscriber>();

/** Adds a subscriber to every task event (domains register at boot); returns the function that removes it. */
export function onTaskEvent(fn: TaskEventSubscriber): () => void {
  subscribers.add(fn);
  return () => subscribers.delete(fn);
}

/**
 * Emits one task event: hands it to the in-transaction subscribers and writes it to the domain event bus's outbox
 * (the notifications domain tells the people concerned from there, src/notifications/subscribers.ts).
 */
export async function emitTaskEvent(tx: Tx | Db, name: TaskEventName, event: TaskEvent): Promise<void> {
  await emitTaskEvents(tx, [{ name, event }]);
}

/** emitTaskEvent for several events of one transaction, written to the outbox together. */
export async function emitTaskEvents(tx: Tx | Db, list: { name: TaskEventName; event: TaskEvent }[]): Promise<void> {
  for (const { name, event } of list) for (const fn of subscribers) await fn(tx, name, event);
  await emitEvents(
    tx as Db,
    list.map(({ name, event }) => ({ name, payload: event })),
  );
}
