import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import type { EmbeddingModel, LanguageModel } from "ai";
import { createOllama } from "ollama-ai-provider-v2";
import type { SettingsService } from "../core/settings/service";

// The SDK's warnings go to stderr as unstructured lines; they do not change behaviour.
(globalThis as { AI_SDK_LOG_WARNINGS?: boolean }).AI_SDK_LOG_WARNINGS = false;

/** The model settings in one value (read once per call, so an admin's change applies to the next call). */
export interface ModelConfig {
  provider: "none" | "ollama" | "openai-compatible";
  baseUrl: string;
  chatModel: string;
  embeddingModel: string;
  apiKey: string;
  temperature: number;
}

/** Reads the `ai.*` settings. */
export function modelConfig(settings: Pick<SettingsService, "get">): ModelConfig {
  return {
    provider: settings.get("ai.provider"),
    baseUrl: settings.get("ai.baseUrl").replace(/\/+$/, ""),
    chatModel: settings.get("ai.chatModel"),
    embeddingModel: settings.get("ai.embeddingModel"),
    apiKey: settings.get("ai.apiKey"),
    temperature: settings.get("ai.temperature"),
  };
}

/** Ollama's API lives under /api; a bare server URL (the setting's default) gets it appended. */
export function ollamaApiBase(baseUrl: string) {
  return /\/api$/.test(baseUrl) ? baseUrl : `${baseUrl}/api`;
}

/** OpenAI-compatible servers (llama.cpp, vLLM, LM Studio) serve /v1; a URL without a path gets it appended. */
export function openAiBase(baseUrl: string) {
  try {
    return new URL(baseUrl).pathname.replace(/\/+$/, "") === "" ? `${baseUrl}/v1` : baseUrl;
  } catch {
    return baseUrl;
  }
}

function providers(cfg: ModelConfig) {
  if (cfg.provider === "ollama") {
    const ollama = createOllama({
      baseURL: ollamaApiBase(cfg.baseUrl),
      headers: cfg.apiKey ? { authorization: `Bearer ${cfg.apiKey}` } : undefined,
    });
    return { chat: (id: string) => ollama(id), embed: (id: string) => ollama.embeddingModel(id) };
  }
  if (cfg.provider === "openai-compatible") {
    const oai = createOpenAICompatible({
      name: "openai-compatible",
      baseURL: openAiBase(cfg.baseUrl),
      apiKey: cfg.apiKey || undefined,
      includeUsage: true,
      // llama.cpp, vLLM and LM Studio accept response_format json_schema: the plan schema constrains decoding
      supportsStructuredOutputs: true,
    });
    return { chat: (id: string) => oai.chatModel(id), embed: (id: string) => oai.embeddingModel(id) };
  }
  return null;
}

/** The configured chat model, or null when no provider is configured. */
export function chatModelOf(cfg: ModelConfig): LanguageModel | null {
  const p = providers(cfg);
  return p && cfg.chatModel ? p.chat(cfg.chatModel) : null;
}

/** The configured embedding model, or null (retrieval then uses full-text search and the hashing embedder). */
export function embeddingModelOf(cfg: ModelConfig): EmbeddingModel | null {
  const p = providers(cfg);
  return p && cfg.embeddingModel ? p.embed(cfg.embeddingModel) : null;
}
