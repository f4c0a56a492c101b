import { index, jsonb, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { projects } from "../projects/schema";
import { users } from "../users/schema";

/** Which page a sidebar conversation belongs to. */
export type SidebarScope = "project" | "milestone" | "task";

/** A document passage an answer used. */
export interface Citation {
  n: number;
  documentId: string;
  filename: string;
  chunkIndex: number;
  page?: number | null;
  excerpt: string;
}

/** One conversation per user and page (project, milestone or task): history never crosses scopes. */
export const sidebarConversations = pgTable(
  "sidebar_conversations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    projectId: uuid("project_id")
      .notNull()
      .references(() => projects.id, { onDelete: "cascade" }),
    scope: text("scope").$type<SidebarScope>().notNull(),
    scopeId: uuid("scope_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("sidebar_conversations_user_scope_key").on(t.userId, t.scope, t.scopeId)],
);

/** The turns of a conversation; assistant turns keep their citations and the audited model call. */
export const sidebarMessages = pgTable(
  "sidebar_messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    conversationId: uuid("conversation_id")
      .notNull()
      .references(() => sidebarConversations.id, { onDelete: "cascade" }),
    role: text("role").$type<"user" | "assistant">().notNull(),
    content: text("content").notNull(),
    citations: jsonb("citations").$type<Citation[]>().notNull().default([]),
    /** `model` or `retrieval` (no model configured, or the model failed). */
    mode: text("mode"),
    aiCallId: uuid("ai_call_id"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("sidebar_messages_conversation_idx").on(t.conversationId, t.createdAt)],
);
