// The one way the host reads a repository's checkout or what a sandbox left in a work dir. Both are written by
// someone else, and the appliance reads them with its own rights: a symlink there may point anywhere on the host
// (the master key, the dev chain's keys, /proc/self/environ, /dev/zero, a FIFO). Every read checks that each
// component from the root down is a plain directory or file (lstat, no symlink), opens with O_NOFOLLOW and
// O_NONBLOCK, checks the opened file is a regular file with one link, and that the kernel's own path of the
// open descriptor is still inside the root (a component swapped for a symlink between the check and the open).
import {
  closeSync,
  constants,
  type Dirent,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readlinkSync,
  readSync,
  realpathSync,
} from "node:fs";
import { relative, sep } from "node:path";

/** Largest file read unless the caller says otherwise (a JUnit XML report). */
export const MAX_REPORT_BYTES = 32 << 20;

function components(root: string, path: string): string[] | null {
  const rel = relative(root, path);
  if (rel === "") return [];
  if (rel === ".." || rel.startsWith(`..${sep}`) || rel.startsWith(sep)) return null;
  return rel.split(sep);
}

/** True when `path` is `root` or below it and no component from `root` down is a symlink. */
export function isPlainPath(root: string, path: string, kind: "file" | "dir"): boolean {
  const parts = components(root, path);
  if (!parts) return false;
  let current = root;
  try {
    if (!lstatSync(current).isDirectory()) return false;
    for (const [i, part] of parts.entries()) {
      current = `${current}${sep}${part}`;
      const st = lstatSync(current);
      const last = i === parts.length - 1;
      if (st.isSymbolicLink()) return false;
      if (!last && !st.isDirectory()) return false;
      if (last) return kind === "file" ? st.isFile() : st.isDirectory();
    }
    return kind === "dir";
  } catch {
    return false;
  }
}

function insideRoot(root: string, fd: number): boolean {
  try {
    const real = realpathSync(root);
    const opened = readlinkSync(`/proc/self/fd/${fd}`);
    return opened.startsWith(real === sep ? sep : `${real}${sep}`);
  } catch {
    // No /proc: the component walk above is the check.
    return true;
  }
}

/**
 * Reads a regular file below `root` (no symlinks on the way, one hard link, at most `max` bytes); null otherwise.
 * With `truncate`, a larger file gives its first `max` bytes instead of null.
 */
export function readPlainFile(
  root: string,
  path: string,
  max = MAX_REPORT_BYTES,
  opts: { truncate?: boolean } = {},
): Buffer | null {
  if (!isPlainPath(root, path, "file")) return null;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    // A second link may be a host file linked in from outside the root.
    if (!st.isFile() || st.nlink !== 1 || !insideRoot(root, fd)) return null;
    if (st.size > max && !opts.truncate) return null;
    const size = Math.min(st.size, max);
    const buf = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, buf, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}

/** Reads a plain file below `root` as UTF-8 text (see readPlainFile); null when it is not one. */
export function readPlainText(root: string, path: string, max = MAX_REPORT_BYTES, opts: { truncate?: boolean } = {}) {
  return readPlainFile(root, path, max, opts)?.toString("utf8") ?? null;
}

/** Entries of a plain directory below `root` (symlinks show as such, never followed); [] when it is not one. */
export function listPlainDir(root: string, path: string): Dirent[] {
  if (!isPlainPath(root, path, "dir")) return [];
  try {
    return readdirSync(path, { withFileTypes: true });
  } catch {
    return [];
  }
}
