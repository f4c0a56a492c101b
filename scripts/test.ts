// The whole test suite, from a fresh checkout: dependencies, PostgreSQL, the Docker engine and sandbox images,
// the compiled binary, then `bun test` on PGlite and PostgreSQL. Extra arguments go to `bun test`.
import { $ } from "bun";
import { existsSync } from "node:fs";

const step = async (name: string, fn: () => Promise<unknown>) => {
  const t = performance.now();
  process.stdout.write(`==> ${name}\n`);
  await fn();
  process.stdout.write(`    ${name}: ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
};

const isRoot = process.getuid?.() === 0;

await step("dependencies", () => $`bun install --frozen-lockfile`.quiet());

if (!process.env.TEST_DATABASE_URL) {
  if (isRoot) {
    await step("postgresql", async () => {
      process.env.TEST_DATABASE_URL = (await $`scripts/start-postgres`.text()).trim();
    });
  } else {
    console.warn("TEST_DATABASE_URL is not set and we are not root: PostgreSQL tests are skipped");
  }
}

if (existsSync("scripts/start-docker") && isRoot) {
  await step("docker engine", () => $`scripts/start-docker`);
}
if (existsSync("scripts/build-sandbox-images") && !process.env.SKIP_SANDBOX_IMAGES) {
  await step("sandbox images", () => $`scripts/build-sandbox-images`);
}

await step("compiled binary", () => $`bun scripts/build.ts`);

// Each test file runs in its own `bun test` process: files start native engines (chains, provers, PGlite)
// whose global state must not leak into the next file, and a crash stays confined to its file.
const args = process.argv.slice(2);
const named = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));
const glob = new Bun.Glob("{src,test}/**/*.test.{ts,tsx}");
const files = [...glob.scanSync(".")]
  .filter((f) => !f.includes("node_modules"))
  .filter((f) => named.length === 0 || named.some((n) => f.startsWith(n) || f.includes(n)))
  .sort();
let passed = 0;
let failed = 0;
let skipped = 0;
const failedFiles: string[] = [];
const t0 = performance.now();
for (const file of files) {
  const proc = Bun.spawn(["bun", "test", "--timeout", "120000", ...flags, `./${file}`], {
    stdout: "pipe",
    stderr: "pipe",
    env: process.env,
  });
  const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  const code = await proc.exited;
  const text = out + err;
  process.stdout.write(text);
  const count = (word: string) => Number(text.match(new RegExp(`^\\s*(\\d+) ${word}$`, "m"))?.[1] ?? 0);
  passed += count("pass");
  skipped += count("skip");
  const f = count("fail");
  failed += f;
  if (code !== 0 || f > 0) {
    failedFiles.push(`${file} (exit ${code}, ${f} failed)`);
    if (f === 0) failed += 1; // crashed or errored outside a test: count the file as one failure
  }
}
console.log(`\n${files.length} test files in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (failedFiles.length) console.log(`failing files:\n  ${failedFiles.join("\n  ")}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
