// Builds the single executable: dist/devsponsor (bun build --compile), with every asset embedded.
import { mkdirSync } from "node:fs";
import type { BunPlugin } from "bun";
import pkg from "../package.json" with { type: "json" };

// snarkjs' thread pool loads `web-worker`, whose emulation never finishes under Bun: use Bun's native Worker.
const nativeWorker: BunPlugin = {
  name: "web-worker-native",
  setup(b) {
    b.onLoad({ filter: /[\\/]web-worker[\\/]cjs[\\/]node\.js$/ }, () => ({
      contents: "export default globalThis.Worker;",
      loader: "js",
    }));
  },
};

const outfile = process.argv[2] ?? "dist/devsponsor";
mkdirSync("dist", { recursive: true });
const t = performance.now();
const result = await Bun.build({
  entrypoints: ["src/main.ts"],
  // Bun answers a request head over its own limit (16 KiB by default) with a bare 431 the app never sees; 64 KiB
  // leaves room above the app's 12 KiB limit, which is answered with the error envelope.
  compile: { outfile, execArgv: ["--max-http-header-size=65536"] },
  minify: { syntax: true, whitespace: true },
  sourcemap: "linked",
  plugins: [nativeWorker],
  // Optional native helpers of ssh2 (through dockerode) that are never built here; ssh2 loads them in a try.
  external: ["cpu-features", "../build/Release/sshcrypto.node"],
  define: { "process.env.DEVSPONSOR_VERSION": JSON.stringify(pkg.version) },
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built ${outfile} in ${((performance.now() - t) / 1000).toFixed(1)} s`);
