import { index, jsonb, pgTable, text, timestamp, uuid, integer } from "drizzle-orm/pg-core";
import { users } from "../users/schema";

/** In-app notifications shown by the bell (spec §4.2.12). */
export const notifications = pgTable(
  "notifications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** INVITE, PR_LINKED, PAYMENT, … (spec §3.8). */
    type: text("type").notNull(),
    title: text("title").notNull(),
    body: text("body").notNull().default(""),
    /** A same-site path (`/orgs/…`), never an outside URL. */
    link: text("link"),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    readAt: timestamp("read_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("notifications_user_created_idx").on(t.userId, t.createdAt)],
);

/** PENDING: waiting (or waiting to retry); SENDING: claimed by a mail worker until `locked_until`; SENT; FAILED. */
export type OutboxStatus = "PENDING" | "SENDING" | "SENT" | "FAILED";

/** Outgoing e-mails, stored first and delivered by the mail worker (the transactional outbox). */
export const emailOutbox = pgTable(
  "email_outbox",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").references(() => users.id, { onDelete: "cascade" }),
    toAddress: text("to_address").notNull(),
    subject: text("subject").notNull(),
    bodyText: text("body_text").notNull(),
    /** A same-site path the mail worker turns into an absolute link with the instance's public URL. */
    link: text("link"),
    kind: text("kind").notNull(),
    status: text("status").$type<OutboxStatus>().notNull().default("PENDING"),
    attempts: integer("attempts").notNull().default(0),
    /** The SMTP server's reply (or the connection error) of the last failed attempt. */
    lastError: text("last_error"),
    /** A PENDING message is not tried before this time (retry back-off). */
    nextAttemptAt: timestamp("next_attempt_at", { withTimezone: true }).notNull().defaultNow(),
    /** A SENDING message whose worker died is taken up again after this time. */
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    /** The Message-ID the message is sent with: a resend after a crash carries the same one. */
    messageId: text("message_id"),
    sentAt: timestamp("sent_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index("email_outbox_status_idx").on(t.status, t.createdAt),
    index("email_outbox_due_idx").on(t.status, t.nextAttemptAt),
  ],
);
