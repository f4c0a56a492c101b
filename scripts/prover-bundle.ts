// The sandbox prover's bundle (src/zk/prover-entry.ts for bun), shared by scripts/build-circuit.ts, which writes
// it to circuits/build/prover.js, and the test that checks the committed file is still this bundle.
import type { BunPlugin } from "bun";
import { join, resolve } from "node:path";

/**
 * snarkjs starts its worker threads through the `web-worker` package, which never finishes under Bun: this swaps
 * in Bun's native Worker (it accepts the data: URLs ffjavascript uses), so snarkjs runs multi-threaded.
 */
export const webWorkerNative: BunPlugin = {
  name: "web-worker-native",
  setup(b) {
    b.onLoad({ filter: /[\\/]web-worker[\\/]cjs[\\/]node\.js$/ }, () => ({
      contents: "export default globalThis.Worker;",
      loader: "js",
    }));
  },
};

/** Bundles src/zk/prover-entry.ts for bun (minified, native Worker) and returns the script's text. */
export async function bundleProverScript(): Promise<string> {
  const out = await Bun.build({
    entrypoints: [join(resolve(import.meta.dir, ".."), "src", "zk", "prover-entry.ts")],
    target: "bun",
    minify: true,
    // the sandbox prover runs in its own bun process: Bun's native Worker makes snarkjs multi-threaded there
    plugins: [webWorkerNative],
  });
  if (!out.success) throw new Error(out.logs.join("\n"));
  return out.outputs[0]!.text();
}
