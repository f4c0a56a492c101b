import type { AppContext } from "../core/context";
import { modelConfig } from "./provider";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Registers the cheap `ai` health entry (configuration only; `devsponsor doctor` asks the models themselves). */
export async function setupAi(ctx: AppContext, _on: On) {
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
