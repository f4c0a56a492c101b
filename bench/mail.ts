// Mails per second from the outbox to a real SMTP server on loopback (test/support/smtp-server-process.ts): the
// outbox is filled first, then one mail worker (pooled transport, batches of 50, 5 connections) drains it and the
// server counts what it accepted. PGlite on a data dir, and PostgreSQL when BENCH_DATABASE_URL or
// TEST_DATABASE_URL is set (a fresh database, dropped afterwards). Target: ≥ 50 mails/s. BENCH_MAILS sets N.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import postgres from "postgres";
import { startSmtpServer } from "../test/support/smtp-server";
import { type Database, openDatabase } from "../src/core/db";
import { log, setLogSink } from "../src/core/logger";
import { MailWorker } from "../src/notifications/mail";
import { enqueueEmail } from "../src/notifications/service";

setLogSink(() => {}, "error");
const N = Number(process.env.BENCH_MAILS ?? 1000);
const smtp = await startSmtpServer();

async function scenario(name: string, database: Database) {
  for (let i = 0; i < N; i += 100) {
    await database.db.transaction(async (tx) => {
      for (let j = i; j < Math.min(N, i + 100); j++) {
        await enqueueEmail(tx, {
          to: `reader${j}@bench.test`,
          subject: `Task claimed: bench ${j}`,
          text: "Someone claimed the task <Bench & Co>.",
          link: `/tasks/${j}`,
          kind: "TASK_CLAIMED",
        });
      }
    });
  }
  await smtp.reset();
  const worker = new MailWorker({
    database,
    smtp: () => ({ host: "127.0.0.1", port: smtp.port, secure: false, user: "", password: "", from: "b@bench.test" }),
    site: () => ({ name: "DevSponsor", baseUrl: "http://bench.test" }),
    log,
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await worker.drain();
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await worker.stop();
  const received = (await smtp.attempts()).filter((a) => a.code === 250).length;
  const [left] = await database.exec<{ n: number | string }>(
    "select count(*) as n from email_outbox where status <> 'SENT'",
  );
  console.log(
    `${name}: ${N} mails in ${(ms / 1000).toFixed(2)} s = ${Math.round((N / ms) * 1000)} mails/s ` +
      `(sent ${r.sent}, server accepted ${received}, not sent ${Number(left.n)}; ` +
      `worker CPU ${((cpu.user + cpu.system) / 1000 / N).toFixed(2)} ms/mail)`,
  );
  if (received !== N || Number(left.n) !== 0) process.exitCode = 1;
}

const dir = mkdtempSync(join(tmpdir(), "bench-mail-"));
try {
  const pg = await openDatabase({ dir });
  await scenario("PGlite", pg);
  await pg.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
if (url) {
  const name = `bench_mail_${process.pid}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  const u = new URL(url);
  u.pathname = `/${name}`;
  try {
    const d = await openDatabase({ url: u.toString(), max: 5 });
    await scenario("PostgreSQL", d);
    await d.close();
  } finally {
    await admin.unsafe(`drop database if exists "${name}" with (force)`);
    await admin.end();
  }
}
await smtp.stop();
