// Runs every benchmark under bench/ (or the ones named), each printing its own figures.
import { readdirSync } from "node:fs";

const only = process.argv.slice(2);
const files = readdirSync("bench")
  .filter((f) => f.endsWith(".ts") && f !== "support.ts")
  .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)));
for (const f of files) {
  console.log(`\n## bench/${f}`);
  const r = Bun.spawnSync(["bun", `bench/${f}`], { stdio: ["inherit", "inherit", "inherit"] });
  if (r.exitCode !== 0) console.log(`(bench/${f} exited with ${r.exitCode})`);
}
