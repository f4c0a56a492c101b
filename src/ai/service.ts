import type { streamText } from "ai";
import type { z } from "zod";
import type { AppContext } from "../core/context";
import { sha256Hex } from "../core/crypto";
import { AppError } from "../core/errors";
import { type AiCallMeta, recordAiCall } from "./audit";
import { chatModelOf, embeddingModelOf, type ModelConfig, modelConfig } from "./provider";
import { type ChatMessage, extractJson, type SystemPrompt } from "./prompt";

/** What the model services need from the application. */
export type AiDeps = Pick<AppContext, "db" | "settings" | "log">;

/** Thrown when a model is needed but none is configured; callers fall back (template planner, retrieval). */
export const noModel = () => new AppError("AI_GENERATION_FAILED", "No language model is configured.", 503);

/** The outcome of one structured call: a validated value, or the raw text with the reasons it was refused. */
export type StructuredResult<T> =
  | { ok: true; value: T; text: string; callId: string | null }
  | { ok: false; text: string; errors: string[]; callId: string | null; transport?: boolean };

/** Whether a chat model is configured at all. */
export const hasChatModel = (deps: Pick<AppContext, "settings">) => chatModelOf(modelConfig(deps.settings)) !== null;

function describe(cfg: ModelConfig) {
  return { provider: cfg.provider, model: cfg.chatModel, temperature: cfg.temperature };
}

/** Streams a model's text deltas; a provider error ends the stream by throwing it. */
async function* deltas(result: ReturnType<typeof streamText>, usage: { input?: number; output?: number }) {
  for await (const part of result.fullStream) {
    if (part.type === "text-delta") yield part.text;
    else if (part.type === "error") throw part.error instanceof Error ? part.error : new Error(String(part.error));
    else if (part.type === "finish") {
      usage.input = part.totalUsage.inputTokens;
      usage.output = part.totalUsage.outputTokens;
    }
  }
}

/** Model errors as one short line (never the request body, which holds the prompt). */
export function errorLine(err: unknown): string {
  const e = err as { message?: string; statusCode?: number; responseBody?: string };
  const body = typeof e.responseBody === "string" ? ` ${e.responseBody.slice(0, 200)}` : "";
  return `${e.statusCode ? `HTTP ${e.statusCode}: ` : ""}${e.message ?? String(err)}${body}`.slice(0, 500);
}

/**
 * Asks the chat model for JSON matching `schema` (sent to the provider as its structured-output format) and
 * validates the answer with the strict schema: unknown fields, wrong types and missing fields are refused with
 * readable errors for a repair prompt. `onText` sees the text as it streams. Every call is audited.
 */
export async function generateStructured<T>(
  deps: AiDeps,
  meta: AiCallMeta,
  opts: {
    system: SystemPrompt;
    messages: ChatMessage[];
    schema: z.ZodType<T>;
    onText?: (textSoFar: string) => void;
    abortSignal?: AbortSignal;
  },
): Promise<StructuredResult<T>> {
  const cfg = modelConfig(deps.settings);
  const model = chatModelOf(cfg);
  if (!model) throw noModel();
  const t0 = performance.now();
  const usage: { input?: number; output?: number } = {};
  let text = "";
  let transportError: unknown;
  try {
    const { Output, streamText } = await import("ai"); // loaded at the first call, not at boot
    const result = streamText({
      model,
      system: opts.system,
      messages: opts.messages,
      temperature: cfg.temperature,
      maxRetries: 0, // retries and backoff are the caller's (they are audited one by one)
      output: Output.object({ schema: opts.schema }),
      abortSignal: opts.abortSignal,
      onError: () => {}, // errors arrive as stream parts
    });
    for await (const d of deltas(result, usage)) {
      text += d;
      opts.onText?.(text);
    }
  } catch (err) {
    transportError = err;
  }
  let outcome: StructuredResult<T>;
  if (transportError) {
    outcome = { ok: false, text, errors: [errorLine(transportError)], callId: null, transport: true };
  } else {
    outcome = validate(opts.schema, text);
  }
  outcome.callId = await recordAiCall(
    deps.db,
    {
      ...meta,
      ...describe(cfg),
      system: opts.system,
      prompt: opts.messages,
      output: text,
      status: outcome.ok ? "ok" : transportError ? "error" : "invalid",
      error: outcome.ok ? null : outcome.errors.join("\n").slice(0, 4000),
      inputTokens: usage.input ?? null,
      outputTokens: usage.output ?? null,
      latencyMs: performance.now() - t0,
    },
    (err) => deps.log.error("unable to record a model call", { err }),
  );
  return outcome;
}

/** Parses and validates a model's JSON text; the errors name the path of each problem. */
export function validate<T>(schema: z.ZodType<T>, text: string): StructuredResult<T> {
  let json: unknown;
  try {
    json = extractJson(text);
  } catch (err) {
    return { ok: false, text, errors: [`the output is not valid JSON: ${(err as Error).message}`], callId: null };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, value: parsed.data, text, callId: null };
  const errors = parsed.error.issues.slice(0, 30).map((i) => {
    const path = i.path.length ? i.path.map(String).join(".") : "(root)";
    const keys = "keys" in i && Array.isArray(i.keys) ? ` (${(i.keys as string[]).join(", ")})` : "";
    return `${path}: ${i.message}${keys}`;
  });
  return { ok: false, text, errors, callId: null };
}

/** A streaming answer: text deltas as they arrive, then the full text and the audit row id. */
export interface ChatStream {
  deltas: AsyncIterable<string>;
  done: Promise<{ text: string; callId: string | null; error?: string }>;
}

/**
 * Streams a chat answer (the sidebar). The first delta is yielded as soon as the provider sends it. The call is
 * audited when the stream ends, also when it fails or the reader stops early.
 */
export function streamChat(
  deps: AiDeps,
  meta: AiCallMeta,
  opts: { system: SystemPrompt; messages: ChatMessage[]; abortSignal?: AbortSignal },
): ChatStream {
  const cfg = modelConfig(deps.settings);
  const model = chatModelOf(cfg);
  if (!model) throw noModel();
  let resolveDone!: (v: { text: string; callId: string | null; error?: string }) => void;
  const done = new Promise<{ text: string; callId: string | null; error?: string }>((r) => {
    resolveDone = r;
  });
  async function* run() {
    const t0 = performance.now();
    const usage: { input?: number; output?: number } = {};
    let text = "";
    let error: string | undefined;
    try {
      const { streamText } = await import("ai");
      const result = streamText({
        model: model!,
        system: opts.system,
        messages: opts.messages,
        temperature: cfg.temperature,
        maxRetries: 0, // an interactive answer falls back at once instead of waiting for a retry
        abortSignal: opts.abortSignal,
        onError: () => {},
      });
      for await (const d of deltas(result, usage)) {
        text += d;
        yield d;
      }
    } catch (err) {
      error = errorLine(err);
      throw err;
    } finally {
      const callId = await recordAiCall(
        deps.db,
        {
          ...meta,
          ...describe(cfg),
          system: opts.system,
          prompt: opts.messages,
          output: text,
          status: error ? "error" : "ok",
          error: error ?? null,
          inputTokens: usage.input ?? null,
          outputTokens: usage.output ?? null,
          latencyMs: performance.now() - t0,
        },
        (err) => deps.log.error("unable to record a model call", { err }),
      );
      resolveDone({ text, callId, error });
    }
  }
  return { deltas: run(), done };
}

/**
 * Embeds texts with the configured embedding model (null when none is configured). Audited as one call whose
 * prompt lists the inputs' SHA-256 (the texts themselves stay in the encrypted documents).
 */
export async function embedTexts(deps: AiDeps, meta: AiCallMeta, texts: string[]): Promise<number[][] | null> {
  const cfg = modelConfig(deps.settings);
  const model = embeddingModelOf(cfg);
  if (!model) return null;
  const t0 = performance.now();
  let error: string | undefined;
  let out: number[][] = [];
  let tokens: number | undefined;
  try {
    const { embedMany } = await import("ai");
    const r = await embedMany({ model, values: texts, maxRetries: 2 });
    out = r.embeddings;
    tokens = r.usage?.tokens;
    return out;
  } catch (err) {
    error = errorLine(err);
    throw new AppError("AI_GENERATION_FAILED", "The embedding model failed.", 502, {}, { cause: err });
  } finally {
    await recordAiCall(
      deps.db,
      {
        ...meta,
        purpose: "embed",
        provider: cfg.provider,
        model: cfg.embeddingModel,
        temperature: null,
        system: "",
        prompt: texts.map((t) => ({ role: "input", content: `sha256:${sha256Hex(t)}` })),
        output: error ? "" : `${out.length} vectors of ${out[0]?.length ?? 0} dimensions`,
        status: error ? "error" : "ok",
        error: error ?? null,
        inputTokens: tokens ?? null,
        outputTokens: null,
        latencyMs: performance.now() - t0,
      },
      (err) => deps.log.error("unable to record a model call", { err }),
    );
  }
}
