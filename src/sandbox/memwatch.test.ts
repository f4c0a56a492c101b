// The memory watchdog: the cgroup of a real process is found and read; memory.stat of both cgroup versions is
// parsed from real files; a run held at its limit past the grace time is reported once, a dip below resets it.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { anonBytes, memoryCgroupOf, watchMemory } from "./memwatch";

const MiB = 1024 * 1024;
const dirs: string[] = [];
/** A directory holding a memory.stat as a cgroup v1 memory controller writes it. */
const v1Cgroup = (rss: number, shmem: number) => {
  const d = mkdtempSync(join(tmpdir(), "ds-memwatch-"));
  dirs.push(d);
  setV1(d, rss, shmem);
  return d;
};
const setV1 = (dir: string, rss: number, shmem: number) =>
  writeFileSync(
    join(dir, "memory.stat"),
    `cache 4096\nrss ${rss}\nshmem ${shmem}\nmapped_file 0\ntotal_cache 8192\ntotal_rss ${rss}\ntotal_shmem ${shmem}\n`,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("sandbox/memwatch", () => {
  test("the memory cgroup of a running process is found and its memory read; an ended process has none", async () => {
    const child = Bun.spawn(["sleep", "30"]);
    try {
      const dir = memoryCgroupOf(child.pid);
      expect(dir).toMatch(/^\/sys\/fs\/cgroup\//);
      expect(existsSync(join(dir!, "memory.stat"))).toBe(true);
      // a child stays in its parent's cgroup
      expect(dir).toBe(memoryCgroupOf(process.pid));
      expect(anonBytes(dir!)).toBeGreaterThan(MiB); // this test process's own heap at least
    } finally {
      child.kill();
      await child.exited;
    }
    expect(memoryCgroupOf(child.pid)).toBeNull();
  });

  test("memory.stat: cgroup v1 counts total_rss + total_shmem, v2 anon + shmem; unreadable or unknown is null", () => {
    expect(anonBytes(v1Cgroup(300 * MiB, 20 * MiB))).toBe(320 * MiB);
    const v2 = mkdtempSync(join(tmpdir(), "ds-memwatch-"));
    dirs.push(v2);
    writeFileSync(join(v2, "memory.stat"), `anon ${100 * MiB}\nfile 4096\nkernel 0\nshmem ${5 * MiB}\nanon_thp 0\n`);
    expect(anonBytes(v2)).toBe(105 * MiB);
    writeFileSync(join(v2, "memory.stat"), "file 4096\nkernel 0\n");
    expect(anonBytes(v2)).toBeNull();
    expect(anonBytes(join(v2, "missing"))).toBeNull();
  });

  test("held at the limit past the grace time: onOom once; under it, or dipping below, no call", async () => {
    const limit = 256 * MiB;
    const dir = v1Cgroup(200 * MiB, 0); // 78% of the limit
    let ooms = 0;
    const stop = watchMemory(dir, limit, () => ooms++);
    try {
      await sleep(1000);
      expect(ooms).toBe(0);
      setV1(dir, limit - MiB, 0); // 99.6%: at the limit
      await sleep(1000);
      setV1(dir, 200 * MiB, 0); // a dip before the grace time ends starts it over
      await sleep(400);
      setV1(dir, limit, 0);
      await sleep(1000);
      expect(ooms).toBe(0); // 1 s at the limit since the dip: still within the 1.5 s grace
      const t0 = Date.now();
      while (ooms === 0 && Date.now() - t0 < 3000) await sleep(50);
      expect(ooms).toBe(1);
      await sleep(600);
      expect(ooms).toBe(1); // the watch stopped itself
    } finally {
      stop();
    }
  }, 15_000);

  test("a stopped watch does not call onOom", async () => {
    const dir = v1Cgroup(512 * MiB, 0);
    let ooms = 0;
    const stop = watchMemory(dir, 256 * MiB, () => ooms++);
    stop();
    await sleep(2000);
    expect(ooms).toBe(0);
  }, 10_000);
});
