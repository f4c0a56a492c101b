import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { canonicalJson } from "../audit/canonical";
import { audit } from "../audit/service";
import { sha256Hex } from "../core/crypto";
import type { Db } from "../core/db";
import { type AiCall, type AiCallStatus, type AiPurpose, aiCalls } from "./schema";

/** Who a model call was made for; stored with the call. */
export interface AiCallMeta {
  purpose: AiPurpose;
  orgId?: string | null;
  projectId?: string | null;
  userId?: string | null;
  runId?: string | null;
}

/** One model call to record. */
export interface AiCallRecord extends AiCallMeta {
  provider: string;
  model: string;
  temperature: number | null;
  system: string;
  prompt: { role: string; content: string }[];
  output: string;
  status: AiCallStatus;
  error?: string | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  latencyMs: number;
}

type Checksummed = Pick<
  AiCall,
  | "purpose"
  | "provider"
  | "model"
  | "temperature"
  | "system"
  | "prompt"
  | "output"
  | "status"
  | "inputTokens"
  | "outputTokens"
  | "latencyMs"
  | "createdAt"
>;

/** SHA-256 over what was asked and answered, so an edited audit row no longer matches its checksum. */
export function aiCallChecksum(r: Checksummed): string {
  return sha256Hex(
    canonicalJson({
      purpose: r.purpose,
      provider: r.provider,
      model: r.model,
      // real columns hold 4-byte floats: hash the value as stored
      temperature: r.temperature === null ? null : Math.fround(r.temperature),
      system: r.system,
      prompt: r.prompt,
      output: r.output,
      status: r.status,
      inputTokens: r.inputTokens ?? null,
      outputTokens: r.outputTokens ?? null,
      latencyMs: r.latencyMs,
      createdAt: r.createdAt.toISOString(),
    }),
  );
}

/** The audit action of a recorded model call: one chain entry per `ai_calls` row, holding its id and checksum. */
export const AI_CALL_ACTION = "ai.call";
/** The audit action of an account deletion that erased the prompts and outputs of some calls (ids only). */
export const AI_CALL_REDACT_ACTION = "ai.call.redact";

/**
 * Stores one model call with its checksum and, in the same transaction, its entry in the audit chain (so a
 * removed or edited row is found by `devsponsor audit verify`); returns the row id. Never throws: auditing must
 * not break the call.
 */
export async function recordAiCall(
  db: Db,
  rec: AiCallRecord,
  onError?: (err: unknown) => void,
): Promise<string | null> {
  const row = {
    purpose: rec.purpose,
    orgId: rec.orgId ?? null,
    projectId: rec.projectId ?? null,
    userId: rec.userId ?? null,
    runId: rec.runId ?? null,
    provider: rec.provider,
    model: rec.model,
    temperature: rec.temperature,
    system: rec.system,
    prompt: rec.prompt,
    output: rec.output,
    status: rec.status,
    error: rec.error ?? null,
    inputTokens: rec.inputTokens ?? null,
    outputTokens: rec.outputTokens ?? null,
    latencyMs: Math.round(rec.latencyMs),
    createdAt: new Date(),
  };
  const checksum = aiCallChecksum(row);
  try {
    return await db.transaction(async (tx) => {
      const [inserted] = await tx
        .insert(aiCalls)
        .values({ ...row, checksum })
        .returning({ id: aiCalls.id });
      // What was asked stays in the row; the chain holds only what identifies it.
      await audit(tx, {
        actorId: row.userId,
        action: AI_CALL_ACTION,
        targetType: "ai_call",
        targetId: inserted!.id,
        orgId: row.orgId,
        payload: { checksum, purpose: row.purpose, model: row.model, status: row.status },
      });
      return inserted!.id;
    });
  } catch (err) {
    onError?.(err);
    return null;
  }
}

/** Whether a stored call still matches its checksum (an erased one is checked against the chain only). */
export const verifyAiCall = (row: AiCall) => !!row.redactedAt || aiCallChecksum(row) === row.checksum;

/** Recorded calls of an org (or one project of it), newest first; the caller checks permission. */
export async function listAiCalls(
  db: Db,
  filter: { orgId: string; projectId?: string; before?: Date; limit?: number },
) {
  return db
    .select()
    .from(aiCalls)
    .where(
      and(
        eq(aiCalls.orgId, filter.orgId),
        filter.projectId ? eq(aiCalls.projectId, filter.projectId) : undefined,
        filter.before ? lt(aiCalls.createdAt, filter.before) : undefined,
      ),
    )
    .orderBy(desc(aiCalls.createdAt))
    .limit(Math.min(filter.limit ?? 50, 200));
}

/** A user's recorded model calls with what was asked and answered, oldest first (GDPR export). */
export async function exportAiCallsOf(db: Db, userId: string) {
  const rows = await db.select().from(aiCalls).where(eq(aiCalls.userId, userId)).orderBy(aiCalls.createdAt);
  return rows.map(({ checksum, ...r }) => r);
}

/**
 * Erases the prompts, system prompts, outputs and errors of a user's model calls (account deletion). The rows,
 * their checksums and their chain entries stay; one chain entry names the erased calls, so the verifier tells an
 * erasure from an edit.
 */
export async function eraseAiCallsOf(tx: Db, userId: string): Promise<number> {
  const erased = await tx
    .update(aiCalls)
    .set({ system: "", prompt: [], output: "", error: null, redactedAt: new Date() })
    .where(and(eq(aiCalls.userId, userId), isNull(aiCalls.redactedAt)))
    .returning({ id: aiCalls.id });
  if (erased.length) {
    // actorId null: this entry must survive the redaction of the user's own entries that follows
    await audit(tx, {
      actorId: null,
      action: AI_CALL_REDACT_ACTION,
      targetType: "ai_call",
      payload: { ids: erased.map((r) => r.id).sort() },
    });
  }
  return erased.length;
}
