// The full audit check: the hash chain, then every recorded model call against its chain entry. A model call
// row that was deleted, edited, inserted without its entry or erased without an account deletion is named.
import { and, asc, gt, inArray } from "drizzle-orm";
import { AI_CALL_ACTION, AI_CALL_REDACT_ACTION, aiCallChecksum } from "../ai/audit";
import { aiCalls } from "../ai/schema";
import type { Db } from "../core/db";
import { auditLog } from "./schema";
import { type ChainReport, verifyAuditChain } from "./service";

/** One model call that does not match the chain. */
export interface AiCallProblem {
  id: string;
  problem: "missing" | "checksum mismatch" | "no chain entry" | "erased without a chain entry";
  /** In words, e.g. `AI call 0b6f… missing`. */
  message: string;
}

/** What the check found about the recorded model calls. */
export interface AiCallCheck {
  /** Calls with a chain entry. */
  chained: number;
  /** Calls whose prompts and outputs an account deletion erased. */
  erased: number;
  /** Every problem found, up to PROBLEM_LIMIT; `problemCount` counts them all. */
  problems: AiCallProblem[];
  problemCount: number;
}

/** The chain report plus the model-call check; `ok` only when both are clean. */
export type AuditReport = ChainReport & { aiCalls: AiCallCheck };

const PROBLEM_LIMIT = 100;

const MESSAGES: Record<AiCallProblem["problem"], string> = {
  missing: "missing (its row was deleted)",
  "checksum mismatch": "checksum mismatch (its row was edited)",
  "no chain entry": "has no chain entry (inserted outside the app)",
  "erased without a chain entry": "was erased, but no account deletion in the chain names it",
};

/** Recomputes the chain, then checks every `ai_calls` row against the checksum its chain entry holds. */
export async function verifyAudit(db: Db, batch = 1000): Promise<AuditReport> {
  const chain = await verifyAuditChain(db, batch);
  // What the chain says: each call's checksum, and which calls an account deletion erased.
  const expected = new Map<string, string | null>();
  const erasedByChain = new Set<string>();
  for (let after = 0; ; ) {
    const page = await db
      .select({ seq: auditLog.seq, action: auditLog.action, targetId: auditLog.targetId, payload: auditLog.payload })
      .from(auditLog)
      .where(and(inArray(auditLog.action, [AI_CALL_ACTION, AI_CALL_REDACT_ACTION]), gt(auditLog.seq, after)))
      .orderBy(asc(auditLog.seq))
      .limit(batch);
    for (const e of page) {
      if (e.action === AI_CALL_ACTION && e.targetId) {
        const sum = e.payload.checksum;
        expected.set(e.targetId.toLowerCase(), typeof sum === "string" ? sum : null);
      } else if (Array.isArray(e.payload.ids)) {
        for (const id of e.payload.ids) if (typeof id === "string") erasedByChain.add(id.toLowerCase());
      }
    }
    if (page.length < batch) break;
    after = page.at(-1)!.seq;
  }

  const problems: AiCallProblem[] = [];
  let problemCount = 0;
  const flag = (id: string, problem: AiCallProblem["problem"]) => {
    problemCount++;
    if (problems.length < PROBLEM_LIMIT) problems.push({ id, problem, message: `AI call ${id} ${MESSAGES[problem]}` });
  };
  let chained = 0;
  let erased = 0;
  for (let after: string | null = null; ; ) {
    const page = await db
      .select()
      .from(aiCalls)
      .where(after ? gt(aiCalls.id, after) : undefined)
      .orderBy(asc(aiCalls.id))
      .limit(batch);
    for (const row of page) {
      const id = row.id.toLowerCase();
      if (!expected.has(id)) {
        flag(row.id, "no chain entry");
        continue;
      }
      chained++;
      const sum = expected.get(id);
      expected.delete(id);
      if (row.redactedAt) {
        erased++;
        if (!erasedByChain.has(id)) flag(row.id, "erased without a chain entry");
        else if (sum !== null && row.checksum !== sum) flag(row.id, "checksum mismatch");
      } else if (aiCallChecksum(row) !== row.checksum || (sum !== null && row.checksum !== sum)) {
        flag(row.id, "checksum mismatch");
      }
    }
    if (page.length < batch) break;
    after = page.at(-1)!.id;
  }
  for (const id of expected.keys()) flag(id, "missing");
  return { ...chain, ok: chain.ok && problemCount === 0, aiCalls: { chained, erased, problems, problemCount } };
}

/** The report's problems as lines, for the CLI and the admin page. */
export function auditProblems(report: AuditReport): string[] {
  const lines: string[] = [];
  if (report.brokenAt) lines.push(`Chain broken at entry #${report.brokenAt.seq}: ${report.brokenAt.reason}`);
  for (const p of report.aiCalls.problems) lines.push(p.message);
  const more = report.aiCalls.problemCount - report.aiCalls.problems.length;
  if (more > 0) lines.push(`… and ${more} more AI call problems`);
  return lines;
}
