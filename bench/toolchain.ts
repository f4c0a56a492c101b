// Toolchain selection and the images that carry the toolchains: how long choosing the versions a checkout asks
// for takes (target ≤ 200 ms), and the harness image's size and build time.
// Run: bun bench/toolchain.ts [--runs N] [--build]
//   --build  rebuild the images (scripts/build-sandbox-images --force, as root: minutes) and time it; without it
//            the build time is the one the last build recorded.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { ensureSandboxImages } from "../test/support/docker";
import { detectPlan } from "../src/harness/detect";
import { selectToolchain } from "../src/harness/toolchain";
import { DockerBackend } from "../src/sandbox/docker";
import { findRootfs, imageRef, sandboxDir } from "../src/sandbox/images";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: { runs: { type: "string", default: "500" }, build: { type: "boolean", default: false } },
});
const RUNS = Number(values.runs);
const ROOT = join(import.meta.dir, "..");

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
  return `median ${q(0.5).toFixed(3)} ms  p99 ${q(0.99).toFixed(3)}  max ${s.at(-1)!.toFixed(3)}  (n=${s.length})`;
};
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;

async function sh(cmd: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out: out + err };
}

if (values.build) {
  const t0 = performance.now();
  const r = await sh([join(ROOT, "scripts", "build-sandbox-images"), "--force"]);
  if (r.code !== 0) throw new Error(`image build failed:\n${r.out}`);
  console.log(`# image build (--force): ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(r.out.trim().replace(/^/gm, "    "));
}
await ensureSandboxImages();
const image = await new DockerBackend().image("harness");

// A checkout that asks for everything at once: the most work selection ever does.
const base = mkdtempSync(join(tmpdir(), "devsponsor-bench-toolchain-"));
const files: Record<string, string> = {
  "package.json": JSON.stringify({
    name: "bench",
    engines: { node: ">=22.12.0" },
    packageManager: "npm@11.6.2",
    scripts: { test: "node --test" },
  }),
  "package-lock.json": "{}",
  ".nvmrc": "lts/*\n",
  ".node-version": "v22\n",
  ".python-version": "3.11\n",
  "go.mod": "module example.com/bench\n\ngo 1.22\n",
  "rust-toolchain.toml": '[toolchain]\nchannel = "1.80.0"\n',
};
for (const [name, content] of Object.entries(files)) {
  mkdirSync(dirname(join(base, name)), { recursive: true });
  writeFileSync(join(base, name), content);
}
const plan = detectPlan(base);

console.log("# toolchain selection (selectToolchain: read the version files, resolve against the image's versions)");
const t0 = performance.now();
const first = selectToolchain(base, plan, image.tools);
const cold = performance.now() - t0;
const warm: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const t = performance.now();
  selectToolchain(base, plan, image.tools);
  warm.push(performance.now() - t);
}
console.log(
  `  chosen: ${Object.entries(first.chosen)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ")}`,
);
console.log(`  first call in the process: ${cold.toFixed(2)} ms   (target ≤ 200 ms)`);
console.log(`  warm: ${stats(warm)}`);

console.log("# harness image");
const inspect = async (ref: string) => {
  const r = await sh(["docker", "image", "inspect", "-f", "{{.Size}} {{.Id}}", ref]);
  if (r.code !== 0) return null;
  const [size, id] = r.out.trim().split(" ");
  return { size: Number(size), id: id! };
};
const current = await inspect(imageRef("harness"));
const previous = await inspect("devsponsor/sandbox-harness:previous");
const prover = await inspect(imageRef("prover"));
if (current) console.log(`  harness :current ${mb(current.size)} (${current.id.slice(7, 19)})`);
if (previous && previous.id !== current?.id) {
  const delta = current ? ` (:current − :previous: ${mb(current.size - previous.size)})` : "";
  console.log(`  harness :previous ${mb(previous.size)} (${previous.id.slice(7, 19)})${delta}`);
}
if (prover) console.log(`  prover :current ${mb(prover.size)}`);
const rootfs = findRootfs();
if (rootfs) {
  const du = await sh(["du", "-sb", rootfs.dir]);
  console.log(`  bubblewrap root filesystem ${mb(Number(du.out.split(/\s/)[0]))} (${rootfs.dir})`);
  for (const tool of ["node", "python", "go", "rust"]) {
    console.log(`  ${tool}: ${rootfs.tools[`${tool}.versions`] ?? rootfs.tools[tool] ?? "none"}`);
  }
}
const timings = join(sandboxDir(), "build", "timings.txt");
if (existsSync(timings)) {
  console.log(`# last image build (${timings})`);
  console.log(readFileSync(timings, "utf8").trim().replace(/^/gm, "    "));
} else if (!values.build) {
  console.log("  (no build timings recorded yet: bun bench/toolchain.ts --build, as root)");
}
rmSync(base, { recursive: true, force: true });
