import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bootstrap, dataPaths } from "../core/boot";
import { loadConfig } from "../core/config";
import { createBackup, restoreBackup } from "./service";

test("backup then restore into an empty data dir brings back database, uploads, vectors, chain state and key", async () => {
  const src = mkdtempSync(join(tmpdir(), "ds-bk-src-"));
  const ctx = await bootstrap(loadConfig({ DEVSPONSOR_DATA_DIR: src }), { env: {} });
  await ctx.settings.update({ "instance.name": "Backed Up Inc", "smtp.password": "hunter2-secret" }, null);
  const instanceId = ctx.instanceId;
  await ctx.database.close();
  const p = dataPaths(src);
  mkdirSync(p.uploads, { recursive: true });
  writeFileSync(join(p.uploads, "doc.bin"), "encrypted bytes");
  mkdirSync(p.lancedb, { recursive: true });
  writeFileSync(join(p.lancedb, "marker"), "vectors");
  mkdirSync(p.chain, { recursive: true });
  writeFileSync(join(p.chain, "deployment-31337.json"), "{}");

  const archive = join(mkdtempSync(join(tmpdir(), "ds-bk-")), "backup.tar.gz");
  const manifest = await createBackup(src, archive, false);
  expect(manifest.entries.sort()).toEqual(["chain", "lancedb", "master.key", "pg", "uploads"]);

  const dst = mkdtempSync(join(tmpdir(), "ds-bk-dst-"));
  await restoreBackup(dst, archive, false);
  expect(readFileSync(join(dst, "uploads", "doc.bin"), "utf8")).toBe("encrypted bytes");
  expect(readFileSync(join(dst, "lancedb", "marker"), "utf8")).toBe("vectors");
  expect(readFileSync(join(dst, "chain", "deployment-31337.json"), "utf8")).toBe("{}");
  expect(statSync(join(dst, "master.key")).mode & 0o777).toBe(0o600);

  const restored = await bootstrap(loadConfig({ DEVSPONSOR_DATA_DIR: dst }), { env: {} });
  expect(restored.instanceId).toBe(instanceId);
  expect(restored.settings.get("instance.name")).toBe("Backed Up Inc");
  expect(restored.settings.get("smtp.password")).toBe("hunter2-secret"); // the key came along
  await restored.database.close();

  // Restoring over existing data needs --force.
  await expect(restoreBackup(dst, archive, false)).rejects.toThrow(/--force/);
  await restoreBackup(dst, archive, true);
}, 90_000);

test("backup refuses while the appliance runs on the data dir", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ds-bk-run-"));
  const ctx = await bootstrap(loadConfig({ DEVSPONSOR_DATA_DIR: dir }), { env: {} });
  // The pid lock names this process; pretend another live process (our parent) holds it.
  writeFileSync(join(dir, "pg", "devsponsor.pid"), String(process.ppid));
  await expect(createBackup(dir, join(dir, "x.tar.gz"), false)).rejects.toThrow(/running/);
  writeFileSync(join(dir, "pg", "devsponsor.pid"), String(process.pid));
  await ctx.database.close();
  expect(existsSync(join(dir, "x.tar.gz"))).toBe(false);
}, 60_000);

test("restore rejects a file that is not a backup", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ds-bk-bad-"));
  const bogus = join(dir, "bogus.tar.gz");
  writeFileSync(bogus, "not a tarball");
  await expect(restoreBackup(join(dir, "data"), bogus, false)).rejects.toThrow();
});

/** One ustar header block plus its padded body: archives no honest tar would write. */
function tarEntry(name: string, opts: { type?: string; body?: string; linkname?: string } = {}): Buffer {
  const body = Buffer.from(opts.body ?? "");
  const h = Buffer.alloc(512);
  const put = (s: string, at: number, len: number) => h.write(s, at, len, "latin1");
  put(name, 0, 100);
  put("0000644\0", 100, 8);
  put("0000000\0", 108, 8);
  put("0000000\0", 116, 8);
  put(`${body.length.toString(8).padStart(11, "0")}\0`, 124, 12);
  put("00000000000\0", 136, 12);
  put("        ", 148, 8);
  put(opts.type ?? "0", 156, 1);
  put(opts.linkname ?? "", 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148, 8);
  const pad = Buffer.alloc((512 - (body.length % 512)) % 512);
  return Buffer.concat([h, body, pad]);
}

const MANIFEST = JSON.stringify({ format: 1, version: "x", createdAt: "", database: "pglite", entries: ["uploads"] });

function craftArchive(entries: Buffer[]): string {
  const file = join(mkdtempSync(join(tmpdir(), "ds-bk-evil-")), "evil.tar.gz");
  const tarball = Buffer.concat([tarEntry("manifest.json", { body: MANIFEST }), ...entries, Buffer.alloc(1024)]);
  writeFileSync(file, Bun.gzipSync(tarball));
  return file;
}

test("a backup archive is readable by its owner only", async () => {
  const src = mkdtempSync(join(tmpdir(), "ds-bk-mode-"));
  mkdirSync(join(src, "uploads"));
  writeFileSync(join(src, "uploads", "a"), "x");
  const archive = join(src, "..", `${src.split("/").pop()}.tar.gz`);
  const umask = process.umask(0o022);
  try {
    await createBackup(src, archive, true);
  } finally {
    process.umask(umask);
  }
  expect(statSync(archive).mode & 0o777).toBe(0o600);
});

describe("restore refuses entries that would land outside the data dir", () => {
  const cases: [string, Buffer[]][] = [
    ["a .. path", [tarEntry("uploads/../../escaped.txt", { body: "pwned" })]],
    ["an absolute path", [tarEntry("/tmp/ds-bk-absolute-escape.txt", { body: "pwned" })]],
    [
      "a symlink",
      [tarEntry("uploads/link", { type: "2", linkname: "/" }), tarEntry("uploads/link/tmp/x", { body: "pwned" })],
    ],
    ["a hard link", [tarEntry("uploads/hard", { type: "1", linkname: "/etc/passwd" })]],
    ["a character device", [tarEntry("uploads/null", { type: "3" })]],
    ["a FIFO", [tarEntry("uploads/fifo", { type: "6" })]],
    ["an unknown top-level name", [tarEntry("evil.sh", { body: "pwned" })]],
  ];
  for (const [what, entries] of cases) {
    test(what, async () => {
      const parent = mkdtempSync(join(tmpdir(), "ds-bk-dst-"));
      const dst = join(parent, "data");
      mkdirSync(join(dst, "uploads"), { recursive: true });
      writeFileSync(join(dst, "uploads", "keep"), "existing");
      await expect(restoreBackup(dst, craftArchive(entries), true)).rejects.toThrow(/refused/);
      expect(readdirSync(parent)).toEqual(["data"]);
      expect(readFileSync(join(dst, "uploads", "keep"), "utf8")).toBe("existing"); // nothing deleted either
      expect(existsSync("/tmp/ds-bk-absolute-escape.txt")).toBe(false);
    });
  }

  test("a manifest naming a path outside the data dir deletes nothing", async () => {
    const parent = mkdtempSync(join(tmpdir(), "ds-bk-dst-"));
    const victim = join(parent, "victim");
    mkdirSync(victim);
    writeFileSync(join(victim, "precious"), "keep me");
    const manifest = JSON.stringify({
      format: 1,
      version: "x",
      createdAt: "",
      database: "pglite",
      entries: ["../victim"],
    });
    const file = join(parent, "evil.tar.gz");
    writeFileSync(
      file,
      Bun.gzipSync(Buffer.concat([tarEntry("manifest.json", { body: manifest }), Buffer.alloc(1024)])),
    );
    await expect(restoreBackup(join(parent, "data"), file, true)).rejects.toThrow(/refused/);
    expect(readFileSync(join(victim, "precious"), "utf8")).toBe("keep me");
  });

  test("a plain crafted archive restores", async () => {
    const dst = join(mkdtempSync(join(tmpdir(), "ds-bk-dst-")), "data");
    await restoreBackup(
      dst,
      craftArchive([tarEntry("uploads/", { type: "5" }), tarEntry("uploads/a", { body: "ok" })]),
      false,
    );
    expect(readFileSync(join(dst, "uploads", "a"), "utf8")).toBe("ok");
    expect(statSync(join(dst, "uploads")).mode & 0o777).toBe(0o700);
  });
});
