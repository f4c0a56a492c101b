import { loadConfig } from "../core/config";
import { bootstrap } from "../core/boot";
import { runChecks } from "./checks";

/** `devsponsor doctor [--json]`: a table of every dependency with a fix for each failure; exit 1 on a failure. */
export async function doctorCommand(argv: string[]): Promise<number> {
  const config = loadConfig();
  let ctx: Awaited<ReturnType<typeof bootstrap>>;
  try {
    ctx = await bootstrap(config);
  } catch (err) {
    console.log(`database  FAIL  ${(err as Error).message}`);
    console.log("          fix: check DATABASE_URL, or that no other devsponsor process uses the data dir");
    return 1;
  }
  try {
    const results = await runChecks(ctx);
    if (argv.includes("--json")) {
      console.log(JSON.stringify(results, null, 2));
    } else {
      const w = Math.max(...results.map((r) => r.name.length));
      for (const r of results) {
        console.log(`${r.name.padEnd(w)}  ${r.status.toUpperCase().padEnd(4)}  ${r.detail}`);
        if (r.fix && r.status !== "ok") console.log(`${" ".repeat(w)}        fix: ${r.fix}`);
      }
    }
    return results.some((r) => r.status === "fail") ? 1 : 0;
  } finally {
    await ctx.database.close();
  }
}
