// Pinned acceptance tests: the test files a task is judged by, taken from the base commit (or from the sponsor's
// hidden bundle), written over the contributor's checkout before the tests run, so a deleted, renamed or edited
// acceptance test comes back as it was pinned.
import { lstatSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, posix } from "node:path";
import { Parser, type ReadEntry } from "tar";
import { AppError } from "../core/errors";

/** What a task's acceptance tests are pinned to, as the harness gets it (a bundle already decrypted). */
export type PinSource = { kind: "commit"; commit: string } | { kind: "bundle"; tar: Uint8Array; baseCommit?: string };

/** The acceptance part of a run: the tests that must pass, the files pinned, and where they come from. */
export interface AcceptanceOptions {
  /** Named test ids (at most 32); see rule.ts for how they match reported ids. */
  named: string[];
  /** Repository paths (files or directories) of the pinned test files. */
  testFiles: string[];
  /** None: the named tests are checked in the work as it is (nothing pinned, no base to compare with). */
  pin: PinSource | null;
}

/** Largest bundle the harness unpacks, and its largest file count. */
const MAX_BUNDLE_BYTES = 64 << 20;
const MAX_BUNDLE_FILES = 5000;

/** A repository-relative path of plain names: no absolute path, no `.` or `..`, no `.git` component. */
export function isSafeRepoPath(path: string): boolean {
  if (!path || path.startsWith("/") || path.includes("\0") || path.includes("\\")) return false;
  const parts = path.split("/");
  return parts.every((p) => p !== "" && p !== "." && p !== ".." && p.toLowerCase() !== ".git");
}

/** The regular files of a tar archive by path; links, devices and unsafe names are refused. */
export async function readBundle(tar: Uint8Array): Promise<Map<string, Buffer>> {
  if (tar.byteLength > MAX_BUNDLE_BYTES)
    throw new AppError("INVALID_TEST_BUNDLE", `The test bundle is over ${MAX_BUNDLE_BYTES >> 20} MiB.`, 422);
  const files = new Map<string, Buffer>();
  let problem: string | null = null;
  await new Promise<void>((resolve, reject) => {
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const path = entry.path.replace(/^\.\//, "").replace(/\/$/, "");
        if (entry.type === "Directory") {
          entry.resume();
          return;
        }
        if (entry.type !== "File" && entry.type !== "OldFile") problem ??= `${path} is a ${entry.type}, not a file`;
        else if (!isSafeRepoPath(path)) problem ??= `${JSON.stringify(path)} is not a plain relative path`;
        else if (files.size >= MAX_BUNDLE_FILES) problem ??= `more than ${MAX_BUNDLE_FILES} files`;
        if (problem) {
          entry.resume();
          return;
        }
        const chunks: Buffer[] = [];
        entry.on("data", (c: Buffer) => chunks.push(c));
        entry.on("end", () => files.set(path, Buffer.concat(chunks)));
      },
    });
    parser.on("error", reject);
    parser.on("end", () => resolve());
    parser.end(Buffer.from(tar));
  });
  if (problem) throw new AppError("INVALID_TEST_BUNDLE", `The test bundle is refused: ${problem}.`, 422);
  return files;
}

/**
 * Writes `files` (repository path → bytes) into the checkout at `src`. The sandbox may have left anything there
 * (an install runs before): every directory on the way that is not a plain directory (a symlink, a file) is
 * removed and made again, and the file itself is removed first, so nothing is written through a link. Returns the
 * files and directories it made (for the sandbox user to own).
 */
export function writePinnedFiles(src: string, files: ReadonlyMap<string, Buffer>): string[] {
  const made: string[] = [];
  for (const [path, data] of files) {
    if (!isSafeRepoPath(path)) throw new AppError("INVALID_TEST_BUNDLE", `Unsafe pinned path ${path}.`, 422);
    const parts = posix.normalize(path).split("/");
    let dir = src;
    for (const part of parts.slice(0, -1)) {
      dir = join(dir, part);
      let plainDir = false;
      try {
        const st = lstatSync(dir);
        plainDir = st.isDirectory() && !st.isSymbolicLink();
        if (!plainDir) rmSync(dir, { recursive: true, force: true });
      } catch {
        // absent: made below
      }
      if (!plainDir) {
        mkdirSync(dir, { mode: 0o755 });
        made.push(dir);
      }
    }
    const file = join(dir, parts.at(-1)!);
    rmSync(file, { recursive: true, force: true });
    // wx: fails rather than follow anything created at this name in between.
    writeFileSync(file, data, { flag: "wx", mode: 0o644 });
    made.push(file);
  }
  return made;
}

/** Why a named test file the pin does not hold refuses the run. */
export const UNPINNED = "acceptance test file not in the pinned commit or bundle";

/**
 * The entries of `testFiles` (files or directories) that match no pinned file. Before the sponsor commits a drafted
 * acceptance test (or uploads it in a bundle) its file exists only in the work, where the contributor writes it.
 */
export function missingPinned(testFiles: readonly string[], pinned: ReadonlyMap<string, unknown>): string[] {
  const paths = [...pinned.keys()];
  return testFiles.filter((entry) => {
    const dir = `${entry.replace(/\/+$/, "")}/`;
    return !paths.some((p) => p === entry || p.startsWith(dir));
  });
}
