// The work dir's disk watchdog on a real temporary directory: `du` measures what is written there, a run that
// writes past the limit is reported once, and a stopped watch reports nothing.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { diskUsage, watchDisk } from "./diskwatch";

const MiB = 1024 * 1024;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "ds-diskwatch-"));
  dirs.push(d);
  return d;
};
// Random bytes: a filesystem that compresses or dedups still stores them in full.
const writeMiB = (path: string, mib: number) => writeFileSync(path, crypto.getRandomValues(new Uint8Array(mib * MiB)));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("sandbox/diskwatch", () => {
  test("diskUsage counts the bytes written below the directory; a missing directory is null", async () => {
    const dir = tempDir();
    const empty = await diskUsage(dir);
    expect(empty).not.toBeNull();
    writeMiB(join(dir, "a.bin"), 3);
    const three = (await diskUsage(dir))!;
    expect(three - empty!).toBeGreaterThanOrEqual(3 * MiB);
    expect(three - empty!).toBeLessThan(4 * MiB);
    writeMiB(join(dir, "b.bin"), 2);
    expect((await diskUsage(dir))! - three).toBeGreaterThanOrEqual(2 * MiB);
    expect(await diskUsage(join(dir, "no-such-dir"))).toBeNull();
  });

  test("writing past the limit calls onExceed once; staying under it does not", async () => {
    const dir = tempDir();
    const base = (await diskUsage(dir))!;
    let exceeded = 0;
    const stop = watchDisk(dir, base + 2 * MiB, () => exceeded++);
    try {
      writeMiB(join(dir, "under.bin"), 1);
      await sleep(2300); // two polls under the limit
      expect(exceeded).toBe(0);
      writeMiB(join(dir, "over.bin"), 2);
      const t0 = Date.now();
      while (exceeded === 0 && Date.now() - t0 < 5000) await sleep(50);
      expect(exceeded).toBe(1);
      writeMiB(join(dir, "more.bin"), 1);
      await sleep(2300); // further polls would have called it again
      expect(exceeded).toBe(1);
    } finally {
      stop();
    }
  }, 20_000);

  test("a stopped watch does not call onExceed", async () => {
    const dir = tempDir();
    let exceeded = 0;
    const stop = watchDisk(dir, 1 * MiB, () => exceeded++);
    stop();
    writeMiB(join(dir, "big.bin"), 2);
    await sleep(2300);
    expect(exceeded).toBe(0);
  }, 10_000);
});
