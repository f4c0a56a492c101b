// Setup gate, sign-in with session rotation, sign-out, CSRF, API keys (hashed, scoped, revocable), rate limits
// and GitHub sign-in against a local server speaking GitHub Enterprise's OAuth and REST endpoints.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { sha256Hex } from "../core/crypto";
import { setLogSink } from "../core/logger";
import { PEER_ADDRESS_HEADER } from "../core/http/client-address";
import { CHECKS } from "../doctor/checks";
import { createTestApp, type TestApp } from "../../test/support/app";
import { apiKeyFor, createOrgAs, createUser, formToken, setupTokenOf, signInWithForm } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { setupTokenPath } from "./first-admin";
import { safeNext } from "./http";
import { setupIdentity } from "./setup";
import { createSignInThrottle } from "./throttle";

const form = (fields: Record<string, string>) => new URLSearchParams(fields);
const FORM = { "content-type": "application/x-www-form-urlencoded" };
const sessionOf = (res: Response) => /ds_session=([^;]*)/.exec(res.headers.get("set-cookie") ?? "")?.[1] ?? null;

for (const kind of dbKinds()) {
  describe(`identity [${kind}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind);
    }, 60_000);
    afterAll(() => t.close());

    test("until an admin exists every page leads to /setup; health, status, static and the API do not", async () => {
      for (const path of ["/", "/signin", "/orgs", "/profile", "/admin/settings"]) {
        const res = await t.request("GET", path, { headers: { accept: "text/html" } });
        expect(`${path} ${res.status} ${res.headers.get("location")}`).toBe(`${path} 303 /setup`);
      }
      expect((await t.request("GET", "/health")).status).toBe(200);
      expect((await t.request("GET", "/status")).status).toBe(200);
      expect((await t.request("GET", "/api/openapi.json")).status).toBe(200);
      expect((await t.request("GET", "/api/me")).status).toBe(401);
      expect((await t.request("GET", "/setup")).status).toBe(200);
    });

    test("setup needs the one-time setup token: missing or wrong is refused, the right one works once", async () => {
      const values = { name: "Ada Admin", email: "ADA@example.test", password: "correct horse battery" };
      const noCsrf = await t.request("POST", "/setup", { body: form(values), headers: FORM });
      expect(noCsrf.status).toBe(403);
      const pre = await formToken(t, "/setup");
      const post = (fields: Record<string, string>) =>
        t.request("POST", "/setup", {
          body: form({ ...fields, _csrf: pre.token }),
          headers: { ...FORM, cookie: pre.cookie },
        });
      const token = await setupTokenOf(t);
      // The token is in a 0600 file of the data dir, never on the page a stranger can open.
      expect(statSync(setupTokenPath(t.ctx.config.dataDir)).mode & 0o777).toBe(0o600);
      expect(await (await t.request("GET", "/setup")).text()).not.toContain(token);
      // The first start prints it to whoever runs the machine, and so does the doctor.
      const lines: string[] = [];
      const starts: (() => Promise<void> | void)[] = [];
      setLogSink((l) => lines.push(l), "info");
      try {
        await setupIdentity(t.ctx, { start: (fn) => starts.push(fn), stop: () => {} });
        for (const fn of starts) await fn();
      } finally {
        setLogSink(() => {}, "error");
      }
      expect(lines.some((l) => l.includes(`open /setup and enter the setup token ${token}`))).toBe(true);
      expect(await CHECKS.setup(t.ctx)).toMatchObject({ status: "warn", detail: expect.stringContaining(token) });
      for (const setupToken of ["", "wrong", token.slice(0, -1), `${token}x`]) {
        const res = await post({ ...values, setupToken });
        expect(res.status).toBe(403);
        expect(await res.text()).toContain("The setup token is not right");
      }
      expect((await t.request("GET", "/api/me")).status).toBe(401);
      const [{ n: none }] = await t.ctx.database.exec<{ n: string }>("select count(*) as n from users where is_admin");
      expect(Number(none)).toBe(0);
      const res = await post({ ...values, setupToken: token });
      expect(res.status).toBe(303);
      expect(res.headers.get("location")).toBe("/onboarding");
      const setCookie = res.headers.get("set-cookie")!;
      expect(setCookie).toContain("HttpOnly");
      expect(setCookie).toContain("SameSite=Lax");
      const me = await t.request("GET", "/api/me", { headers: { cookie: `ds_session=${sessionOf(res)}` } });
      expect(await me.json()).toMatchObject({ email: "ada@example.test", isAdmin: true, onboarded: false });
      // Single use: the token is gone, a second setup is refused and the page now sends people to sign in.
      expect(existsSync(setupTokenPath(t.ctx.config.dataDir))).toBe(false);
      const again = await post({ ...values, email: "eve@example.test", setupToken: token });
      expect(again.headers.get("location")).toBe("/signin");
      expect((await t.request("GET", "/setup")).headers.get("location")).toBe("/signin");
      expect(await CHECKS.setup(t.ctx)).toMatchObject({ status: "ok" });
      const [{ n }] = await t.ctx.database.exec<{ n: string }>("select count(*) as n from users where is_admin");
      expect(Number(n)).toBe(1);
    });

    test("sign-in rotates the session: the cookie sent at sign-in is revoked; sign-out revokes the new one", async () => {
      const first = await signInWithForm(t, "ada@example.test", "correct horse battery");
      expect(first.res.status).toBe(303);
      expect(first.res.headers.get("location")).toBe("/onboarding?next=%2F"); // not onboarded yet
      const second = await signInWithForm(
        t,
        "ada@example.test",
        "correct horse battery",
        `ds_session=${first.session}`,
      );
      expect(second.session).not.toBe(first.session);
      expect((await t.request("GET", "/api/me", { headers: { cookie: `ds_session=${first.session}` } })).status).toBe(
        401,
      );
      const cookie = `ds_session=${second.session}`;
      expect((await t.request("GET", "/api/me", { headers: { cookie } })).status).toBe(200);
      const page = await (await t.request("GET", "/onboarding", { headers: { cookie } })).text();
      const csrf = /name="_csrf" value="([^"]+)"/.exec(page)![1];
      const out = await t.request("POST", "/signout", { body: form({ _csrf: csrf }), headers: { ...FORM, cookie } });
      expect(out.status).toBe(303);
      expect(out.headers.get("set-cookie")).toContain("Max-Age=0");
      expect((await t.request("GET", "/api/me", { headers: { cookie } })).status).toBe(401);
    });

    test("a wrong password is refused without saying which part was wrong; guessing from one address backs off", async () => {
      const user = await createUser(t, { email: "rl@example.test", password: "right-password-1" });
      const wrong = await signInWithForm(t, user.email, "nope-nope-nope");
      expect(wrong.res.status).toBe(401);
      expect(await wrong.res.text()).toContain("The e-mail or the password is not right.");
      const unknown = await signInWithForm(t, "nobody@example.test", "nope-nope-nope");
      expect(unknown.res.status).toBe(401);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await signInWithForm(t, user.email, "nope-nope-nope")).res.status);
      expect(statuses.slice(0, 3)).toEqual([401, 401, 401]); // 5 free failures per address and account, 1 used above
      expect(statuses.at(-1)).toBe(429);
      const limited = await signInWithForm(t, user.email, "right-password-1");
      expect(limited.res.status).toBe(429);
      expect(limited.res.headers.get("retry-after")).toBeTruthy();
    });

    test("failed sign-ins back off per address and account: alice still signs in from another address", async () => {
      const alice = await createUser(t, { email: `alice-${kind}@example.test`, password: "alice-password-1" });
      const from = (address: string, extra: Record<string, string> = {}) => ({
        [PEER_ADDRESS_HEADER]: address,
        ...extra,
      });
      const statuses: number[] = [];
      for (let i = 0; i < 7; i++) {
        // A forwarded address is ignored without DEVSPONSOR_TRUST_PROXY: changing it does not reset the count.
        const headers = from("203.0.113.7", { "x-forwarded-for": `198.51.100.${i}` });
        const { res } = await signInWithForm(t, alice.email, "wrong-password-1", "", headers);
        statuses.push(res.status);
        if (res.status === 429) expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      }
      expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
      // From another address alice signs in at once; the guessing address still waits, even with the password.
      const fromB = await signInWithForm(t, alice.email, "alice-password-1", "", from("203.0.113.8"));
      expect(fromB.res.status).toBe(303);
      expect(fromB.session).toBeTruthy();
      const guesser = await signInWithForm(t, alice.email, "alice-password-1", "", from("203.0.113.7"));
      expect(guesser.res.status).toBe(429);
      // The guessing address can still sign in to another account.
      const bob = await createUser(t, { password: "bob-password-1" });
      expect((await signInWithForm(t, bob.email, "bob-password-1", "", from("203.0.113.7"))).res.status).toBe(303);
    });

    test("behind a trusted proxy the forwarded address counts, the last hop only", async () => {
      const proxied = await createTestApp(kind, { DEVSPONSOR_TRUST_PROXY: "true" });
      try {
        const carol = await createUser(proxied, { password: "carol-password-1" });
        const via = (client: string) => ({ [PEER_ADDRESS_HEADER]: "10.0.0.1", "x-forwarded-for": client });
        for (let i = 0; i < 5; i++) {
          // The client writes the first hops itself; our proxy appends the address it saw.
          const res = (
            await signInWithForm(proxied, carol.email, "wrong-password", "", via(`192.0.2.${i}, 203.0.113.9`))
          ).res;
          expect(res.status).toBe(401);
        }
        expect((await signInWithForm(proxied, carol.email, "wrong-password", "", via("203.0.113.9"))).res.status).toBe(
          429,
        );
        // Same proxy, another client: not throttled.
        expect(
          (await signInWithForm(proxied, carol.email, "carol-password-1", "", via("203.0.113.10"))).res.status,
        ).toBe(303);
      } finally {
        await proxied.close();
      }
    }, 60_000);

    test("after sign-in, `next` never leaves the site; only same-origin paths survive", async () => {
      const u = await createUser(t);
      const cases: [string, string][] = [
        ["/orgs", "/orgs"],
        ["/orgs/123?tab=funding#top", "/orgs/123?tab=funding#top"],
        ["/onboarding?next=%2Forgs", "/onboarding?next=%2Forgs"],
        ["/\t/evil.example", "/"],
        ["/\n/evil.example", "/"],
        ["/\r\n//evil.example", "/"],
        ["//evil.example", "/"],
        ["///evil.example", "/"],
        ["/\\evil.example", "/"],
        ["\\/evil.example", "/"],
        ["https://evil.example", "/"],
        ["http:/evil.example", "/"],
        ["javascript:alert(1)", "/"],
        ["%2F%2Fevil.example", "/"],
        ["/%2F/evil.example", "/"],
        ["/%2f%2fevil.example", "/"],
        ["/%5Cevil.example", "/"],
        ["/%5C%5Cevil.example", "/"],
        ["/%09/evil.example", "/"],
        ["/%252F%252Fevil.example", "/"],
        ["/%E0%A4%A", "/"],
        ["/a\u0000b", "/"],
        [" /orgs", "/"],
        ["", "/"],
        [`/${"a".repeat(600)}`, "/"],
      ];
      for (const [next, want] of cases) {
        expect(`${JSON.stringify(next)} -> ${safeNext(next)}`).toBe(`${JSON.stringify(next)} -> ${want}`);
        // The same through a route: a signed-in visitor of /signin goes straight to `next`.
        // (The input layer may refuse a NUL outright: no redirect at all is as safe as "/".)
        const res = await t.request("GET", `/signin?next=${encodeURIComponent(next)}`, { headers: u.headers });
        const went = res.status === 400 ? "/" : res.headers.get("location");
        expect(`${JSON.stringify(next)} -> ${went}`).toBe(`${JSON.stringify(next)} -> ${want}`);
      }
      // Typed into the address bar as is: the query parser turns %09 into a tab.
      const typed = await t.request("GET", "/signin?next=/%09/evil.example", { headers: u.headers });
      expect(typed.headers.get("location")).toBe("/");
      // The form: what arrives in the POST body is checked the same way.
      const pre = await formToken(t, "/signin");
      const res = await t.request("POST", "/signin", {
        body: form({ _csrf: pre.token, email: u.email, password: u.password, next: "/\t/evil.example" }),
        headers: { ...FORM, cookie: pre.cookie, [PEER_ADDRESS_HEADER]: "203.0.113.20" },
      });
      expect(res.headers.get("location")).toBe("/");
      // Onboarding's redirect too.
      const onboard = await u.request("POST", `/onboarding?next=${encodeURIComponent("/\t/evil.example")}`, {
        body: form({ _csrf: u.csrf, roles: "SPONSOR" }),
        headers: FORM,
      });
      expect(onboard.headers.get("location")).toBe("/");
    });

    test("a leftover setup token is dead once an admin exists", async () => {
      const file = setupTokenPath(t.ctx.config.dataDir);
      await Bun.write(file, "left-over-token\n");
      const pre = await formToken(t, "/signin");
      const res = await t.request("POST", "/setup", {
        body: form({
          _csrf: pre.token,
          setupToken: "left-over-token",
          name: "Eve",
          email: "eve@example.test",
          password: "eve-password-1",
        }),
        headers: { ...FORM, cookie: pre.cookie },
      });
      expect(res.headers.get("location")).toBe("/signin");
      expect((await t.request("GET", "/setup")).headers.get("location")).toBe("/signin");
      expect(existsSync(file)).toBe(false);
    });

    test("onboarding asks sponsor, contributor or both before the dashboard", async () => {
      const u = await createUser(t, { onboarded: false });
      const home = await u.request("GET", "/");
      expect(home.headers.get("location")).toBe("/onboarding");
      const none = await u.request("POST", "/onboarding", { body: form({ _csrf: u.csrf }), headers: FORM });
      expect(none.status).toBe(400);
      const both = await u.request("POST", "/onboarding", {
        body: "roles=SPONSOR&roles=CONTRIBUTOR&_csrf=" + encodeURIComponent(u.csrf),
        headers: FORM,
      });
      expect(both.status).toBe(303);
      expect(await (await u.request("GET", "/api/me")).json()).toMatchObject({
        roles: ["SPONSOR", "CONTRIBUTOR"],
        onboarded: true,
      });
      expect((await u.request("GET", "/")).status).toBe(200);
      // Roles can change later.
      const later = await u.request("PATCH", "/api/me", { body: { roles: ["CONTRIBUTOR"] } });
      expect(await later.json()).toMatchObject({ roles: ["CONTRIBUTOR"] });
    });

    test("CSRF: a cookie session's state-changing requests need its own token (header or form field)", async () => {
      const a = await createUser(t);
      const b = await createUser(t);
      const cookie = `ds_session=${a.session}`;
      const scenarios: [string, Record<string, string>, unknown, number][] = [
        ["no token", { cookie }, { name: "x" }, 403],
        ["wrong token", { cookie, "x-csrf-token": "nope" }, { name: "x" }, 403],
        ["another session's token", { cookie, "x-csrf-token": b.csrf }, { name: "x" }, 403],
        ["own token in header", { cookie, "x-csrf-token": a.csrf }, { name: "x" }, 201],
      ];
      for (const [name, headers, body, status] of scenarios) {
        const res = await t.request("POST", "/api/orgs", { body, headers });
        expect(`${name}: ${res.status}`).toBe(`${name}: ${status}`);
        if (status === 403) expect(((await res.json()) as any).error.code).toBe("CSRF_FAILED");
      }
      // HTML form: the token travels as the _csrf field.
      const bad = await t.request("POST", "/orgs", { body: form({ name: "Form org" }), headers: { ...FORM, cookie } });
      expect(bad.status).toBe(403);
      const good = await t.request("POST", "/orgs", {
        body: form({ name: "Form org", _csrf: a.csrf }),
        headers: { ...FORM, cookie },
      });
      expect(good.status).toBe(303);
      // Same checks for PATCH and DELETE.
      const orgId = await createOrgAs(a);
      expect(
        (await t.request("PATCH", `/api/orgs/${orgId}`, { body: { name: "y" }, headers: { cookie } })).status,
      ).toBe(403);
      expect((await t.request("DELETE", `/api/orgs/${orgId}/members/${a.id}`, { headers: { cookie } })).status).toBe(
        403,
      );
      // API keys are exempt (no ambient credential), and a bad bearer never falls back to the cookie.
      const key = await apiKeyFor(t, a);
      expect((await key.request("POST", "/api/orgs", { body: { name: "via key" } })).status).toBe(201);
      const mixed = await t.request("POST", "/api/orgs", {
        body: { name: "x" },
        headers: { cookie, "x-csrf-token": a.csrf, authorization: "Bearer dsk_bad" },
      });
      expect(mixed.status).toBe(401);
    });

    test("API keys: shown once, stored only as a hash, scoped, last use recorded, revocable", async () => {
      const u = await createUser(t);
      const created = await u.request("POST", "/api/me/api-keys", { body: { name: "ci", scopes: ["read"] } });
      expect(created.status).toBe(201);
      const { key, apiKey } = (await created.json()) as { key: string; apiKey: { id: string; prefix: string } };
      expect(key).toMatch(/^dsk_[A-Za-z0-9]{12}_[\w-]{43}$/);
      expect(key.startsWith(`${apiKey.prefix}_`)).toBe(true);
      // Nothing in the database holds the raw key or its secret part.
      const rows = await t.ctx.database.exec<Record<string, unknown>>("select * from api_keys");
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice(`${apiKey.prefix}_`.length)); // the secret part (it may hold "_" itself)
      expect(dump).toContain(sha256Hex(key));
      expect(JSON.stringify(await (await u.request("GET", "/api/me/api-keys")).json())).not.toContain(key);
      // It authenticates, read-only.
      const bearer = { authorization: `Bearer ${key}` };
      expect(((await (await t.request("GET", "/api/me", { headers: bearer })).json()) as any).id).toBe(u.id);
      const write = await t.request("POST", "/api/orgs", { body: { name: "nope" }, headers: bearer });
      expect(write.status).toBe(403);
      const [used] = await t.ctx.database.exec<{ last_used_at: unknown }>(
        "select last_used_at from api_keys where id = $1",
        [apiKey.id],
      );
      expect(used.last_used_at).not.toBeNull();
      // A key cannot mint keys or delete the account; a wrong secret with a right prefix fails.
      expect(
        (await t.request("POST", "/api/me/api-keys", { body: { name: "x", scopes: ["read"] }, headers: bearer }))
          .status,
      ).toBe(403);
      const forged = `${apiKey.prefix}_${"A".repeat(43)}`;
      expect((await t.request("GET", "/api/me", { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
      // Only admins may create admin keys; revocation is immediate.
      expect((await u.request("POST", "/api/me/api-keys", { body: { name: "x", scopes: ["admin"] } })).status).toBe(
        400,
      );
      expect((await u.request("DELETE", `/api/me/api-keys/${apiKey.id}`)).status).toBe(204);
      expect((await t.request("GET", "/api/me", { headers: bearer })).status).toBe(401);
    });

    test("sessions are listed and revocable from the profile", async () => {
      const u = await createUser(t);
      const other = await signInWithForm(t, u.email, u.password);
      const list = ((await (await u.request("GET", "/api/me/sessions")).json()) as { sessions: { id: string }[] })
        .sessions;
      expect(list.length).toBe(2);
      const [otherRow] = await t.ctx.database.exec<{ id: string }>("select id from sessions where token_hash = $1", [
        sha256Hex(other.session!),
      ]);
      expect((await u.request("DELETE", `/api/me/sessions/${otherRow.id}`)).status).toBe(204);
      expect((await t.request("GET", "/api/me", { headers: { cookie: `ds_session=${other.session}` } })).status).toBe(
        401,
      );
      expect((await u.request("GET", "/api/me")).status).toBe(200);
    });

    test("cookies get Secure when the request came over TLS", async () => {
      const pre = await formToken(t, "/signin");
      const u = await createUser(t);
      const res = await t.app.handle(
        new Request("https://localhost/signin", {
          method: "POST",
          body: form({ _csrf: pre.token, email: u.email, password: u.password }),
          headers: { ...FORM, cookie: pre.cookie },
        }),
      );
      expect(res.headers.get("set-cookie")).toContain("; Secure");
    });

    describe("GitHub sign-in (Enterprise base URL)", () => {
      let server: ReturnType<typeof Bun.serve>;
      const seen: string[] = [];
      let profile = { id: 4242, login: "octo-dev", name: "Octo Dev", email: "octo@example.test" };
      beforeAll(async () => {
        server = Bun.serve({
          port: 0,
          hostname: "127.0.0.1",
          fetch: async (req) => {
            const url = new URL(req.url);
            seen.push(`${req.method} ${url.pathname}`);
            if (url.pathname === "/login/oauth/access_token") {
              const body = new URLSearchParams(await req.text());
              if (body.get("code") !== "good-code" || body.get("client_secret") !== "shh")
                return Response.json({ error: "bad_verification_code" });
              return Response.json({ access_token: "gho_test", token_type: "bearer" });
            }
            if (req.headers.get("authorization") !== "Bearer gho_test") return new Response("no", { status: 401 });
            if (url.pathname === "/api/v3/user")
              return Response.json({
                id: profile.id,
                login: profile.login,
                name: profile.name,
                avatar_url: "https://gh.example/a.png",
              });
            if (url.pathname === "/api/v3/user/emails")
              return Response.json([{ email: profile.email, primary: true, verified: true }]);
            return new Response("not found", { status: 404 });
          },
        });
        const base = `http://127.0.0.1:${server.port}`;
        await t.ctx.settings.update(
          {
            "github.baseUrl": base,
            "github.apiUrl": `${base}/api/v3`,
            "github.clientId": "Iv1.test",
            "github.clientSecret": "shh",
          },
          null,
        );
      });
      afterAll(() => server.stop(true));

      const start = async () => {
        const res = await t.request("GET", "/auth/github?next=/orgs");
        expect(res.status).toBe(303);
        const location = new URL(res.headers.get("location")!);
        const state = location.searchParams.get("state")!;
        const cookie = /ds_oauth=([^;]+)/.exec(res.headers.get("set-cookie")!)![1];
        return { location, state, cookie: `ds_oauth=${cookie}` };
      };

      test("redirects to the configured server, then creates the account from the verified profile", async () => {
        const s = await start();
        expect(s.location.origin).toBe(`http://127.0.0.1:${server.port}`);
        expect(s.location.pathname).toBe("/login/oauth/authorize");
        expect(s.location.searchParams.get("client_id")).toBe("Iv1.test");
        const cb = await t.request("GET", `/auth/github/callback?code=good-code&state=${s.state}`, {
          headers: { cookie: s.cookie },
        });
        expect(cb.status).toBe(303);
        expect(cb.headers.get("location")).toBe("/onboarding?next=%2Forgs");
        const me = (await (
          await t.request("GET", "/api/me", { headers: { cookie: `ds_session=${sessionOf(cb)}` } })
        ).json()) as any;
        expect(me).toMatchObject({
          githubLogin: "octo-dev",
          email: "octo@example.test",
          emailVerified: true,
          hasPassword: false,
        });
        // Signing in again finds the same account.
        const s2 = await start();
        const cb2 = await t.request("GET", `/auth/github/callback?code=good-code&state=${s2.state}`, {
          headers: { cookie: s2.cookie },
        });
        const me2 = (await (
          await t.request("GET", "/api/me", { headers: { cookie: `ds_session=${sessionOf(cb2)}` } })
        ).json()) as any;
        expect(me2.id).toBe(me.id);
        expect(seen).toContain("POST /login/oauth/access_token");
      });

      test("a wrong state, a refused code, or another account's verified e-mail are refused", async () => {
        const s = await start();
        expect(
          (
            await t.request("GET", `/auth/github/callback?code=good-code&state=forged`, {
              headers: { cookie: s.cookie },
            })
          ).status,
        ).toBe(403);
        expect((await t.request("GET", `/auth/github/callback?code=good-code&state=${s.state}`)).status).toBe(403);
        const bad = await t.request("GET", `/auth/github/callback?code=bad-code&state=${s.state}`, {
          headers: { cookie: s.cookie },
        });
        expect(bad.status).toBe(400);
        const local = await createUser(t);
        profile = { id: 777, login: "squatter", name: "S", email: local.email };
        const s2 = await start();
        const taken = await t.request("GET", `/auth/github/callback?code=good-code&state=${s2.state}`, {
          headers: { cookie: s2.cookie },
        });
        expect(taken.status).toBe(409);
        // The account owner links GitHub from a signed-in session instead.
        const s3 = await start();
        const linked = await t.request("GET", `/auth/github/callback?code=good-code&state=${s3.state}`, {
          headers: { cookie: `${s3.cookie}; ds_session=${local.session}` },
        });
        expect(linked.headers.get("location")).toBe("/profile");
        expect(((await (await local.request("GET", "/api/me")).json()) as any).githubLogin).toBe("squatter");
        // Linking is no re-authentication (the session stays)...
        expect(sessionOf(linked)).toBeNull();
        // ...but signing in again with the GitHub account already linked is: a fresh session, a recent sign-in.
        await t.ctx.database.exec("update sessions set created_at = now() - interval '1 hour' where user_id = $1", [
          local.id,
        ]);
        const s4 = await start();
        const again = await t.request("GET", `/auth/github/callback?code=good-code&state=${s4.state}`, {
          headers: { cookie: `${s4.cookie}; ds_session=${local.session}` },
        });
        expect(again.headers.get("location")).toBe("/profile");
        const fresh = sessionOf(again)!;
        expect(fresh).toBeTruthy();
        expect((await local.request("GET", "/api/me")).status).toBe(401); // rotated
        const page = await (await t.request("GET", "/profile", { headers: { cookie: `ds_session=${fresh}` } })).text();
        expect(page).not.toContain("confirm it is you");
      });
    });

    if (kind === "postgres") {
      test("`devsponsor admin create` makes an admin from a password file", async () => {
        // An empty database, as on a new install: the command migrates it first.
        const { createEmptyPostgres } = await import("../../test/support/db");
        const { openDatabase } = await import("../core/db");
        const empty = await createEmptyPostgres();
        const dir = process.env.DEVSPONSOR_TEST_TMP!;
        const pw = `${dir}/pw-${Date.now()}.txt`;
        await Bun.write(pw, "a long enough password\n");
        try {
          const run = (email: string) =>
            Bun.spawnSync(["bun", "src/main.ts", "admin", "create", "--email", email, "--password-file", pw], {
              env: { ...process.env, DATABASE_URL: empty.url, LOG_LEVEL: "error" },
              cwd: `${import.meta.dir}/../..`,
            });
          const ok = run("cli@example.test");
          expect(ok.exitCode).toBe(0);
          expect(ok.stdout.toString()).toContain("admin created: cli@example.test");
          const fresh = await openDatabase({ url: empty.url, migrate: false, max: 1 });
          const [row] = await fresh.exec<{ is_admin: boolean; password_hash: string }>(
            "select is_admin, password_hash from users where email = 'cli@example.test'",
          );
          await fresh.close();
          expect(row.is_admin).toBe(true);
          expect(row.password_hash.startsWith("$argon2id$")).toBe(true);
          expect(await Bun.password.verify("a long enough password", row.password_hash)).toBe(true);
          const dup = run("cli@example.test");
          expect(dup.exitCode).toBe(1);
          expect(dup.stderr.toString()).toContain("already exists");
        } finally {
          await empty.drop();
        }
      }, 30_000);
    }
  });
}

test("the sign-in throttle doubles the wait per failure, per address as well as per pair, and forgets", () => {
  const th = createSignInThrottle({ pairFreeFailures: 2, addressFreeFailures: 4, baseMs: 1000, maxMs: 8000 });
  const waitOf = (address: string, account: string, now: number) => {
    try {
      th.check(address, account, now);
      return 0;
    } catch (err) {
      return (err as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds;
    }
  };
  th.failed("A", "alice", 0);
  expect(waitOf("A", "alice", 0)).toBe(0);
  th.failed("A", "alice", 0);
  expect(waitOf("A", "alice", 0)).toBe(1);
  expect(waitOf("A", "alice", 1000)).toBe(0);
  th.failed("A", "alice", 1000);
  expect(waitOf("A", "alice", 1000)).toBe(2);
  for (let i = 0; i < 5; i++) th.failed("A", "alice", 10_000);
  expect(waitOf("A", "alice", 10_000)).toBe(8); // capped
  expect(waitOf("B", "alice", 10_000)).toBe(0);
  // The address made 8 failures in all: it waits for any account; success resets only the pair.
  expect(waitOf("A", "bob", 10_000)).toBe(8);
  th.succeeded("A", "alice");
  expect(waitOf("A", "alice", 10_000)).toBe(8);
  expect(waitOf("A", "alice", 10_000 + 2 * 3_600_000)).toBe(0);
});
