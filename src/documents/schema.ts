import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { projects } from "../projects/schema";
import { users } from "../users/schema";

/** The kind of a document, decided from its bytes (spec §4.2.14). */
export type DocumentType = "MARKDOWN" | "PDF" | "TEXT" | "CODE";
export type DocumentStatus = "PENDING" | "READY" | "FAILED";

/**
 * Documents uploaded to a project. The file is stored encrypted under the data dir (`storage_key`); its chunks
 * and vectors live in the vector store with the project id on every row.
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
    /** Path under the uploads dir of the encrypted file. */
    storageKey: text("storage_key").notNull(),
    /** Bumped on every replacement; ingestion of an older version is discarded. */
    version: integer("version").notNull().default(1),
    status: text("status").$type<DocumentStatus>().notNull().default("PENDING"),
    error: text("error"),
    chunkCount: integer("chunk_count").notNull().default(0),
    /** Which embedder wrote the vectors (model name, or the built-in hashing embedder). */
    embedder: text("embedder"),
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
