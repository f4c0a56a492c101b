// Builds the report circuit and its Groth16 keys. Run once; the outputs are committed so a fresh checkout proves
// without a ceremony:
//   circuits/build/report.wasm             witness generator
//   circuits/build/report_final.zkey       proving key
//   circuits/build/verification_key.json   verification key
//   circuits/build/pot15_final.ptau        phase-1 powers of tau, 2^15 (the circuit needs 2^12; a bigger phase 1 serves it)
//   contracts/src/Groth16Verifier.sol      Solidity verifier (from circuits/verifier_groth16.sol.ejs)
//   circuits/build/prover.js               the sandbox prover (src/zk/prover-entry.ts bundled for bun)
//
//   bun scripts/build-circuit.ts                 new local phase 1 (reuses the committed ptau if present)
//   bun scripts/build-circuit.ts --ptau FILE     use a public phase-1 file instead (e.g. a pot15 from a public ceremony)
//   bun scripts/build-circuit.ts --new-ptau      redo the local phase 1 even if a ptau is committed
//   bun scripts/build-circuit.ts --bundle-only   only rebuild circuits/build/prover.js
//
// A local phase 1 and one local phase-2 contribution are only as trustworthy as the machine that ran them.
// Before real money moves, add a phase-2 contribution with `devsponsor zk contribute` (and, ideally, build from
// a public phase-1 file with --ptau).
import { plugin } from "bun";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleProverScript, webWorkerNative } from "./prover-bundle";

// Bun's native Worker for snarkjs here too (see ./prover-bundle.ts), so the ceremony runs multi-threaded.
plugin(webWorkerNative);
const snarkjs = await import("snarkjs");
const { getCurveFromName } = await import("ffjavascript");

const ROOT = resolve(import.meta.dir, "..");
const BUILD = join(ROOT, "circuits", "build");
const WORK = join(ROOT, ".tmp", "circuit-build");
const PTAU_POWER = 15;
const PTAU = join(BUILD, `pot${PTAU_POWER}_final.ptau`);

const args = process.argv.slice(2);
const ptauArg = args.includes("--ptau") ? args[args.indexOf("--ptau") + 1] : undefined;
const newPtau = args.includes("--new-ptau");

const timings: Record<string, number> = {};
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await fn();
  timings[name] = Math.round(performance.now() - t0);
  console.log(`${name}: ${(timings[name]! / 1000).toFixed(1)} s`);
  return out;
}
const entropy = () => randomBytes(32).toString("hex");
const logger = { info() {}, debug() {}, warn: console.warn, error: console.error };

async function bundleProver() {
  writeFileSync(join(BUILD, "prover.js"), await bundleProverScript());
}
if (args.includes("--bundle-only")) {
  await step("bundle sandbox prover", bundleProver);
  process.exit(0);
}

rmSync(WORK, { recursive: true, force: true });
mkdirSync(WORK, { recursive: true });
mkdirSync(BUILD, { recursive: true });

// circom2 sees only files below its working directory: compile from the repository root.
await step("compile circuit (circom2 --O2)", async () => {
  const proc = Bun.spawn(
    [
      process.execPath,
      "node_modules/circom2/cli.js",
      "circuits/report.circom",
      "--r1cs",
      "--wasm",
      "--O2",
      "-l",
      "node_modules/circomlib/circuits",
      "-o",
      ".tmp/circuit-build",
    ],
    { cwd: ROOT, stdout: "inherit", stderr: "inherit" },
  );
  if ((await proc.exited) !== 0) throw new Error("circom2 failed");
});
const r1cs = join(WORK, "report.r1cs");
const info = await snarkjs.r1cs.info(r1cs, logger);
console.log(`constraints: ${info.nConstraints}, public inputs: ${info.nPubInputs}`);
if (info.nConstraints + info.nPubInputs + 1 > 2 ** PTAU_POWER) throw new Error(`circuit too big for 2^${PTAU_POWER}`);

if (ptauArg) {
  copyFileSync(resolve(ptauArg), PTAU);
  console.log(`phase 1: using ${ptauArg}`);
} else if (!existsSync(PTAU) || newPtau) {
  const p0 = join(WORK, "pot_0.ptau");
  const p1 = join(WORK, "pot_1.ptau");
  const p2 = join(WORK, "pot_2.ptau");
  await step(`phase 1: new accumulator 2^${PTAU_POWER}`, async () =>
    snarkjs.powersOfTau.newAccumulator(await getCurveFromName("bn128"), PTAU_POWER, p0, logger),
  );
  await step("phase 1: contribution", () =>
    snarkjs.powersOfTau.contribute(p0, p1, "devsponsor local", entropy(), logger),
  );
  await step("phase 1: beacon", () => snarkjs.powersOfTau.beacon(p1, p2, "devsponsor beacon", entropy(), 10, logger));
  await step("phase 1: prepare phase 2", () => snarkjs.powersOfTau.preparePhase2(p2, PTAU, logger));
}

const z0 = join(WORK, "report_0.zkey");
const zFinal = join(BUILD, "report_final.zkey");
await step("phase 2: new zkey", () => snarkjs.zKey.newZKey(r1cs, PTAU, z0, logger));
await step("phase 2: contribution", () => snarkjs.zKey.contribute(z0, zFinal, "devsponsor build", entropy(), logger));
const ok = await step("verify zkey against r1cs + ptau", () => snarkjs.zKey.verifyFromR1cs(r1cs, PTAU, zFinal, logger));
if (!ok) throw new Error("zkey verification failed");

const vk = await snarkjs.zKey.exportVerificationKey(zFinal, logger);
writeFileSync(join(BUILD, "verification_key.json"), `${JSON.stringify(vk, null, 1)}\n`);
copyFileSync(join(WORK, "report_js", "report.wasm"), join(BUILD, "report.wasm"));
const template = readFileSync(join(ROOT, "circuits", "verifier_groth16.sol.ejs"), "utf8");
const sol = await snarkjs.zKey.exportSolidityVerifier(zFinal, { groth16: template }, logger);
writeFileSync(join(ROOT, "contracts", "src", "Groth16Verifier.sol"), sol);

await step("bundle sandbox prover", bundleProver);

rmSync(WORK, { recursive: true, force: true });
console.log(JSON.stringify({ constraints: info.nConstraints, timingsMs: timings }));
process.exit(0);
