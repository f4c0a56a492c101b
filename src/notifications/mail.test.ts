// The mail worker against a real SMTP server process: what arrives (headers, text, HTML, links that work when
// followed), retries on 4xx, permanent failures on 5xx, nothing sent without a relay, and a worker killed with
// SIGKILL mid-batch that loses nothing. Both databases.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createOrgAs, createUser, formToken } from "../../test/support/auth";
import { createTestDb, dbKinds } from "../../test/support/db";
import { type SmtpServerProcess, startSmtpServer } from "../../test/support/smtp-server";
import { openDatabase } from "../core/db";
import { log } from "../core/logger";
import { MailWorker, smtpSettings } from "./mail";
import { mailSite } from "./mail-jobs";
import { enqueueEmail, notify } from "./service";

const BASE = "http://mail.test:8080";
const quiet = log.child({ component: "mail-test" });

let smtp: SmtpServerProcess;
beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp.stop());

/** The path and query of a link in a received message (the app under test answers any host). */
const pathOf = (url: string) => {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
};
const linkIn = (text: string, path: string) => {
  const m = new RegExp(`${BASE.replace(/[.:/]/g, "\\$&")}${path.replace(/[?]/g, "\\?")}[^\\s"<]*`).exec(text);
  if (!m) throw new Error(`no ${path} link in:\n${text}`);
  return m[0];
};
const formPost = (fields: Record<string, string>, cookie: string) => ({
  body: new URLSearchParams(fields),
  headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
});

for (const kind of dbKinds()) {
  describe(`mail worker [${kind}]`, () => {
    let t: TestApp;
    let worker: MailWorker;
    const outbox = (where: string, params: unknown[] = []) =>
      t.ctx.database.exec<{
        id: string;
        status: string;
        attempts: number;
        last_error: string | null;
        link: string | null;
        message_id: string | null;
      }>(`select id, status, attempts, last_error, link, message_id from email_outbox where ${where}`, params);

    beforeAll(async () => {
      t = await createTestApp(kind);
      await t.ctx.settings.update(
        {
          "smtp.host": "127.0.0.1",
          "smtp.port": smtp.port,
          "smtp.from": "DevSponsor <noreply@mail.test>",
          "instance.publicUrl": BASE,
        },
        null,
      );
      worker = new MailWorker({
        database: t.ctx.database,
        smtp: () => smtpSettings(t.ctx.settings),
        site: () => mailSite(t.ctx),
        log: quiet,
        backoffMs: 200,
        maxAttempts: 3,
      });
    }, 60_000);
    afterAll(async () => {
      await worker.stop();
      await t.close();
    });

    test("invite, verification and reset e-mails arrive with headers, both parts and links that work", async () => {
      await smtp.reset();
      const owner = await createUser(t, { name: "Olivia Owner" });
      const orgId = await createOrgAs(owner, "Mail <Org>");
      const invite = await owner.request("POST", `/api/orgs/${orgId}/invite`, {
        body: { email: "bob@mail.test", role: "CONTRIBUTOR", message: "Welcome <script>alert(1)</script> & hi" },
      });
      expect(invite.status).toBe(201);
      // Sign-up through the form queues the verification e-mail.
      const pre = await formToken(t, "/signup");
      const signup = await t.request(
        "POST",
        "/signup",
        formPost({ _csrf: pre.token, name: "Bob", email: "bob@mail.test", password: "bob-password-1" }, pre.cookie),
      );
      expect(signup.status).toBe(303);
      const bobSession = /ds_session=([^;]+)/.exec(signup.headers.get("set-cookie") ?? "")![1];
      const resetAsk = await t.request("POST", "/api/auth/password/forgot", { body: { email: owner.email } });
      expect(resetAsk.status).toBe(202);
      // The request queues its e-mail after answering (the answer takes as long for an unknown address).
      for (let i = 0; i < 200; i++) {
        if ((await outbox("kind = 'PASSWORD_RESET' and to_address = $1", [owner.email])).length) break;
        await Bun.sleep(25);
      }

      const r = await worker.drain();
      expect(r.sent).toBeGreaterThanOrEqual(3);
      const got = await smtp.messages();
      const by = (to: string, subject: RegExp) => {
        const m = got.filter((x) => x.to.includes(to) && subject.test(x.parsed.subject ?? ""));
        expect(m.length).toBe(1);
        return m[0];
      };

      // The invite: headers, a multipart text + HTML message, the user's text escaped in the HTML part.
      const inv = by("bob@mail.test", /invited you to Mail <Org>/);
      expect(inv.from).toBe("noreply@mail.test");
      expect(inv.parsed.from?.text).toBe('"DevSponsor" <noreply@mail.test>');
      expect(inv.parsed.to && "text" in inv.parsed.to ? inv.parsed.to.text : "").toBe("bob@mail.test");
      expect(inv.parsed.subject).toBe("Olivia Owner invited you to Mail <Org>");
      expect(inv.parsed.messageId).toMatch(/^<[0-9a-f-]{36}@mail\.test>$/);
      expect(inv.parsed.headers.get("auto-submitted")).toBe("auto-generated");
      expect(inv.parsed.text).toContain("Welcome <script>alert(1)</script> & hi");
      expect(inv.parsed.html).not.toContain("<script>alert(1)");
      expect(inv.parsed.html).toContain("Welcome &lt;script&gt;alert(1)&lt;/script&gt; &amp; hi");
      expect(inv.parsed.html).toContain("Mail &lt;Org&gt;");
      const inviteLink = linkIn(inv.parsed.text ?? "", "/invites/accept?token=");
      expect(inv.parsed.html).toContain(inviteLink);

      // Followed by Bob (signed in): the invite page shows the org and the accept form.
      const bobHeaders = { cookie: `ds_session=${bobSession}` };
      const invitePage = await t.request("GET", pathOf(inviteLink), { headers: bobHeaders });
      expect(invitePage.status).toBe(200);
      expect(await invitePage.text()).toContain("Mail &lt;Org&gt;");

      // Verification: the banner shows until the link is followed; the link works once.
      const home = await (await t.request("GET", "/profile", { headers: bobHeaders })).text();
      expect(home).toContain('action="/verify-email/resend"');
      const ver = by("bob@mail.test", /^Confirm your e-mail address$/);
      const verifyLink = linkIn(ver.parsed.text ?? "", "/verify-email?token=");
      expect(ver.parsed.html).toContain(verifyLink.replace(/&/g, "&amp;"));
      const verified = await t.request("GET", pathOf(verifyLink), { headers: bobHeaders });
      expect(verified.status).toBe(200);
      expect(await verified.text()).toContain("bob@mail.test is confirmed.");
      const [bob] = await t.ctx.database.exec<{ email_verified: boolean }>(
        "select email_verified from users where email = 'bob@mail.test'",
      );
      expect(bob.email_verified).toBe(true);
      expect((await t.request("GET", pathOf(verifyLink))).status).toBe(400);
      const after = await (await t.request("GET", "/profile", { headers: bobHeaders })).text();
      expect(after).not.toContain('action="/verify-email/resend"');

      // Password reset: the page behind the link, a new password, every session of the account ended.
      const reset = by(owner.email, /^Reset your password$/);
      const resetLink = linkIn(reset.parsed.text ?? "", "/password/reset?token=");
      const form = await t.request("GET", pathOf(resetLink));
      expect(form.status).toBe(200);
      const pre2 = await formToken(t, pathOf(resetLink));
      const token = new URL(resetLink).searchParams.get("token")!;
      const done = await t.request(
        "POST",
        "/password/reset",
        formPost({ _csrf: pre2.token, token, password: "a-new-password-2" }, pre2.cookie),
      );
      expect(done.status).toBe(200);
      expect((await owner.request("GET", "/api/me")).status).toBe(401);
      const again = await t.request("POST", "/api/auth/password/reset", {
        body: { token, password: "another-password-3" },
      });
      expect(again.status).toBe(400);
      expect(((await again.json()) as any).error.code).toBe("TOKEN_INVALID");
      const signin = await t.request("POST", "/api/auth/password/forgot", { body: { email: "nobody@mail.test" } });
      expect(signin.status).toBe(202); // the same answer for an address without an account

      // Sent rows keep no token in their link.
      const rows = await outbox("status = 'SENT' and kind in ('INVITE', 'VERIFY_EMAIL', 'PASSWORD_RESET')");
      expect(rows.length).toBeGreaterThanOrEqual(3);
      for (const row of rows) {
        expect(row.link).toMatch(/token=\[sent\]$/);
        expect(row.message_id).toMatch(/@mail\.test>$/);
      }
    }, 60_000);

    test("task notifications (changes requested, verification passed and failed, payment) arrive with their own button", async () => {
      await worker.drain(); // what earlier tests left queued (the reset's security notice)
      await smtp.reset();
      const u = await createUser(t, { name: "Tess" });
      const cases = [
        { type: "TASK_REJECTED", title: "Changes requested: Fix <the> parser", action: "Open the task" },
        { type: "VERIFICATION_SUCCESS", title: "Verified: Fix the parser", action: "See the verdict" },
        { type: "VERIFICATION_FAILED", title: "Verification failed: Fix the parser", action: "See what failed" },
        { type: "PAYMENT", title: "Paid: Fix the parser", action: "See your earnings" },
      ];
      for (const c of cases) {
        await notify(t.ctx.db, u.id, { type: c.type, title: c.title, body: "0.5 ETH & more", link: "/tasks/42" });
      }
      expect((await worker.drain()).sent).toBe(4);
      const got = (await smtp.messages()).filter((m) => m.to.includes(u.email));
      expect(got.map((m) => m.parsed.subject).sort()).toEqual(cases.map((c) => c.title).sort());
      for (const c of cases) {
        const m = got.find((x) => x.parsed.subject === c.title)!;
        expect(m.parsed.headers.get("x-devsponsor-kind")).toBe(c.type);
        expect(m.parsed.text).toContain(`${c.action}: ${BASE}/tasks/42`);
        // each links to its own row of the preferences page, where it can be turned off
        expect(m.parsed.text).toContain(
          `Unsubscribe or choose what you get: ${BASE}/notifications/preferences#type-${c.type}`,
        );
        expect(m.parsed.html).toContain(`href="${BASE}/notifications/preferences#type-${c.type}"`);
        expect(m.parsed.html).toContain(`href="${BASE}/tasks/42"`);
        expect(m.parsed.html).toContain("0.5 ETH &amp; more");
      }
      expect(got.find((m) => m.parsed.subject === cases[0].title)!.parsed.html).toContain("Fix &lt;the&gt; parser");
    });

    test("a 451 then 250 is retried with back-off and delivered exactly once", async () => {
      await smtp.reset();
      const to = `grey-${kind}@mail.test`;
      await smtp.plan({ [to]: [451] });
      const { id } = await enqueueEmail(t.ctx.db, { to, subject: "Greylisted", text: "hello", kind: "PAYMENT" });
      const first = await worker.drain();
      expect(first.retried).toBe(1);
      const [waiting] = await outbox("id = $1", [id]);
      expect(waiting.status).toBe("PENDING");
      expect(waiting.attempts).toBe(1);
      expect(waiting.last_error).toContain("451");
      expect((await worker.drain()).sent).toBe(0); // not before its back-off
      await Bun.sleep(400);
      expect((await worker.drain()).sent).toBe(1);
      const [sent] = await outbox("id = $1", [id]);
      expect(sent.status).toBe("SENT");
      expect(sent.attempts).toBe(2);
      const got = (await smtp.messages()).filter((m) => m.to.includes(to));
      expect(got.length).toBe(1);
      expect(got[0].parsed.messageId).toBe(`<${id}@mail.test>`);
      expect((await smtp.attempts()).filter((a) => a.to.includes(to)).map((a) => a.code)).toEqual([451, 250]);
    });

    test("a 550 is recorded with the server's reply and never retried", async () => {
      await smtp.reset();
      const to = `gone-${kind}@mail.test`;
      await smtp.plan({ [to]: [550] });
      const { id } = await enqueueEmail(t.ctx.db, { to, subject: "Bounce", text: "hello", kind: "PAYMENT" });
      expect((await worker.drain()).failed).toBe(1);
      await Bun.sleep(400);
      await worker.drain();
      const [row] = await outbox("id = $1", [id]);
      expect(row.status).toBe("FAILED");
      expect(row.attempts).toBe(1);
      expect(row.last_error).toContain("550 5.1.1 Mailbox unavailable");
      expect((await smtp.attempts()).length).toBe(1);
      expect(await smtp.messages()).toEqual([]);
    });

    test("4xx every time: FAILED after the last attempt, with the reply", async () => {
      await smtp.reset();
      const to = `busy-${kind}@mail.test`;
      await smtp.plan({ [to]: [452, 452, 452, 452] });
      const { id } = await enqueueEmail(t.ctx.db, { to, subject: "Busy", text: "x", kind: "PAYMENT" });
      for (let i = 0; i < 3; i++) {
        await worker.drain();
        await Bun.sleep(900); // back-off: 200, 400 ms (+ jitter)
      }
      const [row] = await outbox("id = $1", [id]);
      expect(row.status).toBe("FAILED");
      expect(row.attempts).toBe(3);
      expect(row.last_error).toContain("gave up after 3 attempts: 452");
    });

    test("without a relay, or with one that does not answer, messages stay queued; status and doctor say so", async () => {
      await smtp.reset();
      const { id } = await enqueueEmail(t.ctx.db, { to: "q@mail.test", subject: "Queued", text: "x", kind: "X" });
      await t.ctx.settings.update({ "smtp.host": "" }, null);
      try {
        expect(await worker.drain()).toEqual({ sent: 0, retried: 0, failed: 0, released: 0 });
        const health = await t.ctx.health.get("mail")!();
        expect(health.detail).toContain("No SMTP relay is set: e-mails are stored, not sent");
        const { CHECKS } = await import("../doctor/checks");
        const doctor = await CHECKS.smtp(t.ctx);
        expect(doctor.detail).toMatch(/not sent \([1-9]\d* waiting\)/);
        // A relay that refuses connections: the message goes back without spending an attempt.
        const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
        const port = closed.port;
        closed.stop(true);
        await t.ctx.settings.update({ "smtp.host": "127.0.0.1", "smtp.port": port }, null);
        const down = new MailWorker({
          database: t.ctx.database,
          smtp: () => smtpSettings(t.ctx.settings),
          site: () => mailSite(t.ctx),
          log: quiet,
        });
        const r = await down.drain();
        expect(r.released).toBeGreaterThanOrEqual(1);
        await down.stop();
        const [row] = await outbox("id = $1", [id]);
        expect(row.status).toBe("PENDING");
        expect(row.attempts).toBe(0);
        expect(row.last_error).toMatch(/ECONNREFUSED|connect/i);
      } finally {
        await t.ctx.settings.update({ "smtp.host": "127.0.0.1", "smtp.port": smtp.port }, null);
      }
      expect((await worker.drain()).sent).toBeGreaterThanOrEqual(1);
      expect((await smtp.messages()).some((m) => m.parsed.subject === "Queued")).toBe(true);
    });

    test("a worker killed with SIGKILL mid-batch loses nothing; a message is sent again at most once", async () => {
      await smtp.reset();
      const N = 40;
      const fresh = await createTestDb(kind);
      // PGlite: one process at a time on a data dir, so the dead worker's dir is opened here afterwards.
      const dir = kind === "pglite" ? mkdtempSync(join(tmpdir(), "ds-mail-crash-")) : undefined;
      let database = fresh;
      if (dir) {
        await fresh.close();
        database = await openDatabase({ dir });
      }
      const ids: string[] = [];
      for (let i = 0; i < N; i++) {
        ids.push(
          (await enqueueEmail(database.db, { to: `crash${i}@mail.test`, subject: `Crash ${i}`, text: "x", kind: "X" }))
            .id,
        );
      }
      if (dir) await database.close();
      await smtp.plan({}, 60); // 60 ms before each 250: the batch is in flight when the kill comes
      const child = Bun.spawn(["bun", join(import.meta.dir, "../../test/support/mail-worker-process.ts")], {
        env: {
          ...process.env,
          MAIL_DB_URL: fresh.url ?? "",
          MAIL_PGLITE_DIR: dir ?? "",
          MAIL_SMTP_PORT: String(smtp.port),
          MAIL_LEASE_MS: "1500",
        },
        stdout: "ignore",
        stderr: "inherit",
      });
      await smtp.waitFor(5, 60_000);
      child.kill("SIGKILL");
      await child.exited;
      const atKill = (await smtp.messages()).length;
      expect(atKill).toBeLessThan(N);

      const reopened = dir ? await openDatabase({ dir, migrate: false }) : database;
      const inFlight = await reopened.exec<{ n: number | string }>(
        "select count(*) as n from email_outbox where status = 'SENDING'",
      );
      expect(Number(inFlight[0].n)).toBeGreaterThan(0); // the kill came mid-batch
      await smtp.plan({}, 0);
      await Bun.sleep(1600); // the dead worker's lease ends
      const rescue = new MailWorker({
        database: reopened,
        smtp: () => ({
          host: "127.0.0.1",
          port: smtp.port,
          secure: false,
          user: "",
          password: "",
          from: "x@mail.test",
        }),
        site: () => ({ name: "DevSponsor", baseUrl: BASE }),
        log: quiet,
      });
      await rescue.drain();
      await rescue.stop();
      const rows = await reopened.exec<{ status: string }>("select status from email_outbox");
      expect(rows.every((r) => r.status === "SENT")).toBe(true);
      const got = await smtp.messages();
      const perId = new Map<string, number>();
      for (const m of got) perId.set(m.parsed.messageId ?? "", (perId.get(m.parsed.messageId ?? "") ?? 0) + 1);
      for (const id of ids) expect(perId.get(`<${id}@mail.test>`) ?? 0).toBeGreaterThanOrEqual(1);
      expect(Math.max(...perId.values())).toBeLessThanOrEqual(2);
      await (dir ? reopened : fresh).close();
    }, 120_000);
  });
}
