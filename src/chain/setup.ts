// Boot: the configured chain (the embedded dev chain deploys its contracts at first start) is opened in the
// background when the server starts, or on first use, and registered as `ctx.chain`. A chain that
// cannot be opened does not stop the appliance: funding and payouts answer UNAVAILABLE and the doctor says why.
import type { AppContext } from "../core/context";
import { type ChainRuntime, openChain } from "./service";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Registers the chain opener, opens it when the server starts, closes it at shutdown. */
export async function setupChain(ctx: AppContext, on: On): Promise<void> {
  let opening: Promise<ChainRuntime> | undefined;
  let lastError: string | undefined;
  const open = () =>
    (opening ??= (async () => {
      const t0 = performance.now();
      const rt = await openChain(ctx.config, ctx.settings);
      ctx.chain = rt;
      lastError = undefined;
      ctx.log.info("chain ready", {
        mode: rt.mode,
        chainId: rt.conn.chain.id,
        escrow: rt.deployment?.escrow,
        replayedBlocks: rt.dev?.replayedBlocks,
        ms: Math.round(performance.now() - t0),
      });
      return rt;
    })().catch((err) => {
      opening = undefined; // try again on next use
      lastError = (err as Error).message;
      ctx.log.error("chain unavailable", { error: (err as Error).message });
      throw err;
    }));
  ctx.openChain = open;
  on.start(() => {
    open().catch(() => {});
  });
  on.stop(async () => {
    const rt = await opening?.catch(() => undefined);
    await rt?.close();
  });
  ctx.health.set("chain", async () => {
    const rt = ctx.chain;
    if (!rt) {
      if (lastError) return { status: "degraded", detail: `chain unavailable: ${lastError}` };
      return { status: "ok", detail: opening ? "chain starting" : "chain opens on first use" };
    }
    try {
      const block = await rt.conn.publicClient.getBlockNumber({ cacheTime: 0 });
      return {
        status: rt.deployment ? "ok" : "degraded",
        detail: `${rt.mode} chain ${rt.conn.chain.id}, block ${block}`,
      };
    } catch (err) {
      return { status: "degraded", detail: (err as Error).message };
    }
  });
}
