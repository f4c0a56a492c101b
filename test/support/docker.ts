// The sandbox parts tests use: bubblewrap, the Docker engine (started by scripts/start-docker when it is not
// running) and the sandbox images (scripts/build-sandbox-images, cached by content hash: seconds when already
// built). A missing part fails the calling test file with what to run; `bun run test` sets them all up as root,
// and leaves these files out only when the run opts out with SKIP_SANDBOX=1. Once per process.
import { join } from "node:path";
import { findRootfs, imageRef } from "../../src/sandbox/images";

const ROOT = join(import.meta.dir, "..", "..");
const isRoot = process.getuid?.() === 0;
const OPT_OUT = "or leave the sandbox tests out: SKIP_SANDBOX=1 bun run test";
let engine: Promise<void> | undefined;
let images: Promise<void> | undefined;

async function run(cmd: string[]): Promise<{ code: number; output: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, output: out + err };
}

async function script(name: string, fix: string): Promise<void> {
  const r = await run([join(ROOT, "scripts", name)]);
  if (r.code !== 0) throw new Error(`scripts/${name} failed (${r.code}):\n${r.output}\n${fix}`);
}

/** Why bubblewrap cannot sandbox here, with the fix; null when it can. */
export async function bubblewrapProblem(): Promise<string | null> {
  const bwrap = Bun.which("bwrap");
  if (!bwrap) return "bubblewrap is not installed: apt-get install bubblewrap";
  // Installed is not enough: without user namespaces (or setuid) bwrap exits at once.
  const r = await run([bwrap, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid", "true"]);
  if (r.code !== 0) {
    return `bubblewrap cannot create its namespaces (${r.output.trim()}): allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1) or run as root`;
  }
  return null;
}

/** Throws unless bubblewrap is installed and works here. */
export async function ensureBubblewrap(): Promise<void> {
  const problem = await bubblewrapProblem();
  if (problem) throw new Error(`${problem}; ${OPT_OUT}`);
}

/** Starts the Docker engine if needed (as root) and waits until it answers. */
export function ensureDocker(): Promise<void> {
  engine ??= script(
    "start-docker",
    `as root: scripts/start-docker; this user needs the engine's socket (usermod -aG docker ${process.env.USER ?? "$USER"}); ${OPT_OUT}`,
  );
  return engine;
}

/** Why the built sandbox images are not usable, or null. Only reads: building them needs root. */
export async function sandboxImagesProblem(): Promise<string | null> {
  for (const role of ["harness", "prover"] as const) {
    if ((await run(["docker", "image", "inspect", imageRef(role)])).code !== 0) return `no image ${imageRef(role)}`;
  }
  return findRootfs() ? null : "no harness root filesystem for bubblewrap";
}

/** Bubblewrap works, the engine runs, and the harness and prover images (and the bubblewrap root filesystem) exist. */
export function ensureSandboxImages(): Promise<void> {
  images ??= (async () => {
    await ensureBubblewrap();
    await ensureDocker();
    if (isRoot) return script("build-sandbox-images", OPT_OUT);
    // Not root: the build script cannot build nor record a manifest, so check what a root build left.
    const problem = await sandboxImagesProblem();
    if (problem)
      throw new Error(`sandbox images missing (${problem}): as root, scripts/build-sandbox-images; ${OPT_OUT}`);
  })();
  return images;
}
