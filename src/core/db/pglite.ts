import { PGlite } from "@electric-sql/pglite";
import { mkdirSync } from "node:fs";
// The three assets are embedded by `bun build --compile`; passing them explicitly keeps PGlite from looking
// for them next to its own module, which does not exist inside the binary.
import initdbWasm from "@electric-sql/pglite/initdb.wasm" with { type: "file" };
import pgliteData from "@electric-sql/pglite/pglite.data" with { type: "file" };
import pgliteWasm from "@electric-sql/pglite/pglite.wasm" with { type: "file" };

let assets:
  | Promise<{ pgliteWasmModule: WebAssembly.Module; initdbWasmModule: WebAssembly.Module; fsBundle: Blob }>
  | undefined;

function loadAssets() {
  assets ??= Promise.all([
    Bun.file(pgliteWasm)
      .arrayBuffer()
      .then((b) => WebAssembly.compile(b)),
    Bun.file(initdbWasm)
      .arrayBuffer()
      .then((b) => WebAssembly.compile(b)),
    Bun.file(pgliteData)
      .arrayBuffer()
      .then((b) => new Blob([b])),
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

// drizzle asks for these types as the server's text (it parses them itself), by passing `parsers` with every
// query. PGlite merges that option into its own table of ~320 parsers on every call, which costs 0.3–0.5 ms a
// query in Bun (a third of a small query's time). So the instance's table answers drizzle's way for these
// types, drizzle's option is dropped, and `parseLikeBefore` restores PGlite's own parsing for raw queries.
const DRIZZLE_TEXT_TYPES = [1114, 1184, 1186, 1082, 1231, 1115, 1185, 1187, 1182];

type Parser = (value: string, typeId: number) => unknown;
type QueryOptions = { rowMode?: "array" | "object" };
type QueryClient = {
  query(text: string, params?: unknown[], opts?: QueryOptions): Promise<unknown>;
  transaction(fn: (tx: QueryClient) => Promise<unknown>): Promise<unknown>;
};

/**
 * Sets PGlite's parsers for drizzle's text types to pass the text through, and returns the client drizzle
 * should use plus a function that gives raw query results PGlite's usual values (dates) back.
 */
export function forDrizzle(pg: PGlite) {
  const table = pg.parsers as Record<number, Parser>;
  const original: Record<number, Parser> = {};
  for (const oid of DRIZZLE_TEXT_TYPES) {
    original[oid] = table[oid] ?? ((v: string) => v);
    table[oid] = (v: string) => v;
  }
  const client = (c: QueryClient): QueryClient => ({
    query: (text, params, opts) => c.query(text, params, opts?.rowMode ? { rowMode: opts.rowMode } : undefined),
    transaction: (fn) => c.transaction((tx) => fn(client(tx))),
  });
  const parseLikeBefore = <R extends { rows: unknown[]; fields: { name: string; dataTypeID: number }[] }>(r: R) => {
    const fields = r.fields.filter((f) => f.dataTypeID in original);
    if (fields.length) {
      for (const row of r.rows as Record<string, unknown>[]) {
        for (const f of fields) {
          const v = row[f.name];
          if (typeof v === "string") row[f.name] = original[f.dataTypeID](v, f.dataTypeID);
        }
      }
    }
    return r;
  };
  return { client: client(pg as unknown as QueryClient) as unknown as PGlite, parseLikeBefore };
}
