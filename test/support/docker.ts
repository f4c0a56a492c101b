// Docker for tests: starts the engine when it is not running (scripts/start-docker) and makes sure the sandbox
// images exist (scripts/build-sandbox-images, cached by content hash: seconds when already built). Once per process.
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");
let engine: Promise<void> | undefined;
let images: Promise<void> | undefined;

async function script(name: string, args: string[] = []): Promise<void> {
  const proc = Bun.spawn([join(ROOT, "scripts", name), ...args], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`scripts/${name} failed (${code}):\n${out}${err}`);
}

/** Starts the Docker engine if needed and waits until it answers. */
export function ensureDocker(): Promise<void> {
  engine ??= script("start-docker");
  return engine;
}

/** Engine running and the harness and prover images (and the bubblewrap root filesystem) built. */
export function ensureSandboxImages(): Promise<void> {
  images ??= ensureDocker().then(() => script("build-sandbox-images"));
  return images;
}
