// `devsponsor audit verify`: recomputes the audit hash chain, checks every recorded model call against it, and
// exits 1 when anything does not match.
import { parseArgs } from "node:util";
import { loadConfig } from "../core/config";
import { dataPaths } from "../core/boot";
import { openDatabase } from "../core/db";
import { auditProblems, verifyAudit } from "./verify";

/** Runs `audit verify [--json] [--data-dir DIR]`. */
export async function auditCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { json: { type: "boolean" }, "data-dir": { type: "string" } },
    allowPositionals: true,
  });
  if (positionals[0] !== "verify") {
    console.error("usage: devsponsor audit verify [--json] [--data-dir DIR]");
    return 2;
  }
  const config = loadConfig(process.env, { dataDir: values["data-dir"] });
  // Read-only check: no migrations, nothing written.
  const target = config.databaseUrl ? { url: config.databaseUrl } : { dir: dataPaths(config.dataDir).pg };
  const database = await openDatabase({ ...target, migrate: false });
  try {
    const t = performance.now();
    const report = await verifyAudit(database.db);
    const ms = Math.round(performance.now() - t);
    if (values.json) console.log(JSON.stringify({ ...report, ms }));
    else if (report.ok)
      console.log(
        `audit chain ok: ${report.rows} entries (${report.redacted} redacted), head ${report.headHash.slice(0, 16)}…; ` +
          `${report.aiCalls.chained} AI calls match their entries (${report.aiCalls.erased} erased) in ${ms} ms`,
      );
    else {
      console.log(`audit BROKEN (${report.rows} entries checked):`);
      for (const line of auditProblems(report)) console.log(`  ${line}`);
    }
    return report.ok ? 0 : 1;
  } finally {
    await database.close();
  }
}
