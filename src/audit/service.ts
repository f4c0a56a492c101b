// The hash-chained audit trail. Appends are serialized (an advisory lock held to the end of the transaction on
// PostgreSQL; PGlite has one connection) so two writers can never both link to the same previous row.
import { and, asc, desc, eq, gt, inArray, lt, notInArray, or, sql } from "drizzle-orm";
import { PgTransaction } from "drizzle-orm/pg-core";
import { type Principal, requireAdmin } from "../core/context";
import { sha256Hex } from "../core/crypto";
import type { Db } from "../core/db";
import { requireOrgRole } from "../orgs/permissions";
import { users } from "../users/schema";
import { canonicalJson } from "./canonical";
import { auditLog } from "./schema";

export { canonicalJson };

/** What a domain records for a privileged action. Keep personal data (e-mails, names) out of `payload`. */
export interface AuditEntry {
  /** Who did it; null for the system (jobs, CLI). */
  actorId: string | null;
  /** Dotted verb: `org.create`, `member.role.change`, `payment.release`, `ai.generate`, … */
  action: string;
  targetType: string;
  targetId?: string | null;
  orgId?: string | null;
  payload?: Record<string, unknown>;
}

/** One stored audit row. */
export type AuditRow = typeof auditLog.$inferSelect;

/** The previous-hash of the first row. */
export const GENESIS_HASH = "0".repeat(64);
const LOCK_KEY = 7_341_920_114; // arbitrary, stable: pg_advisory_xact_lock key for audit appends
const HASH_VERSION = 1;

/** Hash of a payload as stored (after a JSON round trip, the form jsonb gives back). */
export const payloadHashOf = (payload: Record<string, unknown>) => sha256Hex(canonicalJson(payload));

/** The row hash: every field that matters, the payload by its hash, and the previous row's hash. */
export function rowHash(r: {
  seq: number;
  prevHash: string;
  createdAt: Date;
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string | null;
  orgId: string | null;
  payloadHash: string;
}): string {
  return sha256Hex(
    canonicalJson([
      HASH_VERSION,
      r.seq,
      r.prevHash,
      r.createdAt.toISOString(),
      r.actorId,
      r.action,
      r.targetType,
      r.targetId,
      r.orgId,
      r.payloadHash,
    ]),
  );
}

/**
 * Appends one entry to the audit chain. Pass the caller's transaction so the entry commits (or rolls back)
 * with the action it records. Never call it with the root client from inside another transaction on PGlite:
 * the single connection is held by that transaction.
 */
export async function audit(db: Db, entry: AuditEntry): Promise<{ id: string; seq: number; hash: string }> {
  return (await auditMany(db, [entry]))[0]!;
}

/** Appends entries to the audit chain in order, with one turn of the chain's lock and four statements in all. */
export async function auditMany(db: Db, entries: AuditEntry[]): Promise<{ id: string; seq: number; hash: string }[]> {
  if (entries.length === 0) return [];
  const payloads = entries.map((e) => JSON.parse(JSON.stringify(e.payload ?? {})) as Record<string, unknown>);
  // In the caller's transaction when there is one (a savepoint would cost a statement and isolate nothing: a
  // failed append fails the caller's transaction anyway), else in one of its own.
  const inTransaction: boolean = db instanceof PgTransaction;
  const run = <T>(fn: (tx: Db) => Promise<T>) => (inTransaction ? fn(db) : db.transaction(fn));
  return run(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${LOCK_KEY})`);
    const [last] = await tx
      .select({ seq: auditLog.seq, hash: auditLog.hash })
      .from(auditLog)
      .orderBy(desc(auditLog.seq))
      .limit(1);
    const first = (last?.seq ?? 0) + 1;
    const createdAt = new Date();
    // The hashes are computed over the rows as the database stored them, read back: the database normalises
    // values (UUID case, jsonb numbers and keys, time precision), and the verifier only ever sees that form.
    const stored = await tx
      .insert(auditLog)
      .values(
        entries.map((entry, i) => ({
          seq: first + i,
          prevHash: `pending:${first + i}`, // unique like every link; set below
          createdAt,
          actorId: entry.actorId,
          action: entry.action,
          targetType: entry.targetType,
          targetId: entry.targetId ?? null,
          orgId: entry.orgId ?? null,
          payload: payloads[i]!,
          payloadHash: "",
          hash: "",
        })),
      )
      .returning();
    stored.sort((a, b) => a.seq - b.seq);
    let prevHash = last?.hash ?? GENESIS_HASH;
    const linked = stored.map((row) => {
      const payloadHash = payloadHashOf(row.payload);
      const hash = rowHash({ ...row, prevHash, payloadHash });
      const out = { id: row.id, seq: row.seq, prevHash, payloadHash, hash };
      prevHash = hash;
      return out;
    });
    // comma-joined lists (ids and hex hashes hold no commas): one statement text whatever the number of entries
    const col = (f: (l: (typeof linked)[number]) => string) => linked.map(f).join(",");
    await tx.execute(
      sql`update ${auditLog} set prev_hash = v.prev_hash, payload_hash = v.payload_hash, hash = v.hash
          from unnest(string_to_array(${col((l) => l.id)}, ',')::uuid[], string_to_array(${col((l) => l.prevHash)}, ','),
                      string_to_array(${col((l) => l.payloadHash)}, ','), string_to_array(${col((l) => l.hash)}, ','))
            as v(id, prev_hash, payload_hash, hash)
          where ${auditLog.id} = v.id`,
    );
    return linked.map(({ id, seq, hash }) => ({ id, seq, hash }));
  });
}

/** The result of checking the whole chain. */
export interface ChainReport {
  ok: boolean;
  rows: number;
  redacted: number;
  /** The first row that does not check out, and why. */
  brokenAt?: { seq: number; id: string; reason: string };
  headHash: string;
}

/** Walks the chain in order and recomputes every link; reports the first row that was edited, removed or added. */
export async function verifyAuditChain(db: Db, batch = 1000): Promise<ChainReport> {
  let prevHash = GENESIS_HASH;
  let prevSeq = 0;
  let rows = 0;
  let redacted = 0;
  for (;;) {
    const page = await db
      .select()
      .from(auditLog)
      .where(gt(auditLog.seq, prevSeq))
      .orderBy(asc(auditLog.seq))
      .limit(batch);
    for (const r of page) {
      const fail = (reason: string): ChainReport => ({
        ok: false,
        rows,
        redacted,
        brokenAt: { seq: r.seq, id: r.id, reason },
        headHash: prevHash,
      });
      if (r.seq !== prevSeq + 1) return fail(`sequence jumps from ${prevSeq} to ${r.seq} (rows removed)`);
      if (r.prevHash !== prevHash) return fail("previous-hash link does not match the row before it");
      if (r.redactedAt) redacted++;
      else if (payloadHashOf(r.payload) !== r.payloadHash) return fail("payload does not match its hash (edited)");
      if (rowHash(r) !== r.hash) return fail("row hash does not match its fields (edited)");
      prevHash = r.hash;
      prevSeq = r.seq;
      rows++;
    }
    if (page.length < batch) break;
  }
  return { ok: true, rows, redacted, headHash: prevHash };
}

/** One page of the trail, newest first: one org's, or everything (`orgId` undefined). Callers check access. */
export async function listAudit(db: Db, opts: { orgId?: string; beforeSeq?: number; limit?: number } = {}) {
  const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
  const where = [];
  if (opts.orgId) where.push(eq(auditLog.orgId, opts.orgId));
  if (opts.beforeSeq) where.push(lt(auditLog.seq, opts.beforeSeq));
  return db
    .select()
    .from(auditLog)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.seq))
    .limit(limit);
}

type TrailPage = { beforeSeq?: number; limit?: number };

/** An org's trail for those who may read it (owners, admins), newest first. */
export async function orgAuditTrail(db: Db, principal: Principal | null, orgId: string, page: TrailPage = {}) {
  await requireOrgRole(db, principal, orgId, "audit.view");
  return listAudit(db, { ...page, orgId });
}

/** The whole trail, for platform admins only. */
export async function platformAuditTrail(db: Db, principal: Principal | null, page: TrailPage = {}) {
  requireAdmin(principal);
  return listAudit(db, page);
}

/** The names of the actors of some entries, by user id (for the audit pages). */
export async function auditActorNames(db: Db, rows: AuditRow[]): Promise<Map<string, string>> {
  const ids = [...new Set(rows.map((r) => r.actorId).filter((x): x is string => !!x))];
  if (!ids.length) return new Map();
  const found = await db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, ids));
  return new Map(found.map((u) => [u.id, u.name]));
}

/**
 * Actions whose payloads hold ids and checksums only, never personal data: they keep their payloads through
 * account deletion, because the verifier compares them with the rows they describe (a model call's checksum).
 */
export const IDS_ONLY_ACTIONS = ["ai.call"];

/**
 * Erases the payloads of entries by or about a user (account deletion). The payload hash stays, so the chain
 * still verifies; the entries' ids, actions and times remain as the record that something happened.
 */
export async function redactAuditFor(db: Db, userId: string): Promise<number> {
  const rows = await db
    .update(auditLog)
    .set({ payload: { redacted: true }, redactedAt: new Date() })
    .where(
      and(
        or(eq(auditLog.actorId, userId), eq(auditLog.targetId, userId)),
        sql`${auditLog.redactedAt} is null`,
        notInArray(auditLog.action, IDS_ONLY_ACTIONS),
      ),
    )
    .returning({ id: auditLog.id });
  return rows.length;
}
