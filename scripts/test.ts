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

const args = process.argv.slice(2);
const result = Bun.spawnSync(["bun", "test", "--timeout", "120000", ...args], { stdio: ["inherit", "inherit", "inherit"], env: process.env });
process.exit(result.exitCode ?? 1);
