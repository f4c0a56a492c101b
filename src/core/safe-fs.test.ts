// The safe reader against real files, links, FIFOs and devices.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isPlainPath, listPlainDir, readPlainFile, readPlainText } from "./safe-fs";

let root: string;
let outside: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "ds-safe-root-"));
  outside = mkdtempSync(join(tmpdir(), "ds-safe-out-"));
  writeFileSync(join(outside, "secret"), "SECRET");
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

test("a plain file inside the root is read", () => {
  mkdirSync(join(root, "a"));
  writeFileSync(join(root, "a", "f.txt"), "hello");
  expect(readPlainText(root, join(root, "a", "f.txt"))).toBe("hello");
  expect(isPlainPath(root, join(root, "a"), "dir")).toBe(true);
  expect(listPlainDir(root, root).map((e) => e.name)).toEqual(["a"]);
});

test("symlinks, in the file or on the way to it, are never followed", () => {
  symlinkSync(join(outside, "secret"), join(root, "link"));
  symlinkSync(outside, join(root, "dir"));
  symlinkSync("/proc/self/environ", join(root, "environ"));
  expect(readPlainFile(root, join(root, "link"))).toBeNull();
  expect(readPlainFile(root, join(root, "dir", "secret"))).toBeNull();
  expect(readPlainFile(root, join(root, "environ"))).toBeNull();
  expect(listPlainDir(root, join(root, "dir"))).toEqual([]);
});

test("a path outside the root is refused", () => {
  expect(readPlainFile(root, join(root, "..", outside.split("/").at(-1)!, "secret"))).toBeNull();
  expect(readPlainFile(join(root, "sub"), join(root, "sub", "..", "x"))).toBeNull();
});

test("a hard link to a file outside the root is refused", () => {
  linkSync(join(outside, "secret"), join(root, "hard"));
  expect(readPlainFile(root, join(root, "hard"))).toBeNull();
});

test("FIFOs and devices are refused without blocking", () => {
  Bun.spawnSync(["mkfifo", join(root, "fifo")]);
  expect(readPlainFile(root, join(root, "fifo"))).toBeNull();
  expect(readPlainFile("/dev", "/dev/zero")).toBeNull();
});

test("a file over the size cap is refused, or cut when truncation is asked for", () => {
  writeFileSync(join(root, "big"), "x".repeat(100));
  expect(readPlainFile(root, join(root, "big"), 10)).toBeNull();
  expect(readPlainText(root, join(root, "big"), 10, { truncate: true })).toBe("x".repeat(10));
});
