// `devsponsor chain deploy|status`.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import type { Hex } from "viem";
import { audit } from "../audit/service";
import { bootstrap } from "../core/boot";
import { envOrFile, loadConfig } from "../core/config";
import { AppError } from "../core/errors";
import { deployToChain, openChain } from "./service";
import { chainStatus } from "./status";

const USAGE = `Usage:
  devsponsor chain status [--json]                    chain, EVM fork (Cancun needed), contracts, worker and harness keys
  devsponsor chain deploy [--deployer-key-file FILE]  deploy the verifier and the escrow
      The deployer key (which becomes the escrow owner) comes from the file or DEVSPONSOR_DEPLOYER_KEY(_FILE).
      A node without the Cancun fork's opcodes (EIP-1153/5656) is refused before any gas is spent.
      On the embedded dev chain the dev deployer key is used and the contracts are deployed again.`;

/** Entry point of `devsponsor chain …`; returns the exit code. */
export async function chainCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      json: { type: "boolean" },
      "deployer-key-file": { type: "string" },
      "data-dir": { type: "string" },
    },
    allowPositionals: true,
    strict: false,
  });
  const sub = positionals[0];
  if (sub !== "status" && sub !== "deploy") {
    console.log(USAGE);
    return sub ? 2 : 0;
  }
  const config = loadConfig(process.env, { dataDir: values["data-dir"] as string | undefined });
  const ctx = await bootstrap(config);
  let rt: Awaited<ReturnType<typeof openChain>> | undefined;
  try {
    rt = await openChain(config, ctx.settings);
    if (sub === "deploy") {
      const keyFile = values["deployer-key-file"] as string | undefined;
      const key = (keyFile ? readFileSync(keyFile, "utf8").trim() : envOrFile("DEVSPONSOR_DEPLOYER_KEY")) as
        | Hex
        | undefined;
      const deployerKey = rt.mode === "dev" ? rt.dev!.genesis.keys.deployer : key;
      if (!deployerKey || !/^0x[0-9a-fA-F]{64}$/.test(deployerKey)) {
        console.error("a deployer key is required: --deployer-key-file FILE or DEVSPONSOR_DEPLOYER_KEY");
        return 2;
      }
      const d = await deployToChain(rt, ctx.settings, config.dataDir, deployerKey);
      await audit(ctx.db, {
        actorId: null,
        action: "chain.deploy",
        targetType: "contract",
        targetId: d.escrow,
        payload: {
          mode: rt.mode,
          chainId: d.chainId,
          escrow: d.escrow,
          verifier: d.verifier,
          owner: d.owner,
          worker: d.worker,
          harnessSigner: d.harnessSigner,
          treasury: d.treasury,
          deployBlock: d.deployBlock,
        },
      });
      if (values.json) console.log(JSON.stringify(d, null, 2));
      else {
        console.log(
          `escrow    ${d.escrow}\nverifier  ${d.verifier}\nowner     ${d.owner}\ntreasury  ${d.treasury}\nblock     ${d.deployBlock}`,
        );
        if (rt.mode === "rpc") {
          console.log("\nSet Settings → Chain → Escrow address and Verifier address to these values (or the");
          console.log("DEVSPONSOR_CHAIN_ESCROW_ADDRESS / DEVSPONSOR_CHAIN_VERIFIER_ADDRESS environment variables).");
        }
      }
      return 0;
    }
    const lines = await chainStatus(rt);
    if (values.json) console.log(JSON.stringify(lines, null, 2));
    else {
      for (const l of lines) {
        console.log(`${l.name.padEnd(9)} ${l.ok ? "OK  " : "FAIL"}  ${l.detail}`);
        if (l.fix && !l.ok) console.log(`${" ".repeat(16)}fix: ${l.fix}`);
      }
    }
    return lines.every((l) => l.ok) ? 0 : 1;
  } catch (err) {
    console.error(`chain ${sub} failed: ${(err as Error).message}`);
    // e.g. a node without the Cancun opcodes: what to do about it
    const fix = err instanceof AppError ? err.details.fix : undefined;
    if (typeof fix === "string") console.error(`fix: ${fix}`);
    return 1;
  } finally {
    await rt?.close();
    await ctx.database.close();
  }
}
