// Reading what a sandbox (or a repository's checkout) left in the work dir, from the host, as root: a symlink
// there may point anywhere on the host (/etc/shadow, /dev/zero, a FIFO), so every read checks that the path is a
// regular file or directory inside the work dir, reached without any symlink.
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { relative, sep } from "node:path";

/** Largest report file read (JUnit XML). */
export const MAX_REPORT_BYTES = 32 << 20;

function components(root: string, path: string): string[] | null {
  const rel = relative(root, path);
  if (rel === "" || rel.startsWith("..") || rel.startsWith(sep)) return rel === "" ? [] : null;
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

/** Reads a regular file below `root` (no symlinks on the way, at most `max` bytes); null otherwise. */
export function readPlainFile(root: string, path: string, max = MAX_REPORT_BYTES): Buffer | null {
  if (!isPlainPath(root, path, "file")) return null;
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < st.size) {
      const n = readSync(fd, buf, off, st.size - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.subarray(0, off);
  } finally {
    closeSync(fd);
  }
}
