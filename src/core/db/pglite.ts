import { PGlite } from "@electric-sql/pglite";
import { mkdirSync } from "node:fs";
// The three assets are embedded by `bun build --compile`; passing them explicitly keeps PGlite from looking
// for them next to its own module, which does not exist inside the binary.
import initdbWasm from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import pgliteData from "@electric-sql/pglite/pglite.data" with { type: "file" };
import pgliteWasm from "@electric-sql/pglite/pglite.wasm" with { type: "file" };

let assets: Promise<{ pgliteWasmModule: WebAssembly.Module; initdbWasmModule: WebAssembly.Module; fsBundle: Blob }> | undefined;

function loadAssets() {
  assets ??= Promise.all([
    Bun.file(pgliteWasm).arrayBuffer().then((b) => WebAssembly.compile(b)),
    Bun.file(initdbWasm).arrayBuffer().then((b) => WebAssembly.compile(b)),
    Bun.file(pgliteData).arrayBuffer().then((b) => new Blob([b])),
  ]).then(([pgliteWasmModule, initdbWasmModule, fsBundle]) => ({ pgliteWasmModule, initdbWasmModule, fsBundle }));
  return assets;
}

/**
 * PostgreSQL's page cache inside PGlite's WebAssembly memory. PGlite keeps PostgreSQL's 128 MB default, which
 * alone is ~120 MB of the appliance's resident memory (measured: 260 MiB RSS for an open PGlite with 128 MB,
 * 137 MiB with 16 MB). The data files are ordinary files, so the OS page cache still holds hot pages; installs
 * that outgrow this use PostgreSQL (`DATABASE_URL`).
 */
const SHARED_BUFFERS = "16MB";

/** Opens PGlite in `dir` (created if missing), or in memory when `dir` is undefined. */
export async function openPGlite(dir?: string, loadDataDir?: Blob): Promise<PGlite> {
  if (dir) mkdirSync(dir, { recursive: true }); // PGlite's own mkdir is not recursive
  const a = await loadAssets();
  return PGlite.create(dir, {
    ...a,
    ...(loadDataDir ? { loadDataDir } : {}),
    startParams: [...PGlite.defaultStartParams, "-c", `shared_buffers=${SHARED_BUFFERS}`],
  });
}
