// A second, independent EVM for tests and benchmarks: a Hardhat node (its own process, JSON-RPC on loopback),
// so the contracts are not only ever checked against the embedded chain. Development dependency only.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { DevKeys } from "../../src/chain/dev-chain";

/** A running Hardhat node. */
export interface HardhatNode {
  url: string;
  chainId: number;
  /** Hardhat's well-known funded accounts #0–#5, in the roles the dev chain uses. */
  keys: DevKeys;
  stop(): Promise<void>;
}

// Hardhat's default accounts: public test keys, funded only on a local Hardhat node.
const HARDHAT_KEYS = [
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
  "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
  "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
  "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
] as const;

async function freePort(): Promise<number> {
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = server.port;
  server.stop(true);
  return port;
}

/**
 * Starts `hardhat node` on 127.0.0.1 (a random free port) and waits until it answers. `hardfork` runs an older EVM
 * (e.g. "shanghai": no transient storage, no MCOPY), as some chains and nodes still do.
 */
export async function startHardhatNode(opts: { hardfork?: string } = {}): Promise<HardhatNode> {
  const root = resolve(import.meta.dir, "..", "..");
  // Hardhat refuses to run from outside the project ("non-local installation"), so its config lives in the
  // project's scratch dir; its artifacts and cache go there too instead of the repository root.
  mkdirSync(join(root, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(root, ".tmp", "hardhat-"));
  const paths = { artifacts: join(dir, "artifacts"), cache: join(dir, "cache") };
  const networks = opts.hardfork ? { node: { type: "edr-simulated", hardfork: opts.hardfork } } : undefined;
  writeFileSync(join(dir, "hardhat.config.ts"), `export default ${JSON.stringify({ paths, networks })};\n`);
  const port = await freePort();
  const proc = Bun.spawn(
    [
      process.execPath,
      "--bun",
      join(root, "node_modules", "hardhat", "dist", "src", "cli.js"),
      "node",
      "--hostname",
      "127.0.0.1",
      "--port",
      String(port),
    ],
    { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, HARDHAT_DISABLE_TELEMETRY_PROMPT: "true" } },
  );
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill("SIGKILL");
      const err = await new Response(proc.stderr).text();
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`hardhat node did not start: ${err.slice(0, 2000)}`);
    }
    await Bun.sleep(100);
  }
  const [deployer, worker, harness, treasury, sponsor, contributor] = HARDHAT_KEYS;
  return {
    url,
    chainId: 31337,
    keys: { deployer, worker, harness, treasury, sponsor, contributor },
    async stop() {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(3_000)]);
      if (proc.exitCode === null) proc.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
