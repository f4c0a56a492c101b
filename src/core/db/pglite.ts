import { PGlite, parse, protocol } from "@electric-sql/pglite";
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
type Serializer = (value: unknown) => string;
type QueryOptions = { rowMode?: "array" | "object" };
type Result = { rows: unknown[]; fields: { name: string; dataTypeID: number }[]; affectedRows?: number };
type Tx = { closed: boolean };
type QueryClient = {
  query(text: string, params?: unknown[], opts?: QueryOptions): Promise<unknown>;
  transaction(fn: (tx: QueryClient) => Promise<unknown>): Promise<unknown>;
};
/** The parts of PGlite's instance the prepared path uses (its own query path uses the same). */
type PGliteInternals = {
  parsers: Record<number, Parser>;
  serializers: Record<number, Serializer>;
  _checkReady(): Promise<void>;
  _runExclusiveTransaction<T>(fn: () => Promise<T>): Promise<T>;
  _runExclusiveQuery<T>(fn: () => Promise<T>): Promise<T>;
  execProtocol(message: Uint8Array, opts: { syncToFs: boolean }): Promise<{ messages: BackendMessage[] }>;
  syncToFs(): Promise<void>;
};
type BackendMessage = { name: string; dataTypeIDs?: number[]; code?: string };

/** A statement parsed once in PGlite's session: its name, parameter types and row description. */
interface Statement {
  name: string;
  paramTypes: number[];
  rowDescription: BackendMessage | undefined;
}

/** Statements kept per PGlite instance; beyond this the least recently used is closed. */
const MAX_STATEMENTS = 500;
// Statements that read or write rows; anything else (DDL, SET, transaction control) takes PGlite's own path.
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Named prepared statements for PGlite. Its `query` sends every statement through six protocol exchanges
 * (parse, describe, bind, describe, execute, sync) and PostgreSQL plans it each time; a statement that was seen
 * before is instead bound and executed by name in one exchange, with PostgreSQL's plan cache. Measured on a
 * session lookup (a join of two tables): 3.7–6.0 ms of CPU per query before, 0.8–1.0 ms after. Values are
 * serialized and rows parsed by PGlite's own serializers, parsers and result parser, as its `query` does.
 */
function preparedStatements(pg: PGlite) {
  const db = pg as unknown as PGliteInternals;
  const { serialize } = protocol;
  const statements = new Map<string, Statement>();
  let next = 0;

  async function prepare(text: string): Promise<Statement> {
    const name = `ds_${next++}`;
    const parts = [serialize.parse({ name, text }), serialize.describe({ type: "S", name }), serialize.sync()];
    if (statements.size >= MAX_STATEMENTS) {
      const [oldText, old] = statements.entries().next().value as [string, Statement];
      statements.delete(oldText);
      parts.unshift(serialize.close({ type: "S", name: old.name }));
    }
    const { messages } = await db.execProtocol(concat(parts), { syncToFs: false });
    const st: Statement = {
      name,
      paramTypes: messages.find((m) => m.name === "parameterDescription")?.dataTypeIDs ?? [],
      rowDescription: messages.find((m) => m.name === "rowDescription"),
    };
    statements.set(text, st);
    return st;
  }

  async function run(text: string, params: unknown[], opts: QueryOptions | undefined, retry: boolean): Promise<Result> {
    let st = statements.get(text);
    if (st) {
      statements.delete(text); // most recently used last
      statements.set(text, st);
    } else {
      st = await prepare(text);
    }
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const serializer = db.serializers[st.paramTypes[i]!];
      return serializer ? serializer(value) : String(value);
    });
    try {
      const { messages } = await db.execProtocol(
        concat([serialize.bind({ statement: st.name, values }), serialize.execute({}), serialize.sync()]),
        { syncToFs: false },
      );
      const all = st.rowDescription ? [st.rowDescription, ...messages] : messages;
      return parse.parseResults(all as never, db.parsers as never, opts)[0] as Result;
    } catch (err) {
      // A table changed shape since the statement was parsed: it is parsed again on its next use, and at once
      // outside a transaction (inside one, the failed statement has already aborted it).
      if ((err as { code?: string }).code === "0A000" && /cached plan/.test(String((err as Error).message))) {
        statements.delete(text);
        if (retry) return run(text, params, opts, false);
      }
      throw err;
    }
  }

  return {
    /** Runs one statement outside a transaction: waits for running transactions, as PGlite's `query` does. */
    async query(text: string, params: unknown[], opts?: QueryOptions): Promise<Result> {
      await db._checkReady();
      return db._runExclusiveTransaction(() =>
        db._runExclusiveQuery(async () => {
          const result = await run(text, params, opts, true);
          await db.syncToFs();
          return result;
        }),
      );
    },
    /** Runs one statement inside the transaction `tx` holds. */
    inTransaction(tx: Tx, text: string, params: unknown[], opts?: QueryOptions): Promise<Result> {
      if (tx.closed) throw new Error("Transaction is closed");
      return db._runExclusiveQuery(() => run(text, params, opts, false));
    },
  };
}

/**
 * Sets PGlite's parsers for drizzle's text types to pass the text through, and returns the client drizzle
 * should use (statements that read or write rows run as named prepared statements), the same prepared path for
 * raw queries, and a function that gives raw query results PGlite's usual values (dates) back.
 */
export function forDrizzle(pg: PGlite) {
  const table = pg.parsers as Record<number, Parser>;
  const original: Record<number, Parser> = {};
  for (const oid of DRIZZLE_TEXT_TYPES) {
    original[oid] = table[oid] ?? ((v: string) => v);
    table[oid] = (v: string) => v;
  }
  const prepared = preparedStatements(pg);
  const rowMode = (opts?: QueryOptions) => (opts?.rowMode ? { rowMode: opts.rowMode } : undefined);
  const txClient = (tx: QueryClient & Tx): QueryClient => ({
    query: (text, params, opts) =>
      PREPARABLE.test(text)
        ? prepared.inTransaction(tx, text, params ?? [], rowMode(opts))
        : tx.query(text, params, rowMode(opts)),
    transaction: () => Promise.reject(new Error("nested transactions are not supported")),
  });
  // Statements and transactions that ended (the database can have changed only then: this process is its only user)
  let ended = 0;
  const counted = <T>(p: Promise<T>) =>
    p.finally(() => {
      ended++;
    });
  const client: QueryClient = {
    query: (text, params, opts) =>
      counted(
        PREPARABLE.test(text)
          ? prepared.query(text, params ?? [], rowMode(opts))
          : (pg as unknown as QueryClient).query(text, params, rowMode(opts)),
      ),
    transaction: (fn) => counted(pg.transaction((tx) => fn(txClient(tx as unknown as QueryClient & Tx)))),
  };
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
  /** A raw statement with parameters, prepared like drizzle's, its rows with PGlite's usual values. */
  const query = async (text: string, params: unknown[]) =>
    parseLikeBefore(
      await counted(PREPARABLE.test(text) ? prepared.query(text, params) : (pg.query(text, params) as Promise<Result>)),
    ).rows;
  /** Runs `exec` (several statements, PGlite's own path) counted like the others. */
  const exec = (text: string) => counted(pg.exec(text));
  return { client: client as unknown as PGlite, parseLikeBefore, query, exec, ended: () => ended };
}
