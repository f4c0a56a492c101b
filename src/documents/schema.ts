import { sql } from "drizzle-orm";
import { bigint, check, index, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { projects } from "../projects/schema";
import { users } from "../users/schema";

/** The kind of a document, decided from its bytes (spec §4.2.14). */
export type DocumentType = "MARKDOWN" | "PDF" | "TEXT" | "CODE";
export type DocumentStatus = "PENDING" | "READY" | "FAILED";

/**
 * Documents uploaded to a project. The file is stored encrypted in the database (`document_files`), so every node
 * can read it; its passages and vectors too (`document_chunks`), from which each node's vector store is synced.
 */
export const documents = pgTable(
  "documents",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    filename: text("filename").notNull(),
    type: text("type").$type<DocumentType>().notNull(),
    sizeBytes: integer("size_bytes").notNull(),
    sha256: text("sha256").notNull(),
    /**
     * Path under the uploads dir of an encrypted file written before files moved into the database; null once the
     * file is in `document_files` (moved at start by the node whose data dir holds it).
     */
    storageKey: text("storage_key"),
    /** Bumped on every replacement; ingestion of an older version is discarded. */
    version: integer("version").notNull().default(1),
    status: text("status").$type<DocumentStatus>().notNull().default("PENDING"),
    error: text("error"),
    chunkCount: integer("chunk_count").notNull().default(0),
    /** Which embedder wrote the vectors (model name, or the built-in hashing embedder). */
    embedder: text("embedder"),
    /** The version whose passages are in `document_chunks` (null: none stored yet). */
    indexedVersion: integer("indexed_version"),
    /** Changes with every ingestion run that stored passages: how nodes tell a re-index of the same version. */
    indexRun: uuid("index_run"),
    uploadedById: uuid("uploaded_by_id").references(() => users.id, { onDelete: "set null" }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("documents_project_idx").on(t.projectId, t.createdAt),
    check("documents_type_check", sql`${t.type} in ('MARKDOWN', 'PDF', 'TEXT', 'CODE')`),
    check("documents_status_check", sql`${t.status} in ('PENDING', 'READY', 'FAILED')`),
  ],
);

export type DocumentRow = typeof documents.$inferSelect;

/** The encrypted bytes of each stored version of a document (AES-256-GCM under the master key, bound to id and version). */
export const documentFiles = pgTable(
  "document_files",
  {
    documentId: uuid("document_id")
      .notNull()
      .references(() => documents.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    sealed: text("sealed").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.documentId, t.version] })],
);

/**
 * The passages of each document's indexed version: the source of truth every node's vector store is synced from.
 * Heading, text and vector are sealed together under the master key (they are the document's content).
 */
export const documentChunks = pgTable(
  "document_chunks",
  {
    documentId: uuid("document_id")
      .notNull()
      .references(() => documents.id, { onDelete: "cascade" }),
    version: integer("version").notNull(),
    chunkIndex: integer("chunk_index").notNull(),
    projectId: uuid("project_id").notNull(),
    /** The vector space (embedder key) of the vector. */
    embedderKey: text("embedder_key").notNull(),
    page: integer("page"),
    sealed: text("sealed").notNull(),
  },
  (t) => [primaryKey({ columns: [t.documentId, t.version, t.chunkIndex] })],
);

/** Per project, a counter bumped with every change of its indexed passages: nodes compare it to what they synced. */
export const documentIndexState = pgTable("document_index_state", {
  projectId: uuid("project_id")
    .primaryKey()
    .references(() => projects.id, { onDelete: "cascade" }),
  generation: bigint("generation", { mode: "number" }).notNull().default(0),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
