// The doctor's chain check: the configured chain answers, the contracts are there and wired to our keys.
import { bootstrap } from "../core/boot";
import { loadConfig } from "../core/config";
import type { AppContext } from "../core/context";
import { openChain } from "./service";
import { chainStatus } from "./status";

/** Checks the chain; with no context it boots its own (database, settings) from the environment. */
export async function checkChain(
  ctx?: Pick<AppContext, "config" | "settings">,
): Promise<{ ok: boolean; detail: string; fix?: string }> {
  const own = ctx ? undefined : await bootstrap(loadConfig());
  const c = ctx ?? own!;
  let rt: Awaited<ReturnType<typeof openChain>> | undefined;
  try {
    const t0 = performance.now();
    rt = await openChain(c.config, c.settings);
    const lines = await chainStatus(rt);
    const bad = lines.find((l) => !l.ok);
    const ms = Math.round(performance.now() - t0);
    if (bad) return { ok: false, detail: `${bad.name}: ${bad.detail}`, fix: bad.fix };
    return { ok: true, detail: `${lines.map((l) => l.detail).at(0)}; escrow ${rt.deployment?.escrow} (${ms} ms)` };
  } catch (err) {
    const message = (err as Error).message;
    const edrMissing = /native binding|edr/i.test(message);
    return {
      ok: false,
      detail: message,
      fix: edrMissing
        ? "the embedded chain needs @nomicfoundation/edr's native module: reinstall, or set chain mode to rpc"
        : "check Settings → Chain (RPC URL, chain id) and that the node is reachable",
    };
  } finally {
    await rt?.close();
    await own?.database.close();
  }
}
