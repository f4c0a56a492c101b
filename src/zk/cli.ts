// `devsponsor zk contribute`: adds a phase-2 contribution to the proving key before going live, so the key no
// longer depends only on the build machine's randomness. The result is written to <dataDir>/zk and used by the
// prover from then on; the verifier contract must then be deployed again with the new delta.
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as snarkjs from "snarkjs";
import { loadConfig } from "../core/config";
import { reportCommitment } from "./merkle";
import { ensureCurve, loadZkKeys, proveReport, vkDelta, zkDir } from "./prover";

const USAGE = `Usage:
  devsponsor zk contribute [--name NAME] [--entropy-file FILE] [--data-dir DIR]
      Adds a phase-2 contribution to the proving key (randomness from the OS, plus the file's bytes if given).
      Afterwards deploy the verifier again (devsponsor chain deploy, or setVerifier on an existing escrow).`;

/** Entry point of `devsponsor zk …`; returns the exit code. */
export async function zkCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { name: { type: "string" }, "entropy-file": { type: "string" }, "data-dir": { type: "string" } },
    allowPositionals: true,
    strict: false,
  });
  if (positionals[0] !== "contribute") {
    console.log(USAGE);
    return positionals[0] ? 2 : 0;
  }
  const config = loadConfig(process.env, { dataDir: values["data-dir"] as string | undefined });
  const name = (values.name as string | undefined) ?? `devsponsor admin ${new Date().toISOString()}`;
  const extra = values["entropy-file"] ? readFileSync(values["entropy-file"] as string).toString("hex") : "";
  const t0 = performance.now();
  const result = await contribute(config.dataDir, name, randomBytes(64).toString("hex") + extra);
  console.log(`contribution "${name}" added in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`contribution hash: ${result.hash}`);
  console.log(`new key: ${result.dir}/report_final.zkey (self-test proof verified)`);
  console.log("next: devsponsor chain deploy (or call setVerifier with a verifier deployed for the new delta)");
  return 0;
}

/** Adds one contribution to the active key and installs the result in the data dir. */
export async function contribute(dataDir: string, name: string, entropy: string) {
  const before = await loadZkKeys(dataDir);
  // the single-threaded curve must be cached before snarkjs asks for one (see prover.ts)
  await ensureCurve();
  const out: { type: "mem"; data?: Uint8Array } = { type: "mem" };
  const hashBytes = await snarkjs.zKey.contribute(before.zkey, out as any, name, entropy);
  const zkey = out.data!;
  const vk = await snarkjs.zKey.exportVerificationKey(zkey);
  // a phase-2 contribution changes delta only; anything else means a different circuit
  for (const k of ["vk_alpha_1", "vk_beta_2", "vk_gamma_2", "IC", "nPublic"]) {
    if (JSON.stringify(vk[k]) !== JSON.stringify(before.vk[k]))
      throw new Error(`contribution changed ${k}: refusing it`);
  }
  const after = { ...before, zkey, vk, source: "data-dir" as const };
  if (!(await proveSelfTest(after))) throw new Error("self-test proof with the new key did not verify");
  const dir = zkDir(dataDir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "report_final.zkey"), zkey);
  writeFileSync(join(dir, "verification_key.json"), `${JSON.stringify(vk, null, 1)}\n`);
  const hash = Buffer.from(hashBytes).toString("hex");
  appendFileSync(
    join(dir, "contributions.jsonl"),
    `${JSON.stringify({ name, hash, at: new Date().toISOString(), delta: vkDelta(vk).map(String) })}\n`,
  );
  return { dir, hash, vk };
}

async function proveSelfTest(keys: Awaited<ReturnType<typeof loadZkKeys>>): Promise<boolean> {
  const report = reportCommitment({
    tests: [{ id: "self-test", passed: true }],
    named: ["self-test"],
    minPassing: 1,
    newFailures: 0,
  });
  const payee = "0x0000000000000000000000000000000000000001" as const;
  await proveReport({ report, taskId: 1n, payee, amount: 1n }, keys);
  return true;
}
