// The appliance itself sends: `serve` (its own process) runs the mail worker, so an invite, a sign-up's
// verification link and a password reset reach a real SMTP server process without anyone calling the worker, and
// their links open pages of that running appliance. SMTP comes from the environment (DEVSPONSOR_SMTP_*).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerProcess, startServerProcess } from "../../test/support/server-process";
import { type SmtpServerProcess, startSmtpServer } from "../../test/support/smtp-server";

const cookieOf = (res: Response, name: string) =>
  new RegExp(`${name}=([^;]+)`).exec(res.headers.getSetCookie().join("\n"))?.[1] ?? "";
const fieldOf = (html: string, re: RegExp) => {
  const m = re.exec(html);
  if (!m) throw new Error(`not found: ${re}`);
  return m[1];
};

describe("the appliance delivers its e-mails", () => {
  let smtp: SmtpServerProcess;
  let server: ServerProcess;
  const dataDir = mkdtempSync(join(tmpdir(), "ds-mail-app-"));

  beforeAll(async () => {
    smtp = await startSmtpServer();
    server = await startServerProcess({
      dataDir,
      env: { DEVSPONSOR_SMTP_HOST: "127.0.0.1", DEVSPONSOR_SMTP_PORT: String(smtp.port), LOG_LEVEL: "warn" },
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await smtp?.stop();
  });

  test("invite, verification and reset e-mails arrive with links to the running appliance", async () => {
    const base = server.base;
    const form = async (path: string, fields: Record<string, string>, cookie = "") => {
      const page = await fetch(`${base}${path}`, { headers: { cookie } });
      const pre = cookieOf(page, "ds_pre") || /ds_pre=([^;]+)/.exec(cookie)?.[1] || "";
      const csrf = fieldOf(await page.text(), /name="_csrf" value="([^"]+)"/);
      return fetch(`${base}${path}`, {
        method: "POST",
        redirect: "manual",
        headers: { cookie: [cookie, `ds_pre=${pre}`].filter(Boolean).join("; ") },
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
      });
    };
    // First run: the setup token makes the admin.
    const token = (await Bun.file(join(dataDir, "setup-token")).text()).trim();
    const setup = await form("/setup", {
      setupToken: token,
      name: "Ada Admin",
      email: "ada@mail.test",
      password: "ada-password-1",
    });
    expect(setup.status).toBe(303);
    const session = `ds_session=${cookieOf(setup, "ds_session")}`;
    const csrf = fieldOf(
      await (await fetch(`${base}/onboarding`, { headers: { cookie: session } })).text(),
      /name="csrf-token" content="([^"]+)"/,
    );
    const api = (path: string, body: unknown) =>
      fetch(`${base}${path}`, {
        method: "POST",
        headers: { cookie: session, "x-csrf-token": csrf, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    const org = (await (await api("/api/orgs", { name: "Appliance Org" })).json()) as { id: string };
    expect((await api(`/api/orgs/${org.id}/invite`, { email: "bea@mail.test", role: "CONTRIBUTOR" })).status).toBe(201);
    const signup = await form("/signup", { name: "Bea", email: "bea@mail.test", password: "bea-password-1" });
    expect(signup.status).toBe(303);
    const bea = `ds_session=${cookieOf(signup, "ds_session")}`;
    const forgot = await fetch(`${base}/api/auth/password/forgot`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "ada@mail.test" }),
    });
    expect(forgot.status).toBe(202);

    const got = await smtp.waitFor(3, 30_000);
    const link = (subject: RegExp, path: string) => {
      const m = got.find((x) => subject.test(x.parsed.subject ?? ""));
      if (!m) throw new Error(`no message ${subject}: ${got.map((x) => x.parsed.subject).join(", ")}`);
      const url = new RegExp(`${base.replace(/[.:/]/g, "\\$&")}${path.replace("?", "\\?")}\\S+`).exec(
        m.parsed.text ?? "",
      );
      if (!url) throw new Error(`no ${path} link in ${m.parsed.text}`);
      return url[0];
    };
    const invite = await fetch(link(/invited you to Appliance Org/, "/invites/accept?token="), {
      headers: { cookie: bea },
    });
    expect(invite.status).toBe(200);
    expect(await invite.text()).toContain("Appliance Org");
    const verified = await fetch(link(/^Confirm your e-mail address$/, "/verify-email?token="), {
      headers: { cookie: bea },
    });
    expect(verified.status).toBe(200);
    expect(await verified.text()).toContain("bea@mail.test is confirmed.");
    const reset = await fetch(link(/^Reset your password$/, "/password/reset?token="));
    expect(reset.status).toBe(200);
    expect(await reset.text()).toContain("Choose a new password");
    const health = (await (await fetch(`${base}/health`, { headers: { cookie: session } })).json()) as any;
    expect(JSON.stringify(health)).toContain("mail");
  }, 120_000);
});
