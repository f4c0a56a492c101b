import type { AppContext } from "../core/context";
import { registerUserDataHook } from "../users/data-hooks";
import { eraseAiCallsOf, exportAiCallsOf } from "./audit";
import { modelConfig } from "./provider";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/**
 * Registers the cheap `ai` health entry (configuration only; `devsponsor doctor` asks the models themselves) and
 * the model calls' part of a user's data (prompts and outputs are exported, and erased with the account).
 */
export async function setupAi(ctx: AppContext, _on: On) {
  registerUserDataHook({
    name: "aiCalls",
    covers: ["ai_calls.user_id"],
    export: exportAiCallsOf,
    erase: eraseAiCallsOf,
  });
  ctx.health.set("ai", async () => {
    const cfg = modelConfig(ctx.settings);
    if (cfg.provider === "none")
      return { status: "ok", detail: "no model configured: template planner, retrieval-only sidebar" };
    return {
      status: "ok",
      provider: cfg.provider,
      chatModel: cfg.chatModel,
      embeddingModel: cfg.embeddingModel || "none (full-text retrieval)",
    };
  });
}
