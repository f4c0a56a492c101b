import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tar from "tar";
import { dataPaths, VERSION } from "../core/boot";

/** What an archive holds, written first into it as manifest.json. */
export interface BackupManifest {
  format: 1;
  version: string;
  createdAt: string;
  database: "pglite" | "postgres";
  entries: string[];
}

function assertNotRunning(dataDir: string) {
  const pidFile = join(dataPaths(dataDir).pg, "devsponsor.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8"));
  try {
    if (pid && pid !== process.pid) {
      process.kill(pid, 0);
      throw new Error(`the appliance (pid ${pid}) is running on ${dataDir}; stop it before a backup or restore`);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ESRCH") throw err;
  }
}

/**
 * Writes one gzip'd tar with the embedded database, the vector store, the uploads, the chain state (the dev
 * chain's journal, where escrowed funds live, and the contract deployments), a contributed proving key and the
 * master key (without
 * which encrypted uploads and secrets cannot be read: keep the archive as safe as the key). With an external
 * PostgreSQL the database is not included: back it up with pg_dump.
 */
export async function createBackup(dataDir: string, file: string, external: boolean): Promise<BackupManifest> {
  assertNotRunning(dataDir);
  const p = dataPaths(dataDir);
  const entries = [...(external ? [] : [p.pg]), p.lancedb, p.uploads, p.chain, p.zk, p.masterKey]
    .filter((e) => existsSync(e))
    .map((e) => e.slice(dataDir.length + 1));
  const manifest: BackupManifest = {
    format: 1,
    version: VERSION,
    createdAt: new Date().toISOString(),
    database: external ? "postgres" : "pglite",
    entries,
  };
  const manifestPath = join(dataDir, "manifest.json");
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  try {
    await tar.c(
      { gzip: true, file, cwd: dataDir, portable: true, filter: (path) => !path.endsWith("devsponsor.pid") },
      ["manifest.json", ...entries],
    );
  } finally {
    rmSync(manifestPath, { force: true });
  }
  return manifest;
}

/** Restores an archive into `dataDir`; refuses to overwrite existing data unless `force`. */
export async function restoreBackup(dataDir: string, file: string, force: boolean): Promise<BackupManifest> {
  if (!existsSync(file)) throw new Error(`no such archive: ${file}`);
  assertNotRunning(dataDir);
  let manifest: BackupManifest | undefined;
  await tar.t({
    file,
    onReadEntry: (entry) => {
      if (entry.path === "manifest.json") {
        const chunks: Buffer[] = [];
        entry.on("data", (c: Buffer) => chunks.push(c));
        entry.on("end", () => {
          manifest = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        });
      } else entry.resume();
    },
  });
  if (manifest?.format !== 1) throw new Error("not a DevSponsor backup (manifest.json missing or unknown format)");
  const p = dataPaths(dataDir);
  const present = manifest.entries.filter((e) => existsSync(join(dataDir, e)) && readdirSafe(join(dataDir, e)));
  if (present.length && !force) {
    throw new Error(`${dataDir} already has ${present.join(", ")}; pass --force to replace them`);
  }
  for (const e of manifest.entries) rmSync(join(dataDir, e), { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  await tar.x({ file, cwd: dataDir, filter: (path) => path !== "manifest.json" });
  if (existsSync(p.masterKey)) (await import("node:fs")).chmodSync(p.masterKey, 0o600);
  return manifest;
}

function readdirSafe(path: string) {
  try {
    return readdirSync(path).length > 0;
  } catch {
    return true; // a file
  }
}
