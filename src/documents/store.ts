// The vector store: LanceDB under the data dir, loaded only when documents or retrieval are used (its native
// module is large). One table per embedder (vectors of different models never mix); every row carries the
// project id, and every search is filtered by it.
import { chmodSync, mkdirSync } from "node:fs";
import type { Connection, Table } from "@lancedb/lancedb";
import { isUuid } from "../orgs/permissions";
import { tokens } from "./embedder";

/** One stored passage. */
export interface ChunkRow {
  id: string;
  project_id: string;
  document_id: string;
  document_version: number;
  filename: string;
  chunk_index: number;
  page: number | null;
  heading: string | null;
  text: string;
  vector: number[];
}

/** A passage found by a search. */
export interface Hit {
  projectId: string;
  documentId: string;
  documentVersion: number;
  filename: string;
  chunkIndex: number;
  page: number | null;
  heading: string | null;
  text: string;
  score: number;
}

const COLUMNS = ["project_id", "document_id", "document_version", "filename", "chunk_index", "page", "heading", "text"];
// Beyond this many rows not yet in the full-text index, the index is brought up to date after a write.
const REINDEX_AFTER = 5000;

/**
 * Creates a directory only its owner may enter (0700), and tightens one that exists: the vector store holds the
 * documents' text in clear, and mkdir's default leaves it readable by every local user.
 */
export function ensurePrivateDir(dir: string) {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

function uuidOrThrow(id: string) {
  if (!isUuid(id)) throw new Error("an id in a vector-store filter is not a uuid");
  return id;
}

/** LanceDB tables under one directory, opened lazily; writes are serialized per process. */
export class VectorStore {
  private conn?: Promise<Connection>;
  private tables = new Map<string, Promise<Table | null>>();
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly dir: string) {}

  private async lance() {
    return import("@lancedb/lancedb");
  }

  private connection() {
    this.conn ??= this.lance().then((l) => {
      ensurePrivateDir(this.dir);
      return l.connect(this.dir);
    });
    return this.conn;
  }

  private tableName = (embedderKey: string) => `chunks_${embedderKey.replace(/\W/g, "")}`;

  private async table(embedderKey: string): Promise<Table | null> {
    const name = this.tableName(embedderKey);
    let t = this.tables.get(name);
    if (!t) {
      t = (async () => {
        const conn = await this.connection();
        return (await conn.tableNames()).includes(name) ? conn.openTable(name) : null;
      })();
      this.tables.set(name, t);
    }
    const table = await t;
    if (!table) this.tables.delete(name); // not created yet: look again next time
    return table;
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.writing.then(fn, fn);
    this.writing = next.catch(() => {});
    return next;
  }

  /** Adds passages (all of one embedder), creating the table and its indexes on first use. */
  add(embedderKey: string, rows: ChunkRow[]) {
    if (rows.length === 0) return Promise.resolve();
    for (const r of rows) uuidOrThrow(r.project_id);
    return this.serialize(async () => {
      let table = await this.table(embedderKey);
      if (!table) {
        const conn = await this.connection();
        const arrow = await import("apache-arrow");
        const dims = rows[0]!.vector.length;
        const schema = new arrow.Schema([
          new arrow.Field("id", new arrow.Utf8(), false),
          new arrow.Field("project_id", new arrow.Utf8(), false),
          new arrow.Field("document_id", new arrow.Utf8(), false),
          new arrow.Field("document_version", new arrow.Int32(), false),
          new arrow.Field("filename", new arrow.Utf8(), false),
          new arrow.Field("chunk_index", new arrow.Int32(), false),
          new arrow.Field("page", new arrow.Int32(), true),
          new arrow.Field("heading", new arrow.Utf8(), true),
          new arrow.Field("text", new arrow.Utf8(), false),
          new arrow.Field(
            "vector",
            new arrow.FixedSizeList(dims, new arrow.Field("item", new arrow.Float32(), true)),
            false,
          ),
        ]);
        table = await conn.createEmptyTable(this.tableName(embedderKey), schema, { existOk: true });
        this.tables.set(this.tableName(embedderKey), Promise.resolve(table));
      }
      await table.add(rows as unknown as Record<string, unknown>[]);
      await this.maintainIndexes(table);
    });
  }

  private async maintainIndexes(table: Table) {
    const lancedb = await this.lance();
    const indices = await table.listIndices();
    if (!indices.some((i) => i.columns.includes("text"))) {
      await table.createIndex("text", { config: lancedb.Index.fts({ withPosition: false }) });
    }
    if (!indices.some((i) => i.columns.includes("project_id"))) {
      await table.createIndex("project_id", { config: lancedb.Index.bitmap() });
    }
    const fts = (await table.listIndices()).find((i) => i.columns.includes("text"));
    const stats = fts ? await table.indexStats(fts.name) : undefined;
    if (stats && stats.numUnindexedRows > REINDEX_AFTER) await table.optimize();
  }

  /** Removes every passage of a document (all versions) from every table. */
  deleteDocument(documentId: string) {
    return this.deleteDocuments([documentId]);
  }

  /** Removes every passage of these documents (all versions) from every table. */
  deleteDocuments(documentIds: string[]) {
    if (documentIds.length === 0) return Promise.resolve();
    const list = documentIds.map((id) => `'${uuidOrThrow(id)}'`).join(", ");
    return this.forEachTable((t) => t.delete(`document_id IN (${list})`));
  }

  /** Removes every passage of a project. */
  deleteProject(projectId: string) {
    uuidOrThrow(projectId);
    return this.forEachTable((t) => t.delete(`project_id = '${projectId}'`));
  }

  private forEachTable(fn: (t: Table) => Promise<unknown>) {
    return this.serialize(async () => {
      const conn = await this.connection();
      for (const name of await conn.tableNames()) {
        if (!name.startsWith("chunks_")) continue;
        const key = name.slice("chunks_".length);
        const t = await this.table(key);
        if (t) await fn(t);
      }
    });
  }

  /** Nearest passages to `vector` within one project (cosine distance; score = 1 − distance). */
  async searchVector(embedderKey: string, projectId: string, vector: number[], k: number): Promise<Hit[]> {
    const table = await this.table(embedderKey);
    if (!table) return [];
    const rows = await table
      .vectorSearch(vector)
      .distanceType("cosine")
      .where(`project_id = '${uuidOrThrow(projectId)}'`)
      .select([...COLUMNS, "_distance"])
      .limit(k)
      .toArray();
    return rows.map((r) => toHit(r, 1 - Number(r._distance)));
  }

  /** Full-text (BM25) search within one project. */
  async searchText(embedderKey: string, projectId: string, query: string, k: number): Promise<Hit[]> {
    const table = await this.table(embedderKey);
    const q = tokens(query).slice(0, 32).join(" ");
    if (!table || !q) return [];
    const rows = await table
      .search(q, "fts")
      .where(`project_id = '${uuidOrThrow(projectId)}'`)
      .select([...COLUMNS, "_score"])
      .limit(k)
      .toArray();
    return rows.map((r) => toHit(r, Number(r._score)));
  }

  /** Passages stored for a project (or all), across tables. */
  async count(projectId?: string): Promise<number> {
    const conn = await this.connection();
    let n = 0;
    for (const name of await conn.tableNames()) {
      if (!name.startsWith("chunks_")) continue;
      const t = await this.table(name.slice("chunks_".length));
      if (t) n += await t.countRows(projectId ? `project_id = '${uuidOrThrow(projectId)}'` : undefined);
    }
    return n;
  }

  /** Closes the tables and the connection. */
  async close() {
    await this.writing;
    for (const t of this.tables.values()) (await t)?.close();
    this.tables.clear();
    (await this.conn)?.close();
    this.conn = undefined;
  }
}

function toHit(r: Record<string, any>, score: number): Hit {
  return {
    projectId: r.project_id,
    documentId: r.document_id,
    documentVersion: r.document_version,
    filename: r.filename,
    chunkIndex: r.chunk_index,
    page: r.page ?? null,
    heading: r.heading ?? null,
    text: r.text,
    score,
  };
}
