// The prover as it runs inside the prover sandbox (bundled to circuits/build/prover.js by
// scripts/build-circuit.ts, with `web-worker` replaced by Bun's native Worker so snarkjs uses every CPU the
// sandbox grants): reads input.json, report.wasm and report_final.zkey from the working directory and writes
// proof.json. No network, no secrets: the inputs are the report's leaves and the public values.
import * as snarkjs from "snarkjs";

const read = async (name: string) => new Uint8Array(await Bun.file(name).arrayBuffer());
const input = await Bun.file("input.json").json();
const t0 = performance.now();
const { proof, publicSignals } = await snarkjs.groth16.fullProve(
  input,
  await read("report.wasm"),
  await read("report_final.zkey"),
);
await Bun.write("proof.json", JSON.stringify({ proof, publicSignals, ms: Math.round(performance.now() - t0) }));
process.exit(0);
