// E-mail verification and password reset without the SMTP side (src/notifications/mail.test.ts follows the links
// of delivered messages): what the outbox gets, forged, expired, used and stale links, the request form that
// tells nothing and is throttled, and a refused password that leaves the link usable. Both databases.
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { RESET_TTL_MS, requestPasswordReset, resetPassword, sendVerificationEmail, verifyEmail } from "./account-email";

for (const kind of dbKinds()) {
  describe(`account e-mail links [${kind}]`, () => {
    let t: TestApp;
    const deps = () => ({ db: t.ctx.db, masterKey: t.ctx.masterKey });
    /** The token of the latest link queued for `to`, waiting up to `waitMs` for it (requests queue it after answering). */
    const lastToken = async (to: string, kindOf: string, waitMs = 0) => {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const token = await latest(to, kindOf);
        if (token || Date.now() >= deadline) return token;
        await Bun.sleep(25);
      }
    };
    const latest = async (to: string, kindOf: string) => {
      const [row] = await t.ctx.database.exec<{ link: string }>(
        "select link from email_outbox where to_address = $1 and kind = $2 order by created_at desc limit 1",
        [to, kindOf],
      );
      return row ? new URL(row.link, "http://x").searchParams.get("token")! : null;
    };
    beforeAll(async () => {
      t = await createTestApp(kind);
    }, 60_000);
    afterAll(() => t.close());

    test("the reset request answers the same for any address and queues a link only for a local account", async () => {
      const u = await createUser(t);
      const ask = (email: string, ip: string) =>
        t.request("POST", "/api/auth/password/forgot", { body: { email }, headers: { "x-forwarded-for": ip } });
      const known = await ask(u.email, "10.0.0.1");
      const unknown = await ask("nobody@example.test", "10.0.0.1");
      expect(known.status).toBe(202);
      expect(unknown.status).toBe(202);
      expect(await known.text()).toBe(await unknown.text());
      expect(await lastToken(u.email, "PASSWORD_RESET", 5000)).not.toBeNull();
      expect(await lastToken("nobody@example.test", "PASSWORD_RESET", 500)).toBeNull();
      // A second request within the minute queues nothing more (an inbox cannot be flooded through the form).
      await requestPasswordReset(deps(), u.email);
      const [n] = await t.ctx.database.exec<{ n: number | string }>(
        "select count(*) as n from email_outbox where to_address = $1 and kind = 'PASSWORD_RESET'",
        [u.email],
      );
      expect(Number(n.n)).toBe(1);
    });

    test("requests are throttled per client address and account", async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await t.request("POST", "/api/auth/password/forgot", { body: { email: "target@example.test" } });
        statuses.push(res.status);
      }
      expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
      expect(statuses[3]).toBe(429);
    });

    test("a reset link: forged, too short a password (link kept), used once, then dead; sessions end", async () => {
      const u = await createUser(t);
      await requestPasswordReset(deps(), u.email);
      const token = (await lastToken(u.email, "PASSWORD_RESET"))!;
      const forged = `${token.slice(0, -3)}${token.endsWith("AAA") ? "BBB" : "AAA"}`;
      await expect(resetPassword(deps(), { token: forged, password: "long-enough-1" })).rejects.toMatchObject({
        code: "TOKEN_INVALID",
      });
      await expect(resetPassword(deps(), { token, password: "short" })).rejects.toMatchObject({
        code: "INVALID_INPUT",
      });
      expect((await u.request("GET", "/api/me")).status).toBe(200);
      await resetPassword(deps(), { token, password: "long-enough-1" });
      expect((await u.request("GET", "/api/me")).status).toBe(401);
      await expect(resetPassword(deps(), { token, password: "long-enough-2" })).rejects.toMatchObject({
        code: "TOKEN_INVALID",
      });
      const signin = await t.request("POST", "/api/auth/password/reset", { body: { token, password: "x".repeat(12) } });
      expect(signin.status).toBe(400);
      const [audit] = await t.ctx.database.exec<{ n: number | string }>(
        "select count(*) as n from audit_log where action = 'user.password.reset' and target_id = $1",
        [u.id],
      );
      expect(Number(audit.n)).toBe(1);
    });

    test("a reset link expires after an hour", async () => {
      const u = await createUser(t);
      await requestPasswordReset(deps(), u.email);
      const token = (await lastToken(u.email, "PASSWORD_RESET"))!;
      setSystemTime(new Date(Date.now() + RESET_TTL_MS + 1000));
      try {
        await expect(resetPassword(deps(), { token, password: "long-enough-1" })).rejects.toMatchObject({
          code: "TOKEN_INVALID",
        });
      } finally {
        setSystemTime();
      }
    });

    test("a verification link confirms the address it was sent to, once; not after the address changed", async () => {
      const u = await createUser(t);
      await t.ctx.database.exec("update users set email_verified = false where id = $1", [u.id]);
      expect(await sendVerificationEmail(deps(), u.id)).toEqual({ queued: true });
      const first = (await lastToken(u.email, "VERIFY_EMAIL"))!;
      // A new link replaces the first.
      expect((await u.request("POST", "/api/me/email/verification")).status).toBe(202);
      const second = (await lastToken(u.email, "VERIFY_EMAIL"))!;
      expect(second).not.toBe(first);
      await expect(verifyEmail(deps(), first)).rejects.toMatchObject({ code: "TOKEN_INVALID" });
      await t.ctx.database.exec("update users set email = $2 where id = $1", [u.id, `moved-${u.email}`]);
      await expect(verifyEmail(deps(), second)).rejects.toMatchObject({ code: "TOKEN_INVALID" });
      await t.ctx.database.exec("update users set email = $2 where id = $1", [u.id, u.email]);
      expect((await u.request("POST", "/api/me/email/verification")).status).toBe(202);
      const third = (await lastToken(u.email, "VERIFY_EMAIL"))!;
      const ok = await t.request("POST", "/api/auth/email/verify", { body: { token: third } });
      expect(ok.status).toBe(200);
      const [row] = await t.ctx.database.exec<{ email_verified: boolean }>(
        "select email_verified from users where id = $1",
        [u.id],
      );
      expect(row.email_verified).toBe(true);
      expect((await u.request("POST", "/api/me/email/verification")).status).toBe(409);
      expect(await sendVerificationEmail(deps(), u.id)).toEqual({ queued: false });
    });

    test("the JSON API is in the OpenAPI document; deleting the account deletes its links", async () => {
      const doc = (await (await t.request("GET", "/api/openapi.json")).json()) as { paths: Record<string, any> };
      for (const path of [
        "/api/auth/password/forgot",
        "/api/auth/password/reset",
        "/api/auth/email/verify",
        "/api/me/email/verification",
      ]) {
        expect(doc.paths[path]?.post?.summary ?? `${path} missing`).not.toContain("missing");
      }
      const u = await createUser(t);
      await requestPasswordReset(deps(), u.email);
      const count = async () =>
        Number(
          (
            await t.ctx.database.exec<{ n: number | string }>(
              "select count(*) as n from account_tokens where user_id = $1",
              [u.id],
            )
          )[0].n,
        );
      expect(await count()).toBe(1);
      expect((await u.request("DELETE", "/api/me", { body: { confirm: "DELETE" } })).status).toBeLessThan(300);
      expect(await count()).toBe(0);
    });
  });
}
