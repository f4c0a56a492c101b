// The mail worker: delivers the e-mail outbox through SMTP with a pooled nodemailer transport.
//
// Delivery is at least once. A batch is claimed (status SENDING, `locked_until` = now + lease) in one statement
// with SKIP LOCKED, so several processes sharing PostgreSQL never take the same message. A message is marked
// SENT only after the server accepted it (250 to DATA), together with the rest of its batch. A crash between the
// server's acceptance and that mark leaves the row SENDING; once its lease ends another worker sends it again, so
// such a crash can deliver a message twice, never lose it. The resend carries the same Message-ID, which lets
// mail clients fold the copies.
//
// Replies decide what happens next: 2xx SENT; 4xx (greylisting, mailbox busy) a retry with exponential back-off;
// 5xx FAILED with the server's reply, never retried. Connection, TLS and authentication errors are the relay's
// fault, not the message's: the batch goes back to PENDING without spending an attempt and the worker waits
// (doubling back-off) before it talks to the relay again.
import nodemailer, { type Transporter } from "nodemailer";
import type { Database } from "../core/db";
import type { Logger } from "../core/logger";
import type { SettingsService } from "../core/settings/service";
import { type MailSite, renderMail } from "./templates/mail";

/** How to reach the relay; null when no SMTP host is set (messages then stay queued). */
export interface SmtpSettings {
  host: string;
  port: number;
  /** true: TLS from the first byte (port 465); false: plain, upgraded with STARTTLS when the relay offers it. */
  secure: boolean;
  user: string;
  password: string;
  from: string;
}

/** The relay from the admin's settings (the password is a secret setting, stored encrypted). */
export function smtpSettings(settings: SettingsService): SmtpSettings | null {
  const host = settings.get("smtp.host").trim();
  if (!host) return null;
  return {
    host,
    port: settings.get("smtp.port"),
    secure: settings.get("smtp.secure"),
    user: settings.get("smtp.user"),
    password: settings.get("smtp.password"),
    from: settings.get("smtp.from"),
  };
}

/** Tuning of a mail worker; the defaults suit the appliance, tests shorten the waits. */
export interface MailWorkerOptions {
  database: Database;
  /** Read before every batch, so a settings change applies without a restart. */
  smtp: () => SmtpSettings | null;
  site: () => MailSite;
  log: Logger;
  /** Messages claimed per statement (default 50). */
  batchSize?: number;
  /** How long a claim holds a message before another worker may take it up (default 5 min). */
  leaseMs?: number;
  /** How often to look for due messages queued elsewhere (default 2 s). */
  pollMs?: number;
  /** First retry delay after a 4xx; doubles per attempt, with jitter (default 30 s). */
  backoffMs?: number;
  /** Longest retry delay (default 1 h). */
  maxBackoffMs?: number;
  /** Attempts (4xx replies) before a message is FAILED (default 10). */
  maxAttempts?: number;
  /** SMTP connections of the pool (default 5). */
  maxConnections?: number;
}

/** What one drain did. */
export interface DrainResult {
  sent: number;
  retried: number;
  failed: number;
  /** Messages handed back because the relay could not be reached. */
  released: number;
}

interface OutboxRow {
  id: string;
  to_address: string;
  subject: string;
  body_text: string;
  link: string | null;
  kind: string;
  attempts: number;
}

type Outcome = { kind: "sent" } | { kind: "retry" | "failed" | "relay"; reply: string };

const CLAIM = `
update email_outbox set status = 'SENDING', attempts = attempts + 1,
  locked_until = now() + make_interval(secs => $1::double precision)
where id in (
  select id from email_outbox
  where (status = 'PENDING' and next_attempt_at <= now()) or (status = 'SENDING' and locked_until < now())
  order by created_at
  limit $2
  for update skip locked)
returning id, to_address, subject, body_text, link, kind, attempts`;

// The token in a link (invites, password resets) is a credential: once the relay has the message, the outbox
// keeps the link without it.
const MARK_SENT = `
update email_outbox set status = 'SENT', sent_at = now(), locked_until = null, last_error = null,
  message_id = '<' || id || '@' || $2 || '>',
  link = regexp_replace(link, '([?&]token=)[^&#]*', '\\1[sent]')
where id = any($1::uuid[])`;

const MARK_RETRY = `
update email_outbox set status = 'PENDING', locked_until = null, last_error = $2,
  next_attempt_at = now() + make_interval(secs => $3::double precision)
where id = $1`;

const MARK_FAILED = `update email_outbox set status = 'FAILED', locked_until = null, last_error = $2 where id = $1`;

const RELEASE = `
update email_outbox set status = 'PENDING', locked_until = null, attempts = greatest(attempts - 1, 0),
  last_error = $2, next_attempt_at = now()
where id = $1`;

/** What the relay's error means for the message. */
export function classifySmtpError(err: unknown): Outcome & { kind: "retry" | "failed" | "relay" } {
  const e = err as { responseCode?: number; code?: string; response?: string; message?: string };
  const reply = (e.response || e.message || String(err)).replace(/\s+/g, " ").trim().slice(0, 500);
  // A refused login is the relay's settings, whatever the code: keep the messages.
  if (e.code === "EAUTH") return { kind: "relay", reply };
  if (typeof e.responseCode === "number" && e.responseCode >= 500) return { kind: "failed", reply };
  if (typeof e.responseCode === "number" && e.responseCode >= 400) return { kind: "retry", reply };
  // A message nodemailer refused before sending (no recipient, bad address) cannot get better by waiting.
  if (e.code === "EENVELOPE" || e.code === "EMESSAGE") return { kind: "failed", reply };
  return { kind: "relay", reply };
}

const hostOf = (baseUrl: string) => {
  try {
    return new URL(baseUrl).hostname || "devsponsor.invalid";
  } catch {
    return "devsponsor.invalid";
  }
};

const running = new Set<MailWorker>();
let wakeTimer: ReturnType<typeof setTimeout> | undefined;

/**
 * Tells this process's running workers that a message was queued. Called inside the queuing transaction, so
 * the look happens a moment later, once it has committed (a miss is caught by the next poll).
 */
export function wakeMailWorkers() {
  if (!running.size || wakeTimer) return;
  wakeTimer = setTimeout(() => {
    wakeTimer = undefined;
    for (const w of running) w.wake();
  }, 50);
}

/** Sends the outbox: a timer in the appliance (`start`), or one pass on demand (`drain`, the `mail.deliver` job). */
export class MailWorker {
  private readonly o: Required<Omit<MailWorkerOptions, "database" | "smtp" | "site" | "log">>;
  private transport: Transporter | null = null;
  private transportKey = "";
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private current: Promise<DrainResult> | null = null;
  private again = false;
  /** After the relay failed: no batch before this time (ms). */
  private pausedUntil = 0;
  private relayFailures = 0;

  constructor(private readonly opts: MailWorkerOptions) {
    this.o = {
      batchSize: opts.batchSize ?? 50,
      leaseMs: opts.leaseMs ?? 5 * 60_000,
      pollMs: opts.pollMs ?? 2000,
      backoffMs: opts.backoffMs ?? 30_000,
      maxBackoffMs: opts.maxBackoffMs ?? 3_600_000,
      maxAttempts: opts.maxAttempts ?? 10,
      maxConnections: opts.maxConnections ?? 5,
    };
  }

  /** Starts polling the outbox. */
  start() {
    if (this.running) return;
    this.running = true;
    running.add(this);
    this.schedule(0);
  }

  /** Stops polling, lets the batch in flight finish (up to `deadlineMs`) and closes the SMTP connections. */
  async stop(deadlineMs = 20_000) {
    this.running = false;
    running.delete(this);
    clearTimeout(this.timer);
    if (this.current) await Promise.race([this.current.catch(() => {}), Bun.sleep(deadlineMs)]);
    this.closeTransport();
  }

  /** Looks at the outbox now (a message was just queued) instead of at the next poll. */
  wake() {
    if (!this.running) return;
    if (this.current) this.again = true;
    else this.schedule(0);
  }

  /** Sends every due message, batch after batch, until none is left or the relay fails. */
  drain(): Promise<DrainResult> {
    if (this.current) {
      this.again = true;
      return this.current;
    }
    const run = this.drainAll().finally(() => {
      this.current = null;
    });
    this.current = run;
    return run;
  }

  private schedule(ms: number) {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  private async tick() {
    try {
      await this.drain();
    } catch (err) {
      this.opts.log.error("mail worker pass failed", { err });
    }
    if (!this.running) return;
    const again = this.again;
    this.again = false;
    this.schedule(again ? 0 : Math.max(this.o.pollMs, this.pausedUntil - Date.now()));
  }

  private async drainAll(): Promise<DrainResult> {
    const total: DrainResult = { sent: 0, retried: 0, failed: 0, released: 0 };
    for (;;) {
      const smtp = this.opts.smtp();
      if (!smtp || Date.now() < this.pausedUntil) return total;
      const rows = await this.opts.database.exec<OutboxRow>(CLAIM, [this.o.leaseMs / 1000, this.o.batchSize]);
      if (!rows.length) return total;
      const transport = this.transportFor(smtp);
      const site = this.opts.site();
      const outcomes = await Promise.all(rows.map((row) => this.send(transport, smtp, site, row)));
      // Accepted messages are marked together once the batch is through (one statement instead of one per
      // message): a crash before this line resends the batch's accepted messages once.
      const sent = rows.filter((_, i) => outcomes[i].kind === "sent").map((r) => r.id);
      if (sent.length) await this.opts.database.exec(MARK_SENT, [sent, hostOf(site.baseUrl)]);
      if (outcomes.some((o) => o.kind === "relay")) {
        this.relayFailures++;
        const wait = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** Math.min(20, this.relayFailures - 1));
        this.pausedUntil = Date.now() + wait;
        const reply = outcomes.find((o) => o.kind === "relay") as { reply: string };
        this.opts.log.warn("SMTP relay failed; e-mails stay queued", { reply: reply.reply, retryInMs: wait });
        this.closeTransport(); // a broken pool is rebuilt on the next try
      } else {
        this.relayFailures = 0;
      }
      for (const o of outcomes) {
        if (o.kind === "sent") total.sent++;
        else if (o.kind === "retry") total.retried++;
        else if (o.kind === "failed") total.failed++;
        else total.released++;
      }
      if (rows.length < this.o.batchSize) return total;
    }
  }

  private async send(transport: Transporter, smtp: SmtpSettings, site: MailSite, row: OutboxRow): Promise<Outcome> {
    const db = this.opts.database;
    const messageId = `<${row.id}@${hostOf(site.baseUrl)}>`;
    const mail = renderMail({ kind: row.kind, subject: row.subject, text: row.body_text, link: row.link }, site);
    let outcome: Outcome;
    try {
      await transport.sendMail({
        from: smtp.from,
        to: row.to_address,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId,
        headers: { "Auto-Submitted": "auto-generated", "X-DevSponsor-Kind": row.kind },
      });
      outcome = { kind: "sent" };
    } catch (err) {
      outcome = classifySmtpError(err);
    }
    if (outcome.kind === "sent") {
      // marked with the rest of the batch by the caller
    } else if (outcome.kind === "relay") {
      await db.exec(RELEASE, [row.id, outcome.reply]);
    } else if (outcome.kind === "failed") {
      await db.exec(MARK_FAILED, [row.id, outcome.reply]);
      this.opts.log.warn("e-mail refused for good", { outboxId: row.id, kind: row.kind, reply: outcome.reply });
    } else if (row.attempts >= this.o.maxAttempts) {
      await db.exec(MARK_FAILED, [row.id, `gave up after ${row.attempts} attempts: ${outcome.reply}`]);
      outcome = { kind: "failed", reply: outcome.reply };
    } else {
      const base = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** Math.min(20, row.attempts - 1));
      const delay = base * (0.8 + Math.random() * 0.4);
      await db.exec(MARK_RETRY, [row.id, outcome.reply, delay / 1000]);
    }
    return outcome;
  }

  private transportFor(smtp: SmtpSettings): Transporter {
    const key = JSON.stringify([smtp.host, smtp.port, smtp.secure, smtp.user, smtp.password]);
    if (this.transport && key === this.transportKey) return this.transport;
    this.closeTransport();
    this.transport = nodemailer.createTransport({
      pool: true,
      host: smtp.host,
      port: smtp.port,
      secure: smtp.secure,
      auth: smtp.user ? { user: smtp.user, pass: smtp.password } : undefined,
      maxConnections: this.o.maxConnections,
      maxMessages: 1000,
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
    });
    this.transportKey = key;
    return this.transport;
  }

  private closeTransport() {
    this.transport?.close();
    this.transport = null;
    this.transportKey = "";
  }
}

/** The outbox at a glance, for the admin's settings page, the doctor and the status checks. */
export interface OutboxSummary {
  configured: boolean;
  pending: number;
  sending: number;
  sent: number;
  failed: number;
  oldestPendingAt: Date | null;
}

/** Counts the outbox by status. */
export async function outboxSummary(database: Database, configured: boolean): Promise<OutboxSummary> {
  const rows = await database.exec<{ status: string; n: number | string; oldest: string | Date | null }>(
    "select status, count(*) as n, min(created_at) as oldest from email_outbox group by status",
  );
  const by = new Map(rows.map((r) => [r.status, r]));
  const n = (s: string) => Number(by.get(s)?.n ?? 0);
  const oldest = by.get("PENDING")?.oldest;
  return {
    configured,
    pending: n("PENDING"),
    sending: n("SENDING"),
    sent: n("SENT"),
    failed: n("FAILED"),
    oldestPendingAt: oldest ? new Date(oldest) : null,
  };
}

/** One sentence on the outbox that never claims a message was sent when no relay is set. */
export function describeOutbox(s: OutboxSummary): string {
  const waiting = s.pending + s.sending;
  if (!s.configured) {
    return `No SMTP relay is set: e-mails are stored, not sent (${waiting} waiting). They go out once a relay is set.`;
  }
  return `${waiting} waiting, ${s.sent} accepted by the relay, ${s.failed} refused for good.`;
}
