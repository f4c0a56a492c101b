import { and, desc, eq, lt } from "drizzle-orm";
import { canonicalJson } from "../audit/service";
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

/** Stores one model call with its checksum; returns the row id. Never throws: auditing must not break the call. */
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
  try {
    const [inserted] = await db
      .insert(aiCalls)
      .values({ ...row, checksum: aiCallChecksum(row) })
      .returning({ id: aiCalls.id });
    return inserted?.id ?? null;
  } catch (err) {
    onError?.(err);
    return null;
  }
}

/** Whether a stored call still matches its checksum. */
export const verifyAiCall = (row: AiCall) => aiCallChecksum(row) === row.checksum;

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
