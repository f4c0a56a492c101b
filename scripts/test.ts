// The whole test suite from a fresh checkout: `bun run test`. As root on Debian it installs and starts every part
// the tests use (the Debian packages below, PostgreSQL, the Docker engine, the sandbox images), builds the binary,
// then runs each test file in its own `bun test`. Not as root it only checks the parts, prints each missing one with
// the command that gets it, and fails. A part is left out only when the run opts out of it by name (OPT_OUTS), and
// the summary names it. Extra arguments: flags go to `bun test`, names select test files.
import { $ } from "bun";
import { existsSync, readFileSync } from "node:fs";
import postgres from "postgres";
import { bubblewrapProblem, sandboxImagesProblem } from "../test/support/docker";

type OptOut = "SKIP_POSTGRES" | "SKIP_SANDBOX" | "SKIP_BROWSER";

/** What each opt-out leaves out, and how to tell a test file that needs the part (it imports its test support). */
const OPT_OUTS: Record<OptOut, { leaves: string; file?: RegExp }> = {
  SKIP_POSTGRES: { leaves: "database tests run on PGlite only, not also on PostgreSQL" },
  SKIP_SANDBOX: { leaves: "files using the sandbox (Docker engine, images, bubblewrap)", file: /support\/docker"/ },
  SKIP_BROWSER: { leaves: "browser tests (Chromium)", file: /support\/browser"/ },
};
const optedOut = (Object.keys(OPT_OUTS) as OptOut[]).filter((k) => !["", "0", undefined].includes(process.env[k]));
const wants = (k: OptOut) => !optedOut.includes(k);

const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const DEFAULT_DATABASE_URL = "postgres://devsponsor_test:devsponsor_test@127.0.0.1:5432/postgres";

/** Debian packages the tests use on the host, each with how to see it is there and the part it belongs to. */
const PACKAGES: { pkg: string; present: () => boolean; part?: OptOut; buildOnly?: boolean }[] = [
  { pkg: "git", present: () => !!Bun.which("git") && existsSync("/usr/lib/git-core/git-http-backend") },
  { pkg: "ca-certificates", present: () => existsSync("/etc/ssl/certs/ca-certificates.crt") },
  { pkg: "bubblewrap", present: () => !!Bun.which("bwrap"), part: "SKIP_SANDBOX" },
  { pkg: "docker.io", present: () => !!Bun.which("docker"), part: "SKIP_SANDBOX" },
  // start-docker waits with pgrep; the image build needs debootstrap (which reads .xz package indexes).
  { pkg: "procps", present: () => !!Bun.which("pgrep"), part: "SKIP_SANDBOX" },
  { pkg: "debootstrap", present: () => !!Bun.which("debootstrap"), part: "SKIP_SANDBOX", buildOnly: true },
  { pkg: "xz-utils", present: () => !!Bun.which("xz"), part: "SKIP_SANDBOX", buildOnly: true },
  { pkg: "chromium", present: () => existsSync(CHROMIUM), part: "SKIP_BROWSER" },
];

const isRoot = process.getuid?.() === 0;

async function step(name: string, fn: () => Promise<unknown>) {
  const t = performance.now();
  process.stdout.write(`==> ${name}\n`);
  await fn();
  process.stdout.write(`    ${name}: ${((performance.now() - t) / 1000).toFixed(1)} s\n`);
}

async function answers(url: string): Promise<string | null> {
  const sql = postgres(url, { max: 1, connect_timeout: 5, onnotice: () => {} });
  try {
    await sql`select 1`;
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const dockerAnswers = async () => (await $`docker info`.quiet().nothrow()).exitCode === 0;

await step("dependencies", () => $`bun install --frozen-lockfile`.quiet());

const needed = PACKAGES.filter((p) => !p.part || wants(p.part));
if (isRoot) {
  const absent = needed.filter((p) => !p.present()).map((p) => p.pkg);
  if (absent.length) {
    await step(`debian packages: ${absent.join(" ")}`, async () => {
      process.env.DEBIAN_FRONTEND = "noninteractive";
      await $`apt-get update -qq`;
      await $`apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends ${absent}`.quiet();
    });
  }
  if (wants("SKIP_POSTGRES") && !process.env.TEST_DATABASE_URL) {
    await step("postgresql", async () => {
      process.env.TEST_DATABASE_URL = (await $`scripts/start-postgres`.text()).trim();
    });
  }
  if (wants("SKIP_SANDBOX")) {
    await step("docker engine", () => $`scripts/start-docker`);
    await step("sandbox images", () => $`scripts/build-sandbox-images`);
  }
}

// Every part, checked the same way whoever set it up: what is missing, and the command that gets it.
const missing: string[] = [];
const sudo = isRoot ? "" : "sudo ";
for (const p of needed.filter((p) => !p.present() && !(p.buildOnly && !isRoot))) {
  missing.push(`Debian package ${p.pkg}: ${sudo}apt-get install -y ${p.pkg}`);
}
if (wants("SKIP_POSTGRES")) {
  if (!process.env.TEST_DATABASE_URL && !(await answers(DEFAULT_DATABASE_URL))) {
    process.env.TEST_DATABASE_URL = DEFAULT_DATABASE_URL;
  }
  const url = process.env.TEST_DATABASE_URL;
  const problem = url ? await answers(url) : "TEST_DATABASE_URL is not set and no test server answers";
  if (problem) {
    missing.push(
      `PostgreSQL (${problem}): ${sudo}scripts/start-postgres prints the URL; then TEST_DATABASE_URL=<url> bun run test`,
    );
  }
} else {
  delete process.env.TEST_DATABASE_URL;
}
if (wants("SKIP_SANDBOX")) {
  const bwrap = await bubblewrapProblem();
  if (bwrap && Bun.which("bwrap")) missing.push(bwrap);
  if (!(await dockerAnswers())) {
    missing.push(
      `Docker engine (not answering to this user): ${sudo}scripts/start-docker; a user other than root needs the socket: sudo usermod -aG docker $USER`,
    );
  } else {
    const images = await sandboxImagesProblem();
    if (images) missing.push(`sandbox images (${images}): ${sudo}scripts/build-sandbox-images`);
  }
}
if (missing.length) {
  console.log(
    `\nThe tests need parts this machine does not have${isRoot ? "" : " (as root, `bun run test` sets them all up)"}:`,
  );
  for (const m of missing) console.log(`  - ${m}`);
  const hint = (Object.keys(OPT_OUTS) as OptOut[]).map((k) => `${k}=1 (${OPT_OUTS[k].leaves})`).join(", ");
  console.log(`Or leave a part out by name: ${hint}.`);
  process.exit(1);
}

await step("compiled binary", () => $`bun scripts/build.ts`);

// Each test file runs in its own `bun test` process: files start native engines (chains, provers, PGlite)
// whose global state must not leak into the next file, and a crash stays confined to its file.
const args = process.argv.slice(2);
const named = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));
const glob = new Bun.Glob("{src,test}/**/*.test.{ts,tsx}");
const left: Record<string, string[]> = {};
const files = [...glob.scanSync(".")]
  .filter((f) => !f.includes("node_modules"))
  .filter((f) => named.length === 0 || named.some((n) => f.startsWith(n) || f.includes(n)))
  .filter((f) => {
    const text = readFileSync(f, "utf8");
    const out = optedOut.find((k) => OPT_OUTS[k].file?.test(text));
    if (out) left[out] = [...(left[out] ?? []), f];
    return !out;
  })
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
  skipped += count("skip") + count("todo");
  const f = count("fail");
  failed += f;
  if (code !== 0 || f > 0) {
    failedFiles.push(`${file} (exit ${code}, ${f} failed)`);
    if (f === 0) failed += 1; // crashed or errored outside a test: count the file as one failure
  }
}
console.log(`\n${files.length} test files in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (failedFiles.length) console.log(`failing files:\n  ${failedFiles.join("\n  ")}`);
if (optedOut.length) {
  const notes = optedOut.map(
    (k) => `${k}: ${OPT_OUTS[k].leaves}${left[k] ? ` (${left[k].length} files not run)` : ""}`,
  );
  console.log(`opted out: ${notes.join("; ")}`);
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
