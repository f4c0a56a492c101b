import type { AppContext } from "../core/context";
import { recordAiCall } from "./audit";
import { chatModelOf, embeddingModelOf, modelConfig } from "./provider";
import { systemPrompt } from "./prompt";
import { errorLine } from "./service";

const PING = systemPrompt`You are a health check. Answer with the single word OK.`;

/**
 * `devsponsor doctor`'s model check: asks the configured chat model for one word and embeds one string with the
 * embedding model, reporting latency and dimensions. With no provider configured it says which fallbacks run.
 */
export async function checkModels(
  ctx: Pick<AppContext, "db" | "settings" | "log">,
): Promise<{ status: "ok" | "warn" | "fail"; detail: string; fix?: string }> {
  const cfg = modelConfig(ctx.settings);
  if (cfg.provider === "none") {
    return {
      status: "warn",
      detail: "no model configured: the template planner drafts milestones and the sidebar answers from retrieval",
      fix: "Settings → Model provider: ollama (ollama serve; ollama pull llama3.1) or an OpenAI-compatible server",
    };
  }
  const parts: string[] = [];
  const chat = chatModelOf(cfg);
  if (!chat) return { status: "fail", detail: "no chat model name is set", fix: "Settings → Chat model" };
  const t0 = performance.now();
  try {
    const { generateText } = await import("ai");
    const r = await generateText({
      model: chat,
      system: PING,
      messages: [{ role: "user", content: "ping" }],
      maxRetries: 0,
      temperature: 0,
      abortSignal: AbortSignal.timeout(20_000),
    });
    const ms = Math.round(performance.now() - t0);
    await recordAiCall(ctx.db, {
      purpose: "doctor",
      provider: cfg.provider,
      model: cfg.chatModel,
      temperature: 0,
      system: PING,
      prompt: [{ role: "user", content: "ping" }],
      output: r.text,
      status: "ok",
      inputTokens: r.usage.inputTokens ?? null,
      outputTokens: r.usage.outputTokens ?? null,
      latencyMs: ms,
    });
    parts.push(`${cfg.provider} at ${cfg.baseUrl}: ${cfg.chatModel} answered in ${ms} ms`);
  } catch (err) {
    return {
      status: "fail",
      detail: `${cfg.chatModel} at ${cfg.baseUrl} did not answer: ${errorLine(err)}`,
      fix:
        cfg.provider === "ollama"
          ? `ollama serve, then ollama pull ${cfg.chatModel}`
          : "check the server URL, model name and API key",
    };
  }
  const embedder = embeddingModelOf(cfg);
  if (!embedder) {
    parts.push("no embedding model: retrieval uses full-text search");
    return { status: "ok", detail: parts.join("; ") };
  }
  try {
    const t1 = performance.now();
    const { embed } = await import("ai");
    const r = await embed({ model: embedder, value: "ping", maxRetries: 0, abortSignal: AbortSignal.timeout(20_000) });
    parts.push(`${cfg.embeddingModel}: ${r.embedding.length} dimensions in ${Math.round(performance.now() - t1)} ms`);
    return { status: "ok", detail: parts.join("; ") };
  } catch (err) {
    return {
      status: "fail",
      detail: `${parts.join("; ")}; embedding model ${cfg.embeddingModel} failed: ${errorLine(err)}`,
      fix: cfg.provider === "ollama" ? `ollama pull ${cfg.embeddingModel}` : "check the embedding model name",
    };
  }
}
