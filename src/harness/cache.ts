// Per-project dependency cache keyed by the lockfile and the package managers' configuration: what an install added to the work dir (node_modules,
// .venv, the home dir with the Go and Cargo caches) is archived right after the install, before any test code
// runs, and restored on the next run with the same key, which then needs no network at all.
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { runProcess } from "../core/process";
import { isPlainPath, listPlainDir, readPlainFile } from "../core/safe-fs";

/** Largest lockfile hashed. */
const MAX_INPUT_BYTES = 256 << 20;

/** An archive or restore that takes longer is given up (the run then installs afresh or fails). */
const TAR_TIMEOUT_MS = 10 * 60_000;

/** Archives kept per project; older keys are removed. */
const KEEP_PER_PROJECT = 3;

/**
 * Files that change what an install produces besides the lockfile: registries, scripts, patches and tool settings
 * of each package manager. They key the cache too, so a pull request that changes one installs afresh instead of
 * filling (or reading) the archive another pull request with the same lockfile gets. Directories are hashed whole.
 */
export const PACKAGE_MANAGER_CONFIG = [
  // npm, pnpm, yarn, bun
  ".npmrc",
  ".yarnrc",
  ".yarnrc.yml",
  ".yarn/releases",
  ".yarn/plugins",
  ".yarn/patches",
  ".pnpmfile.cjs",
  "pnpm-workspace.yaml",
  "bunfig.toml",
  ".bunfig.toml",
  "patches",
  // pip, uv, poetry; a requirement such as `-e .` builds the project itself
  "pip.conf",
  "pip.ini",
  ".pip/pip.conf",
  "uv.toml",
  "poetry.toml",
  "pyproject.toml",
  "setup.py",
  "setup.cfg",
  "constraints.txt",
  // cargo, go
  ".cargo/config",
  ".cargo/config.toml",
  "rust-toolchain",
  "rust-toolchain.toml",
  "go.work",
  "go.work.sum",
] as const;

/** Files hashed below one configuration directory at most; a larger one makes the install uncacheable. */
const MAX_DIR_FILES = 1000;

/** The dependency cache key of an install, and whether its inputs may be cached at all. */
export interface DependencyKey {
  /** sha256 over the command, the image and every input's content (recorded in the digest). */
  hash: string;
  /**
   * False when an input exists but is not a plain file or directory (a symlink, a FIFO, too large): what the
   * install reads through it cannot be hashed from the host, so nothing is restored or archived.
   */
  cacheable: boolean;
}

/** Cache key of an install: its command, the image, its input files and the package managers' configuration. */
export function dependencyKey(
  src: string,
  inputs: readonly string[],
  command: string,
  imageDigest: string,
): DependencyKey {
  const h = createHash("sha256");
  h.update(`command\0${command}\0image\0${imageDigest}\0`);
  let cacheable = true;
  let files = 0;
  const add = (rel: string, depth: number) => {
    const path = join(src, rel);
    h.update(`${rel}\0`);
    // Each component without following links: a linked `.cargo` is read by cargo in the sandbox, not by us.
    let st: ReturnType<typeof lstatSync> | undefined;
    let current = src;
    for (const part of rel.split("/")) {
      current = join(current, part);
      try {
        st = lstatSync(current);
      } catch {
        h.update("\0missing\0");
        return;
      }
      if (st.isSymbolicLink()) break;
    }
    if (!st || current !== path) {
      cacheable = false;
      h.update("\0linked\0");
      return;
    }
    if (st.isDirectory() && depth < 8 && isPlainPath(src, path, "dir")) {
      h.update("\0dir\0");
      for (const e of listPlainDir(src, path).sort((a, b) => (a.name < b.name ? -1 : 1)))
        add(`${rel}/${e.name}`, depth + 1);
      return;
    }
    const content = ++files <= MAX_DIR_FILES ? readPlainFile(src, path, MAX_INPUT_BYTES) : null;
    if (content === null) cacheable = false;
    h.update(content ?? "\0not a plain file\0");
    h.update("\0");
  };
  for (const f of [...new Set([...inputs, ...PACKAGE_MANAGER_CONFIG])].sort()) add(f, 0);
  return { hash: h.digest("hex"), cacheable };
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
