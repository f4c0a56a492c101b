// The domain event bus: a transactional outbox (`domain_events`) and the delivery of its rows to subscribers.
// A change and its event commit together (or neither does); an `events.deliver` job, stored in the same
// transaction, hands the event to every subscriber at least once. A crash after the commit loses nothing: the job
// is durable, and the `events.sweep` cron gives a new job to any undelivered event whose job has died.
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import { type AppContext, type Principal, requireUser } from "../core/context";
import type { Database, Db } from "../core/db";
import { AppError } from "../core/errors";
import { enqueueInTx } from "../core/jobs";
import { jobs as jobsTable } from "../core/jobs/schema";
import type { Logger } from "../core/logger";
import { TOPIC_EVENTS_CHANNEL } from "./live";
import { domainEvents } from "./schema";

/** The job that delivers one event to its subscribers. */
export const DELIVER_JOB = "events.deliver";
/** Delivery runs of one job before it is dead (the sweep then starts another, up to GIVE_UP_AFTER runs). */
export const DELIVER_ATTEMPTS = 8;
/** After this many failed runs the sweep leaves the event alone; an admin sees it in the jobs list. */
const GIVE_UP_AFTER = 40;
const NAME = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;

/** A stored domain event as subscribers get it. */
export interface DomainEvent<P = Record<string, unknown>> {
  /** Stable across redeliveries: idempotent subscribers remember it. */
  id: string;
  name: string;
  payload: P;
  orgId: string | null;
  projectId: string | null;
  createdAt: Date;
}

/**
 * A subscriber's handler. It runs inside the transaction that records its delivery, so database work it does
 * through `tx` happens exactly once; anything outside the database (mail, HTTP) happens at least once.
 */
export type EventHandler = (event: DomainEvent, tx: Db) => Promise<void> | void;

interface Subscriber {
  id: string;
  matches: (name: string) => boolean;
  handle: EventHandler;
}

/**
 * Writes event `name` in transaction `tx` (the one making the change it announces) with the job that delivers
 * it. `payload.orgId` and `payload.projectId`, when present, are stored as the event's scope (the delivery job is
 * a system run, which only admins read).
 */
export async function emitEvent(tx: Db, name: string, payload: Record<string, unknown>): Promise<{ id: string }> {
  return (await emitEvents(tx, [{ name, payload }]))[0]!;
}

/**
 * emitEvent for several events at once (a batch of claims): the events, their delivery jobs and the pages' NOTIFY
 * in one statement whatever their number.
 */
export async function emitEvents(
  tx: Db,
  events: { name: string; payload: Record<string, unknown> }[],
): Promise<{ id: string }[]> {
  if (events.length === 0) return [];
  for (const e of events) if (!NAME.test(e.name)) throw new Error(`invalid event name ${JSON.stringify(e.name)}`);
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  const rows = events.map((e) => ({
    id: Bun.randomUUIDv7(),
    name: e.name,
    payload: e.payload,
    orgId: str(e.payload.orgId),
    projectId: str(e.payload.projectId),
  }));
  // Open task and project pages refresh after the commit (NOTIFY is sent with it, never for a rollback).
  const topics = new Set<string>();
  for (const r of rows) {
    if (r.projectId) topics.add(`project:${r.projectId}`);
    const taskId = str(r.payload.taskId);
    if (taskId) topics.add(`task:${taskId}`);
  }
  // a NOTIFY payload holds under 8,000 bytes
  const payloads: string[] = [];
  for (const t of topics) {
    if (payloads.length > 0 && payloads.at(-1)!.length + t.length < 7_000) payloads[payloads.length - 1] += ` ${t}`;
    else payloads.push(t);
  }
  // The rows as one JSON parameter: the statement's text is the same whatever their number, so it is prepared once.
  const list = JSON.stringify(rows.map((r) => ({ ...r, jobId: Bun.randomUUIDv7() })));
  await tx.execute(
    sql`with e as (insert into ${domainEvents} (id, name, payload, org_id, project_id)
                   select (x->>'id')::uuid, x->>'name', x->'payload', (x->>'orgId')::uuid, (x->>'projectId')::uuid
                   from jsonb_array_elements(${list}::jsonb) as x),
             j as (insert into ${jobsTable} (id, name, payload, max_attempts, run_at)
                   select (x->>'jobId')::uuid, ${DELIVER_JOB}, jsonb_build_object('eventId', x->>'id'),
                          ${DELIVER_ATTEMPTS}::int, now()
                   from jsonb_array_elements(${list}::jsonb) as x)
        select pg_notify(${TOPIC_EVENTS_CHANNEL}, p) from unnest(string_to_array(${payloads.join("\n")}, E'\\n')) as p`,
  );
  return rows.map((r) => ({ id: r.id }));
}

/** The subscribers of one process and the delivery of stored events to them. */
export class EventBus {
  private readonly subscribers = new Map<string, Subscriber>();

  constructor(
    private readonly database: Database,
    private readonly log: Logger,
  ) {}

  /**
   * Registers subscriber `id` (stable: its deliveries are recorded under it) for events named `pattern`: an exact
   * name, a prefix such as `task.*`, or `*`. Returns the function that removes it.
   */
  subscribe(id: string, pattern: string, handle: EventHandler): () => void {
    if (this.subscribers.has(id)) throw new Error(`event subscriber ${id} is already registered`);
    const matches =
      pattern === "*"
        ? () => true
        : pattern.endsWith(".*")
          ? (name: string) => name.startsWith(pattern.slice(0, -1))
          : (name: string) => name === pattern;
    this.subscribers.set(id, { id, matches, handle });
    return () => this.subscribers.delete(id);
  }

  /**
   * Hands stored event `eventId` to each matching subscriber that does not have it yet, each in its own
   * transaction with the record of its delivery. Throws when one failed (the job retries just the missing ones).
   */
  async deliver(eventId: string): Promise<{ delivered: string[] }> {
    const db = this.database.db;
    const [row] = await db
      .update(domainEvents)
      .set({ attempts: sql`${domainEvents.attempts} + 1` })
      .where(and(eq(domainEvents.id, eventId), isNull(domainEvents.deliveredAt)))
      .returning();
    if (!row) return { delivered: [] }; // delivered already (or rolled back, which cannot have a job)
    const event: DomainEvent = {
      id: row.id,
      name: row.name,
      payload: row.payload,
      orgId: row.orgId,
      projectId: row.projectId,
      createdAt: row.createdAt,
    };
    const delivered: string[] = [];
    const failures: string[] = [];
    for (const sub of this.subscribers.values()) {
      if (!sub.matches(row.name) || row.deliveredTo.includes(sub.id)) continue;
      try {
        await db.transaction(async (tx) => {
          // Locks the row: a second delivery of the same event waits here, then sees this subscriber recorded.
          const [current] = await tx
            .select({ deliveredTo: domainEvents.deliveredTo })
            .from(domainEvents)
            .where(eq(domainEvents.id, eventId))
            .for("update");
          if (current?.deliveredTo.includes(sub.id)) return;
          await sub.handle(event, tx as unknown as Db);
          await tx
            .update(domainEvents)
            .set({ deliveredTo: sql`array_append(${domainEvents.deliveredTo}, ${sub.id})` })
            .where(eq(domainEvents.id, eventId));
        });
        delivered.push(sub.id);
      } catch (err) {
        failures.push(`${sub.id}: ${err instanceof Error ? err.message : String(err)}`);
        this.log.warn("event subscriber failed", { eventId, event: row.name, subscriber: sub.id, err });
      }
    }
    if (failures.length > 0) {
      const lastError = failures.join("; ").slice(0, 2000);
      await db.update(domainEvents).set({ lastError }).where(eq(domainEvents.id, eventId));
      throw new Error(`event ${row.name} ${eventId}: ${lastError}`);
    }
    await db
      .update(domainEvents)
      .set({ deliveredAt: new Date(), lastError: null })
      .where(and(eq(domainEvents.id, eventId), isNull(domainEvents.deliveredAt)));
    return { delivered };
  }

  /**
   * Gives a new delivery job to every undelivered event whose job is gone (dead after its retries, or pruned);
   * events with a queued, running or retry-waiting job are left to it. Returns how many got one.
   */
  async sweep(limit = 500): Promise<number> {
    const rows = await this.database.exec<{ id: string }>(
      `select e.id from domain_events e
        where e.delivered_at is null and e.attempts < $1
          and not exists (select 1 from jobs j where j.name = $2 and j.state in ('queued', 'running', 'failed')
                            and j.payload->>'eventId' = e.id::text)
        order by e.created_at limit $3`,
      [GIVE_UP_AFTER, DELIVER_JOB, limit],
    );
    for (const r of rows) {
      await enqueueInTx(this.database.db, DELIVER_JOB, { eventId: r.id }, { maxAttempts: DELIVER_ATTEMPTS });
    }
    if (rows.length > 0) this.log.info("undelivered events queued again", { count: rows.length });
    return rows.length;
  }

  /** Deletes events delivered more than `olderThanMs` ago (default 30 days); returns how many. */
  async prune(olderThanMs = 30 * 86_400_000): Promise<number> {
    const rows = await this.database.db
      .delete(domainEvents)
      .where(lt(domainEvents.deliveredAt, new Date(Date.now() - olderThanMs)))
      .returning({ id: domainEvents.id });
    return rows.length;
  }
}

/**
 * Opens the caller's live stream (signed-in only). `recheck` resolves the caller again at every heartbeat: the
 * stream closes once that is no longer the same user (signed out, session expired, key revoked).
 */
export function openLiveStream(
  ctx: Pick<AppContext, "live">,
  principal: Principal | null,
  recheck: () => Promise<Principal | null>,
  signal?: AbortSignal,
  topics: readonly string[] = [],
): ReadableStream<Uint8Array> {
  const user = requireUser(principal);
  if (!ctx.live) throw new AppError("UNAVAILABLE", "Live updates are not running.", 503);
  return ctx.live.open(user.userId, async () => (await recheck())?.userId === user.userId, signal, topics);
}
