// Per-project dependency cache keyed by the lockfile hash: what an install added to the work dir (node_modules,
// .venv, the home dir with the Go and Cargo caches) is archived right after the install, before any test code
// runs, and restored on the next run with the same key, which then needs no network at all.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "../core/process";
import { readPlainFile } from "../core/safe-fs";

/** Largest lockfile hashed. */
const MAX_INPUT_BYTES = 256 << 20;

/** An archive or restore that takes longer is given up (the run then installs afresh or fails). */
const TAR_TIMEOUT_MS = 10 * 60_000;

/** Archives kept per project; older keys are removed. */
const KEEP_PER_PROJECT = 3;

/** Cache key of an install: its command, the image, and the content of its input files. */
export function lockfileHash(src: string, inputs: readonly string[], command: string, imageDigest: string): string {
  const h = createHash("sha256");
  h.update(`command\0${command}\0image\0${imageDigest}\0`);
  for (const f of [...inputs].sort()) {
    h.update(`${f}\0`);
    h.update(readPlainFile(src, join(src, f), MAX_INPUT_BYTES) ?? "\0missing or not a plain file\0");
    h.update("\0");
  }
  return h.digest("hex");
}

function projectDir(cacheDir: string, project: string): string {
  return join(cacheDir, "deps", createHash("sha256").update(project).digest("hex").slice(0, 24));
}

async function tar(args: string[]): Promise<void> {
  const r = await runProcess(["tar", ...args], { timeoutMs: TAR_TIMEOUT_MS });
  if (r.timedOut) throw new Error(`tar timed out after ${TAR_TIMEOUT_MS / 1000} s`);
  if (r.code !== 0) throw new Error(`tar failed: ${r.stderr.trim()}`);
}

/** Restores the archive of `key` into `workDir`; false when there is none. */
export async function restoreDeps(cacheDir: string, project: string, key: string, workDir: string): Promise<boolean> {
  const file = join(projectDir(cacheDir, project), `${key}.tar`);
  if (!existsSync(file)) return false;
  await tar(["-C", workDir, "-xf", file]);
  return true;
}

/** Archives `paths` (relative to `workDir`) under `key`. */
export async function saveDeps(
  cacheDir: string,
  project: string,
  key: string,
  workDir: string,
  paths: string[],
): Promise<void> {
  const present = paths.filter((p) => existsSync(join(workDir, p)));
  if (present.length === 0) return;
  const dir = projectDir(cacheDir, project);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `${key}.tar.${process.pid}.tmp`);
  try {
    await tar(["-C", workDir, "-cf", tmp, "--", ...present]);
    renameSync(tmp, join(dir, `${key}.tar`));
  } finally {
    rmSync(tmp, { force: true });
  }
  const archives = readdirSync(dir)
    .filter((f) => f.endsWith(".tar"))
    .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const old of archives.slice(KEEP_PER_PROJECT)) rmSync(join(dir, old.f), { force: true });
}
