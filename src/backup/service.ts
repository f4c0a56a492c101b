import {
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { isAbsolute, join, resolve, sep } from "node:path";
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
  // The archive holds the master key: only its owner may read it, from the first byte written.
  closeSync(openSync(file, "w", 0o600));
  chmodSync(file, 0o600);
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

/** The top-level names a backup may hold: what `createBackup` writes, nothing else. */
function restorableNames(dataDir: string): Set<string> {
  const p = dataPaths(dataDir);
  return new Set([p.pg, p.lancedb, p.uploads, p.chain, p.zk, p.masterKey].map((e) => e.slice(dataDir.length + 1)));
}

const PLAIN_TYPES = new Set(["File", "OldFile", "ContiguousFile", "Directory"]);

/**
 * Why an archive entry may not be restored, or null. Only plain files and directories below one of the known
 * top-level names: no absolute paths, no `..`, no links or devices (a link could point the next entry outside).
 */
function unsafeEntry(path: string, type: string, allowed: Set<string>): string | null {
  if (!PLAIN_TYPES.has(type)) return `${path} is a ${type}`;
  if (isAbsolute(path) || /^[a-zA-Z]:/.test(path) || path.includes("\\")) return `${path} is an absolute path`;
  const parts = path.split("/").filter((x) => x !== "" && x !== ".");
  if (parts.includes("..")) return `${path} leaves the data dir`;
  if (path === "manifest.json") return null;
  if (!parts[0] || !allowed.has(parts[0])) return `${path} is not part of a backup`;
  return null;
}

/** Restores an archive into `dataDir`; refuses to overwrite existing data unless `force`. */
export async function restoreBackup(dataDir: string, file: string, force: boolean): Promise<BackupManifest> {
  if (!existsSync(file)) throw new Error(`no such archive: ${file}`);
  assertNotRunning(dataDir);
  const allowed = restorableNames(dataDir);
  let manifest: BackupManifest | undefined;
  const refused: string[] = [];
  await tar.t({
    file,
    strict: true,
    onReadEntry: (entry) => {
      const why = unsafeEntry(entry.path, entry.type, allowed);
      if (why) refused.push(why);
      if (entry.path === "manifest.json" && !why) {
        const chunks: Buffer[] = [];
        entry.on("data", (c: Buffer) => chunks.push(c));
        entry.on("end", () => {
          manifest = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        });
      } else entry.resume();
    },
  });
  if (refused.length) throw new Error(`the archive is refused: ${refused.slice(0, 5).join("; ")}`);
  if (manifest?.format !== 1 || !Array.isArray(manifest.entries)) {
    throw new Error("not a DevSponsor backup (manifest.json missing or unknown format)");
  }
  // The manifest names what is deleted before extraction: only the known top-level names, inside the data dir.
  const root = resolve(dataDir);
  for (const e of manifest.entries) {
    const target = resolve(root, String(e));
    if (typeof e !== "string" || !allowed.has(e) || !target.startsWith(root + sep)) {
      throw new Error(`the archive is refused: its manifest names ${JSON.stringify(e)}`);
    }
  }
  const p = dataPaths(dataDir);
  const present = manifest.entries.filter((e) => existsSync(join(dataDir, e)) && readdirSafe(join(dataDir, e)));
  if (present.length && !force) {
    throw new Error(`${dataDir} already has ${present.join(", ")}; pass --force to replace them`);
  }
  for (const e of manifest.entries) rmSync(join(root, e), { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  await tar.x({
    file,
    cwd: dataDir,
    strict: true,
    preservePaths: false,
    // checked above; checked again here in case the file changed between the two reads
    filter: (path, entry) => path !== "manifest.json" && !unsafeEntry(path, (entry as tar.ReadEntry).type, allowed),
  });
  if (existsSync(p.masterKey)) chmodSync(p.masterKey, 0o600);
  for (const dir of [p.uploads, p.lancedb]) if (existsSync(dir)) chmodSync(dir, 0o700);
  return manifest;
}

function readdirSafe(path: string) {
  try {
    return readdirSync(path).length > 0;
  } catch {
    return true; // a file
  }
}
