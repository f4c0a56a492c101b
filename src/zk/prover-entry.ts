// The prover as it runs inside the prover sandbox (bundled to circuits/build/prover.js by
// scripts/build-circuit.ts): reads input.json, report.wasm and report_final.zkey from the working directory and
// writes proof.json. No network, no secrets: the inputs are the report's leaves and the public values.
import { buildBn128 } from "ffjavascript";
import * as snarkjs from "snarkjs";

// single-threaded curve, cached where ffjavascript looks (its worker threads never finish under Bun)
(globalThis as any).curve_bn128 = await buildBn128(true);
const read = async (name: string) => new Uint8Array(await Bun.file(name).arrayBuffer());
const input = await Bun.file("input.json").json();
const single = { singleThread: true };
const t0 = performance.now();
const { proof, publicSignals } = await snarkjs.groth16.fullProve(
  input,
  await read("report.wasm"),
  await read("report_final.zkey"),
  undefined,
  single,
  single,
);
await Bun.write("proof.json", JSON.stringify({ proof, publicSignals, ms: Math.round(performance.now() - t0) }));
process.exit(0);
