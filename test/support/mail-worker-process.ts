// A mail worker alone in its own process, for the crash test: it drains the outbox of MAIL_DB_URL (PostgreSQL)
// or MAIL_PGLITE_DIR into the SMTP server on MAIL_SMTP_PORT until it is killed.
import { openDatabase } from "../../src/core/db";
import { log } from "../../src/core/logger";
import { MailWorker } from "../../src/notifications/mail";

const url = process.env.MAIL_DB_URL || undefined;
const dir = process.env.MAIL_PGLITE_DIR || undefined;
const database = await openDatabase(url ? { url, migrate: false } : { dir, migrate: false });
const worker = new MailWorker({
  database,
  smtp: () => ({
    host: "127.0.0.1",
    port: Number(process.env.MAIL_SMTP_PORT),
    secure: false,
    user: "",
    password: "",
    from: "x@mail.test",
  }),
  site: () => ({ name: "DevSponsor", baseUrl: "http://mail.test:8080" }),
  log: log.child({ component: "mail-worker-process" }),
  leaseMs: Number(process.env.MAIL_LEASE_MS ?? 300_000),
  batchSize: 20,
  pollMs: 50,
});
worker.start();
