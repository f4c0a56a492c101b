import { expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
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
