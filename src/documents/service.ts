import { existsSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { and, desc, eq, inArray, isNotNull, lt, ne, or, isNull } from "drizzle-orm";
import { audit } from "../audit/service";
import { dataPaths } from "../core/boot";
import type { AppContext, Principal } from "../core/context";
import { decryptBytes, encrypt, sha256Hex } from "../core/crypto";
import { AppError, invalidInput, notFound } from "../core/errors";
import { isUuid } from "../orgs/permissions";
import { loadProject } from "../projects/access";
import { projects } from "../projects/schema";
import { chunkSections, parsePdf, type Section } from "./chunk";
import { detectType, UnsupportedContent } from "./detect";
import { currentEmbedder, hashEmbed, hashEmbedder } from "./embedder";
import { type DocumentRow, documentChunks, documentFiles, documents } from "./schema";
import { type Hit, VectorStore } from "./store";
import { bumpGeneration, indexSync, type PlainChunk, sealChunk } from "./sync";

/** The largest document accepted (spec: 20 MB). */
export const MAX_DOCUMENT_BYTES = 20 * 1024 * 1024;

/** The ingest job's name. */
export const INGEST_JOB = "documents.ingest";

/** The vector store of this appliance (one per data dir), opened on first use. */
export function vectorStore(ctx: Pick<AppContext, "config" | "vectors">): VectorStore {
  ctx.vectors ??= new VectorStore(dataPaths(ctx.config.dataDir).lancedb);
  return ctx.vectors;
}

/** A document as the API returns it. */
export function documentJson(d: DocumentRow) {
  return {
    id: d.id,
    projectId: d.projectId,
    filename: d.filename,
    type: d.type,
    sizeBytes: d.sizeBytes,
    sha256: d.sha256,
    version: d.version,
    status: d.status,
    error: d.error,
    chunkCount: d.chunkCount,
    embedder: d.embedder,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** An uploaded file: its name (kept for display only) and bytes. */
export interface Upload {
  name: string;
  bytes: Uint8Array;
}

function cleanName(name: string) {
  const n = [...basename(name.replace(/\\/g, "/"))]
    .filter((ch) => ch.charCodeAt(0) >= 32 && ch.charCodeAt(0) !== 127) // no control characters
    .join("")
    .trim()
    .slice(0, 200);
  return n || "document";
}

const aad = (id: string, version: number) => `document:${id}:${version}`;

/** Checks size and content type; returns the detected type (the name plays no part). */
function checkUpload(file: Upload) {
  if (file.bytes.length > MAX_DOCUMENT_BYTES) {
    throw new AppError("PAYLOAD_TOO_LARGE", "Documents are limited to 20 MB.", 413, { maxBytes: MAX_DOCUMENT_BYTES });
  }
  try {
    return detectType(file.bytes);
  } catch (err) {
    if (err instanceof UnsupportedContent)
      throw invalidInput({ file: err.message }, "This file type is not supported.");
    throw err;
  }
}

/** Removes a file of the uploads dir left from before files moved into the database (if this node has it). */
function removeLegacyFile(ctx: AppContext, key: string | null) {
  if (key) rmSync(join(dataPaths(ctx.config.dataDir).uploads, key), { force: true });
}

/**
 * The decrypted bytes of a document's current version: from the database, or (a document uploaded before files
 * moved there and not moved yet) from this node's uploads dir.
 */
export async function readDocumentBytes(ctx: AppContext, doc: DocumentRow): Promise<Buffer> {
  const [file] = await ctx.db
    .select({ sealed: documentFiles.sealed })
    .from(documentFiles)
    .where(and(eq(documentFiles.documentId, doc.id), eq(documentFiles.version, doc.version)));
  let sealed = file?.sealed;
  const legacy = doc.storageKey ? join(dataPaths(ctx.config.dataDir).uploads, doc.storageKey) : null;
  if (!sealed && legacy && existsSync(legacy)) sealed = await readFile(legacy, "utf8");
  if (!sealed) throw new Error("the file of this version is not stored (it may be on another node's disk)");
  return decryptBytes(ctx.masterKey, sealed, aad(doc.id, doc.version));
}

/**
 * Moves the encrypted files this node's uploads dir still holds into the database (same ciphertext: it is bound
 * to the document and version, not to where it lies), then deletes them. Files of other nodes are left alone.
 */
export async function moveLegacyFiles(ctx: AppContext): Promise<number> {
  const rows = await ctx.db
    .select({ id: documents.id, version: documents.version, storageKey: documents.storageKey })
    .from(documents)
    .where(isNotNull(documents.storageKey));
  let moved = 0;
  for (const r of rows) {
    const path = join(dataPaths(ctx.config.dataDir).uploads, r.storageKey!);
    if (!existsSync(path)) continue;
    const sealed = await readFile(path, "utf8");
    decryptBytes(ctx.masterKey, sealed, aad(r.id, r.version)); // never store what cannot be read back
    const done = await ctx.db.transaction(async (tx) => {
      await tx.insert(documentFiles).values({ documentId: r.id, version: r.version, sealed }).onConflictDoNothing();
      return tx
        .update(documents)
        .set({ storageKey: null })
        .where(and(eq(documents.id, r.id), eq(documents.version, r.version)))
        .returning({ id: documents.id });
    });
    if (done.length) {
      rmSync(path, { force: true });
      moved++;
    }
  }
  return moved;
}

/**
 * Queues ingestion of documents marked READY whose passages are not in the database (indexed before passages were
 * kept there), once their file is readable from the database. Keyed jobs: every node may ask, one run happens.
 */
export async function backfillPassages(ctx: AppContext): Promise<number> {
  const rows = await ctx.db
    .select({ id: documents.id, projectId: documents.projectId, version: documents.version, orgId: projects.orgId })
    .from(documents)
    .innerJoin(projects, eq(projects.id, documents.projectId))
    .innerJoin(
      documentFiles,
      and(eq(documentFiles.documentId, documents.id), eq(documentFiles.version, documents.version)),
    )
    .where(
      and(
        eq(documents.status, "READY"),
        or(isNull(documents.indexedVersion), ne(documents.indexedVersion, documents.version)),
      ),
    );
  for (const r of rows) {
    await ctx.jobs.enqueue(
      INGEST_JOB,
      { documentId: r.id, projectId: r.projectId, version: r.version },
      { key: `${INGEST_JOB}:${r.id}:${r.version}:backfill`, scope: { orgId: r.orgId, projectId: r.projectId } },
    );
  }
  return rows.length;
}

/** Uploads a document to a project: checked, stored encrypted, then parsed and indexed by a job. */
export async function uploadDocument(ctx: AppContext, principal: Principal | null, projectId: string, file: Upload) {
  const project = await loadProject(ctx.db, principal, projectId, "documents.manage");
  const detected = checkUpload(file);
  const id = crypto.randomUUID();
  const sealed = encrypt(ctx.masterKey, file.bytes, aad(id, 1));
  const doc = await ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(documents)
      .values({
        id,
        projectId: project.id,
        filename: cleanName(file.name),
        type: detected.type,
        sizeBytes: file.bytes.length,
        sha256: sha256Hex(file.bytes),
        uploadedById: principal!.userId,
      })
      .returning();
    await tx.insert(documentFiles).values({ documentId: id, version: 1, sealed });
    return row;
  });
  await audit(ctx.db, {
    actorId: principal!.userId,
    action: "document.upload",
    targetType: "document",
    targetId: id,
    orgId: project.orgId,
    payload: { projectId: project.id, type: detected.type, sizeBytes: file.bytes.length, sha256: doc!.sha256 },
  });
  await ctx.jobs.enqueue(
    INGEST_JOB,
    { documentId: id, projectId: project.id, version: 1 },
    { key: `${INGEST_JOB}:${id}:1`, scope: { orgId: project.orgId, projectId: project.id } },
  );
  return doc!;
}

/** Replaces a document's file: a new version, re-ingested; the old version's passages go when the new one lands. */
export async function replaceDocument(ctx: AppContext, principal: Principal | null, documentId: string, file: Upload) {
  const { doc, project } = await loadDocument(ctx, principal, documentId, "documents.manage");
  const detected = checkUpload(file);
  const version = doc.version + 1;
  const sealed = encrypt(ctx.masterKey, file.bytes, aad(doc.id, version));
  const updated = await ctx.db.transaction(async (tx) => {
    await tx.insert(documentFiles).values({ documentId: doc.id, version, sealed });
    const [row] = await tx
      .update(documents)
      .set({
        filename: cleanName(file.name),
        type: detected.type,
        sizeBytes: file.bytes.length,
        sha256: sha256Hex(file.bytes),
        storageKey: null,
        version,
        status: "PENDING",
        error: null,
        chunkCount: 0,
        updatedAt: new Date(),
      })
      .where(eq(documents.id, doc.id))
      .returning();
    await tx.delete(documentFiles).where(and(eq(documentFiles.documentId, doc.id), lt(documentFiles.version, version)));
    // its passages are no longer current: every node drops them at its next sync
    await bumpGeneration(tx, project.id);
    return row;
  });
  removeLegacyFile(ctx, doc.storageKey);
  await audit(ctx.db, {
    actorId: principal!.userId,
    action: "document.replace",
    targetType: "document",
    targetId: doc.id,
    orgId: project.orgId,
    payload: { projectId: project.id, version, sha256: updated!.sha256 },
  });
  await ctx.jobs.enqueue(
    INGEST_JOB,
    { documentId: doc.id, projectId: project.id, version },
    { key: `${INGEST_JOB}:${doc.id}:${version}`, scope: { orgId: project.orgId, projectId: project.id } },
  );
  return updated!;
}

/** Deletes a document: its row, its encrypted file and every passage (other nodes drop theirs at their next sync). */
export async function deleteDocument(ctx: AppContext, principal: Principal | null, documentId: string) {
  const { doc, project } = await loadDocument(ctx, principal, documentId, "documents.manage");
  await ctx.db.transaction(async (tx) => {
    await tx.delete(documents).where(eq(documents.id, doc.id)); // files and passages go with it (cascade)
    await bumpGeneration(tx, project.id);
  });
  await vectorStore(ctx).deleteDocument(doc.id);
  removeLegacyFile(ctx, doc.storageKey);
  await audit(ctx.db, {
    actorId: principal!.userId,
    action: "document.delete",
    targetType: "document",
    targetId: doc.id,
    orgId: project.orgId,
    payload: { projectId: project.id },
  });
}

/** Runs ingestion again (after a failure, or after the embedding model changed). */
export async function reindexDocument(ctx: AppContext, principal: Principal | null, documentId: string) {
  const { doc, project } = await loadDocument(ctx, principal, documentId, "documents.manage");
  await ctx.db
    .update(documents)
    .set({ status: "PENDING", error: null, updatedAt: new Date() })
    .where(eq(documents.id, doc.id));
  const run = await ctx.jobs.enqueue(
    INGEST_JOB,
    { documentId: doc.id, projectId: project.id, version: doc.version },
    {
      key: `${INGEST_JOB}:${doc.id}:${doc.version}:${Date.now()}`,
      scope: { orgId: project.orgId, projectId: project.id },
    },
  );
  return run.id;
}

/** A document and its project, if the caller may `action` on the project. */
export async function loadDocument(
  ctx: AppContext,
  principal: Principal | null,
  documentId: string,
  action: "documents.view" | "documents.manage",
) {
  if (!principal) throw new AppError("UNAUTHORIZED", "Sign in to continue.", 401);
  const [doc] = isUuid(documentId) ? await ctx.db.select().from(documents).where(eq(documents.id, documentId)) : [];
  if (!doc) throw notFound("Document");
  try {
    const project = await loadProject(ctx.db, principal, doc.projectId, action);
    return { doc, project };
  } catch (err) {
    if (err instanceof AppError && err.status === 404) throw notFound("Document");
    throw err;
  }
}

/** The documents of a project, newest first. */
export async function listDocuments(ctx: AppContext, principal: Principal | null, projectId: string) {
  const project = await loadProject(ctx.db, principal, projectId, "documents.view");
  return ctx.db.select().from(documents).where(eq(documents.projectId, project.id)).orderBy(desc(documents.createdAt));
}

/** Why an ingestion stopped for good (bad content): retrying cannot help. */
export class PermanentIngestError extends Error {}

/**
 * Parses, chunks, embeds and stores one version of a document. Stale work (a newer version was uploaded, or the
 * document was deleted) is skipped. Re-running is safe: this version's passages are replaced, older ones removed.
 */
export async function ingestDocument(
  ctx: AppContext,
  documentId: string,
  version: number,
  progress: (pct: number, message: string) => unknown = () => {},
): Promise<{ chunks: number; skipped?: string }> {
  const [doc] = await ctx.db.select().from(documents).where(eq(documents.id, documentId));
  if (!doc) return { chunks: 0, skipped: "deleted" };
  if (doc.version !== version) return { chunks: 0, skipped: "replaced" };
  const fail = async (message: string) => {
    await ctx.db
      .update(documents)
      .set({ status: "FAILED", error: message.slice(0, 500), updatedAt: new Date() })
      .where(and(eq(documents.id, doc.id), eq(documents.version, version)));
  };
  let sections: Section[];
  try {
    const bytes = await readDocumentBytes(ctx, doc);
    const detected = detectType(bytes);
    sections = detected.type === "PDF" ? await parsePdf(bytes) : [{ text: detected.text, page: null }];
  } catch (err) {
    const message =
      err instanceof UnsupportedContent ? err.message : `the file could not be read: ${(err as Error).message}`;
    await fail(message);
    throw new PermanentIngestError(message, { cause: err });
  }
  await progress(20, "parsed");
  const chunks = chunkSections(sections, doc.type);
  const [project] = await ctx.db.select({ orgId: projects.orgId }).from(projects).where(eq(projects.id, doc.projectId));
  const embedder = currentEmbedder(ctx, { projectId: doc.projectId, orgId: project?.orgId ?? null });
  const rows: PlainChunk[] = [];
  try {
    const BATCH = 256;
    for (let i = 0; i < chunks.length; i += BATCH) {
      const part = chunks.slice(i, i + BATCH);
      const vectors = await embedder.embed(part.map((c) => (c.heading ? `${c.heading}\n${c.text}` : c.text)));
      for (const [j, c] of part.entries()) {
        rows.push({ index: c.index, page: c.page, heading: c.heading, text: c.text, vector: vectors[j]! });
      }
      await progress(
        20 + Math.round((70 * Math.min(i + BATCH, chunks.length)) / Math.max(1, chunks.length)),
        "embedded",
      );
    }
  } catch (err) {
    await fail(`indexing failed: ${(err as Error).message}`);
    throw err;
  }
  // The passages, the READY mark and the project's generation change together: a node that sees the new
  // generation finds every passage; earlier versions and any interrupted run go first (no duplicates).
  const stored = await ctx.db.transaction(async (tx) => {
    const [current] = await tx
      .update(documents)
      .set({
        status: "READY",
        error: null,
        chunkCount: chunks.length,
        embedder: embedder.label,
        indexedVersion: version,
        indexRun: crypto.randomUUID(),
        updatedAt: new Date(),
      })
      .where(and(eq(documents.id, doc.id), eq(documents.version, version)))
      .returning({ id: documents.id });
    if (!current) return false; // replaced or deleted while we worked
    await tx.delete(documentChunks).where(eq(documentChunks.documentId, doc.id));
    const sealed = rows.map((c) => ({
      documentId: doc.id,
      version,
      chunkIndex: c.index,
      projectId: doc.projectId,
      embedderKey: embedder.key,
      page: c.page,
      sealed: sealChunk(ctx.masterKey, doc.id, version, c),
    }));
    for (let i = 0; i < sealed.length; i += 500) await tx.insert(documentChunks).values(sealed.slice(i, i + 500));
    await bumpGeneration(tx, doc.projectId);
    return true;
  });
  if (!stored) return { chunks: 0, skipped: "replaced" };
  await progress(100, `${chunks.length} passages indexed`);
  return { chunks: chunks.length };
}

/** Brings this node's vector store up to date with the database for one project (what a search does first). */
export function syncProjectIndex(ctx: AppContext, projectId: string) {
  return indexSync(ctx, vectorStore(ctx)).ensure(projectId);
}

/** A retrieved passage, numbered for citation. */
export interface Passage extends Hit {
  n: number;
}

/** How passages were found. */
export type RetrievalMethod = "vector" | "fulltext" | "hash" | "none";

/**
 * The passages of one project's documents most relevant to `query`: vector search with the embedding model,
 * full-text (BM25) search without one or when the model fails. Only this
 * project's rows are searched, and every hit is checked again against the database (project, current version).
 */
export async function retrieve(
  ctx: AppContext,
  projectId: string,
  query: string,
  opts: { k?: number; userId?: string | null; orgId?: string | null } = {},
): Promise<{ passages: Passage[]; method: RetrievalMethod }> {
  const k = opts.k ?? 6;
  const store = vectorStore(ctx);
  try {
    await syncProjectIndex(ctx, projectId);
  } catch (err) {
    // the copy here may be behind; answering from it beats not answering
    ctx.log.warn("syncing the vector index from the database failed; searching this node's copy", { err, projectId });
  }
  const embedder = currentEmbedder(ctx, { projectId, userId: opts.userId, orgId: opts.orgId });
  let hits: Hit[] = [];
  let method: RetrievalMethod = "none";
  if (embedder !== hashEmbedder) {
    try {
      const [v] = await embedder.embed([query]);
      hits = await store.searchVector(embedder.key, projectId, v!, k);
      method = "vector";
    } catch (err) {
      ctx.log.warn("embedding the question failed; using full-text search", { err });
    }
  }
  if (hits.length === 0) {
    try {
      hits = await store.searchText(embedder.key, projectId, query, k);
      method = "fulltext";
    } catch (err) {
      // the full-text index is unusable: the hashing embedder's vectors find the same words
      ctx.log.warn("full-text search failed; using the hashing embedder", { err });
      if (embedder === hashEmbedder) {
        hits = await store.searchVector(hashEmbedder.key, projectId, hashEmbed(query), k);
        method = "hash";
      }
    }
  }
  if (hits.length === 0 && embedder !== hashEmbedder) {
    hits = await store.searchText(hashEmbedder.key, projectId, query, k); // documents indexed before a model was set
  }
  const current = await currentVersions(ctx, projectId, hits);
  const passages = hits
    .filter((h) => {
      if (h.projectId !== projectId) {
        ctx.log.error("vector store returned a passage of another project; dropped", { projectId });
        return false;
      }
      return current.get(h.documentId) === h.documentVersion;
    })
    .map((h, i) => ({ ...h, n: i + 1 }));
  return { passages, method: passages.length ? method : "none" };
}

async function currentVersions(ctx: AppContext, projectId: string, hits: Hit[]) {
  const ids = [...new Set(hits.map((h) => h.documentId))].filter(isUuid);
  if (ids.length === 0) return new Map<string, number>();
  const rows = await ctx.db
    .select({ id: documents.id, version: documents.version })
    .from(documents)
    .where(and(eq(documents.projectId, projectId), inArray(documents.id, ids), eq(documents.status, "READY")));
  return new Map(rows.map((r) => [r.id, r.version]));
}
