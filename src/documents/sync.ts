// Several nodes on one database: the passages and vectors of every document live in the database
// (`document_chunks`, sealed under the master key), and each node's vector store is a local copy synced from it.
// A per-project counter (`document_index_state.generation`) is bumped with every change; before a search a node
// compares it with the generation it last synced (one indexed read) and catches up when they differ, so every node
// gives the same answers. What a node holds is kept next to its vector store (`sync-state.json`).
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { and, asc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import { dataPaths } from "../core/boot";
import type { AppContext } from "../core/context";
import { decryptBytes, encrypt } from "../core/crypto";
import type { Db } from "../core/db";
import { documentChunks, documentIndexState, documents } from "./schema";
import { type ChunkRow, ensurePrivateDir, type VectorStore } from "./store";

/** One passage as ingestion produced it, before it is sealed. */
export interface PlainChunk {
  index: number;
  page: number | null;
  heading: string | null;
  text: string;
  vector: number[];
}

const chunkAad = (documentId: string, version: number, index: number) =>
  `document-chunk:${documentId}:${version}:${index}`;

/** Seals a passage: [u32 length of the JSON][JSON {heading, text}][float32 vector], encrypted and bound to its place. */
export function sealChunk(key: Buffer, documentId: string, version: number, c: PlainChunk): string {
  const json = Buffer.from(JSON.stringify({ h: c.heading, t: c.text }));
  const buf = Buffer.alloc(4 + json.length + c.vector.length * 4);
  buf.writeUInt32LE(json.length, 0);
  json.copy(buf, 4);
  const floats = new Float32Array(c.vector);
  Buffer.from(floats.buffer).copy(buf, 4 + json.length);
  return encrypt(key, buf, chunkAad(documentId, version, c.index));
}

/** Opens a sealed passage (throws when the key or its place does not match). */
export function openChunk(key: Buffer, documentId: string, version: number, index: number, sealed: string) {
  const buf = decryptBytes(key, sealed, chunkAad(documentId, version, index));
  const len = buf.readUInt32LE(0);
  const { h, t } = JSON.parse(buf.subarray(4, 4 + len).toString("utf8")) as { h: string | null; t: string };
  const body = buf.subarray(4 + len);
  // copy: the decrypted buffer's offset need not be 4-byte aligned
  const vector = Array.from(new Float32Array(new Uint8Array(body).buffer, 0, body.length / 4));
  return { heading: h, text: t, vector };
}

/** Bumps a project's index generation inside the transaction that changed its passages. */
export async function bumpGeneration(tx: Db, projectId: string) {
  await tx
    .insert(documentIndexState)
    .values({ projectId, generation: 1 })
    .onConflictDoUpdate({
      target: documentIndexState.projectId,
      set: { generation: sql`${documentIndexState.generation} + 1`, updatedAt: new Date() },
    });
}

interface ProjectState {
  /** The database generation this copy matches; null while a sync is half done. */
  generation: number | null;
  /** Document id → the ingestion run whose passages are here ("": maybe partly here, to be redone). */
  docs: Record<string, string>;
}

interface SyncStateFile {
  projects: Record<string, ProjectState>;
}

const CHUNKS_PER_READ = 500;
const syncs = new WeakMap<VectorStore, IndexSync>();

/** The sync of this node's vector store (one per store). */
export function indexSync(ctx: Pick<AppContext, "config" | "db" | "masterKey" | "log">, store: VectorStore) {
  let s = syncs.get(store);
  if (!s) {
    s = new IndexSync(ctx, store, dataPaths(ctx.config.dataDir).lancedb);
    syncs.set(store, s);
  }
  return s;
}

/** Keeps one node's vector store equal to the passages in the database, project by project. */
export class IndexSync {
  private state?: SyncStateFile;
  private readonly inflight = new Map<string, Promise<number>>();
  private readonly file: string;

  constructor(
    private readonly ctx: Pick<AppContext, "db" | "masterKey" | "log">,
    private readonly store: VectorStore,
    private readonly dir: string,
  ) {
    this.file = join(dir, "sync-state.json");
  }

  private load(): SyncStateFile {
    if (this.state) return this.state;
    try {
      this.state = existsSync(this.file)
        ? (JSON.parse(readFileSync(this.file, "utf8")) as SyncStateFile)
        : { projects: {} };
    } catch (err) {
      // an unreadable state only costs a full sync of each project
      this.ctx.log.warn("vector index sync state unreadable; syncing every project again", { err });
      this.state = { projects: {} };
    }
    this.state.projects ??= {};
    return this.state;
  }

  private save() {
    ensurePrivateDir(this.dir);
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state), { mode: 0o600 });
    renameSync(tmp, this.file);
  }

  /** The generation this node last synced for a project (undefined: never). */
  syncedGeneration(projectId: string): number | null | undefined {
    return this.load().projects[projectId]?.generation;
  }

  /** Brings the project's passages up to date if the database moved on; returns the passages added. */
  async ensure(projectId: string): Promise<number> {
    const [row] = await this.ctx.db
      .select({ generation: documentIndexState.generation })
      .from(documentIndexState)
      .where(eq(documentIndexState.projectId, projectId));
    const generation = row?.generation ?? 0;
    const local = this.load().projects[projectId];
    if (local && local.generation === generation) return 0;
    if (!local && generation === 0) return 0; // nothing indexed yet anywhere
    return this.sync(projectId);
  }

  /** Syncs every project this node has synced before whose generation moved on (the background pass). */
  async refreshKnown(): Promise<number> {
    const known = Object.keys(this.load().projects);
    if (known.length === 0) return 0;
    const rows = await this.ctx.db
      .select({ projectId: documentIndexState.projectId, generation: documentIndexState.generation })
      .from(documentIndexState)
      .where(inArray(documentIndexState.projectId, known));
    const current = new Map(rows.map((r) => [r.projectId, r.generation]));
    let added = 0;
    for (const projectId of known) {
      if (this.load().projects[projectId]?.generation !== (current.get(projectId) ?? 0)) {
        added += await this.sync(projectId);
      }
    }
    return added;
  }

  /** One sync of a project at a time in this process; a caller arriving meanwhile waits for it. */
  sync(projectId: string): Promise<number> {
    let p = this.inflight.get(projectId);
    if (!p) {
      p = this.syncNow(projectId).finally(() => this.inflight.delete(projectId));
      this.inflight.set(projectId, p);
    }
    return p;
  }

  private async syncNow(projectId: string): Promise<number> {
    // The generation is read before the documents: if they change meanwhile, the next check syncs again.
    const [g] = await this.ctx.db
      .select({ generation: documentIndexState.generation })
      .from(documentIndexState)
      .where(eq(documentIndexState.projectId, projectId));
    const generation = g?.generation ?? 0;
    const wanted = await this.ctx.db
      .select({
        id: documents.id,
        version: documents.indexedVersion,
        run: documents.indexRun,
        filename: documents.filename,
      })
      .from(documents)
      .where(
        and(
          eq(documents.projectId, projectId),
          eq(documents.status, "READY"),
          isNotNull(documents.indexRun),
          eq(documents.indexedVersion, documents.version),
        ),
      );
    const state = this.load();
    const local: ProjectState = state.projects[projectId] ?? { generation: null, docs: {} };
    const want = new Map(wanted.map((d) => [d.id, d]));
    const stale = Object.keys(local.docs).filter((id) => want.get(id)?.run !== local.docs[id]);
    const missing = wanted.filter((d) => local.docs[d.id] !== d.run);
    if (stale.length === 0 && missing.length === 0) {
      state.projects[projectId] = { generation, docs: local.docs };
      this.save();
      return 0;
    }
    // Marked first: a crash in the middle leaves these documents to be redone, never trusted half done.
    for (const d of missing) local.docs[d.id] = "";
    state.projects[projectId] = { generation: null, docs: local.docs };
    this.save();

    await this.store.deleteDocuments([...new Set([...stale, ...missing.map((d) => d.id)])]);
    for (const id of stale) if (!want.has(id)) delete local.docs[id];
    let added = 0;
    for (const d of missing) {
      added += await this.copyDocument(projectId, d.id, d.version!, d.filename);
      local.docs[d.id] = d.run!;
    }
    state.projects[projectId] = { generation, docs: local.docs };
    this.save();
    return added;
  }

  /** Copies one document version's passages from the database into the store; returns how many. */
  private async copyDocument(projectId: string, documentId: string, version: number, filename: string) {
    let n = 0;
    for (let from = 0; ; from += CHUNKS_PER_READ) {
      const rows = await this.ctx.db
        .select()
        .from(documentChunks)
        .where(and(eq(documentChunks.documentId, documentId), eq(documentChunks.version, version)))
        .orderBy(asc(documentChunks.chunkIndex))
        .limit(CHUNKS_PER_READ)
        .offset(from);
      const byKey = new Map<string, ChunkRow[]>();
      for (const r of rows) {
        const c = openChunk(this.ctx.masterKey, documentId, version, r.chunkIndex, r.sealed);
        const list = byKey.get(r.embedderKey) ?? [];
        list.push({
          id: `${documentId}:${version}:${r.chunkIndex}`,
          project_id: projectId,
          document_id: documentId,
          document_version: version,
          filename,
          chunk_index: r.chunkIndex,
          page: r.page,
          heading: c.heading,
          text: c.text,
          vector: c.vector,
        });
        byKey.set(r.embedderKey, list);
      }
      for (const [key, list] of byKey) await this.store.add(key, list);
      n += rows.length;
      if (rows.length < CHUNKS_PER_READ) return n;
    }
  }
}
