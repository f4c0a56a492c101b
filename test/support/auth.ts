// Signed-in callers for route tests: users with a real session (cookie + CSRF token) or API key, created through
// the identity services, and a request helper that sends them.
import { eq } from "drizzle-orm";
import { ensureSetupToken } from "../../src/auth/first-admin";
import { createApiKey, createLocalUser, createSession, hasAdmin } from "../../src/auth/service";
import { users } from "../../src/users/schema";
import type { TestApp } from "./app";

/** A user of the test app with an open browser session. */
export interface TestUser {
  id: string;
  email: string;
  password: string;
  name: string;
  isAdmin: boolean;
  /** The `ds_session` cookie value. */
  session: string;
  csrf: string;
  /** Headers of a browser request from this user: the cookie and the CSRF header. */
  headers: Record<string, string>;
  /** Sends a request as this user (session cookie + CSRF token); objects are sent as JSON. */
  request(method: string, path: string, opts?: { body?: unknown; headers?: Record<string, string> }): Promise<Response>;
}

let counter = 0;

/**
 * Creates a user with a session. The first call on an app also creates a platform admin when none exists,
 * so pages are not redirected to /setup. Users are onboarded (sponsor and contributor) unless told otherwise.
 */
export async function createUser(
  t: TestApp,
  opts: { email?: string; name?: string; password?: string; admin?: boolean; onboarded?: boolean } = {},
): Promise<TestUser> {
  const db = t.ctx.db;
  const n = ++counter;
  if (!opts.admin && !(await hasAdmin(db))) {
    await createLocalUser(db, {
      email: `root-${process.pid}-${n}@example.test`,
      password: "root-password-1",
      name: "Root",
      isAdmin: true,
    });
  }
  const email = opts.email ?? `user-${process.pid}-${n}-${Math.random().toString(36).slice(2, 7)}@example.test`;
  const password = opts.password ?? `password-${n}-secret`;
  const name = opts.name ?? `User ${n}`;
  const user = await createLocalUser(db, { email, password, name, isAdmin: !!opts.admin, emailVerified: true });
  if (opts.onboarded !== false) {
    await db
      .update(users)
      .set({ roles: ["SPONSOR", "CONTRIBUTOR"], onboardedAt: new Date() })
      .where(eq(users.id, user.id));
  }
  const s = await createSession(db, user.id);
  return asUser(t, { id: user.id, email, password, name, isAdmin: !!opts.admin }, s.token, s.csrfToken);
}

/** Wraps an existing session (e.g. one obtained through the sign-in form) as a TestUser. */
export function asUser(
  t: TestApp,
  u: { id: string; email: string; password: string; name: string; isAdmin: boolean },
  session: string,
  csrf: string,
): TestUser {
  const headers = { cookie: `ds_session=${session}`, "x-csrf-token": csrf };
  return {
    ...u,
    session,
    csrf,
    headers,
    request: (method, path, o = {}) => t.request(method, path, { ...o, headers: { ...headers, ...o.headers } }),
  };
}

/** An API key of `user` with the given scopes, and a request helper that sends it as a bearer token. */
export async function apiKeyFor(t: TestApp, user: { id: string }, scopes: string[] = ["read", "write"]) {
  const { key } = await createApiKey(t.ctx.db, user.id, { name: "test", scopes });
  return {
    key,
    request: (method: string, path: string, o: { body?: unknown; headers?: Record<string, string> } = {}) =>
      t.request(method, path, { ...o, headers: { authorization: `Bearer ${key}`, ...o.headers } }),
  };
}

/** Creates an org through the API as `user` (who becomes its OWNER) and returns its id. */
export async function createOrgAs(user: TestUser, name = `Org ${++counter}`): Promise<string> {
  const res = await user.request("POST", "/api/orgs", { body: { name } });
  if (res.status !== 201) throw new Error(`creating org failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Adds `user` to an org with `role` through a real invite (by e-mail) accepted by the user. */
export async function addMember(owner: TestUser, orgId: string, user: TestUser, role: string): Promise<void> {
  const res = await owner.request("POST", `/api/orgs/${orgId}/invite`, { body: { email: user.email, role } });
  if (res.status !== 201) throw new Error(`invite failed: ${res.status} ${await res.text()}`);
  const invite = (await res.json()) as { id: string };
  const ok = await user.request("POST", `/api/orgs/${orgId}/invite/${invite.id}/accept`);
  if (ok.status !== 200) throw new Error(`accept failed: ${ok.status} ${await ok.text()}`);
}

/** The pre-session CSRF cookie and token of the sign-in/setup forms, from a real GET of `path`. */
export async function formToken(t: TestApp, path = "/signin") {
  const res = await t.request("GET", path);
  const setCookie = res.headers.get("set-cookie") ?? "";
  const m = /ds_pre=([^;]+)/.exec(setCookie);
  const html = await res.text();
  const field = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m || !field) throw new Error(`no form token on ${path} (status ${res.status})`);
  return { cookie: `ds_pre=${m[1]}`, token: field[1] };
}

/** The setup token /setup asks for while no admin exists (what the log and `devsponsor doctor` show). */
export async function setupTokenOf(t: TestApp): Promise<string> {
  const token = await ensureSetupToken(t.ctx.db, t.ctx.config.dataDir);
  if (!token) throw new Error("no setup token: a platform admin exists already");
  return token;
}

/**
 * Signs in through the real form and returns the new session cookie value (or the failed response). `headers`
 * go with the POST (e.g. the peer-address header, to sign in from another client address).
 */
export async function signInWithForm(
  t: TestApp,
  email: string,
  password: string,
  extraCookie = "",
  headers: Record<string, string> = {},
) {
  const pre = await formToken(t, "/signin");
  const res = await t.request("POST", "/signin", {
    body: new URLSearchParams({ _csrf: pre.token, email, password, next: "/" }),
    headers: {
      ...headers,
      cookie: [pre.cookie, extraCookie].filter(Boolean).join("; "),
      "content-type": "application/x-www-form-urlencoded",
    },
  });
  const m = /ds_session=([^;]+)/.exec(res.headers.get("set-cookie") ?? "");
  return { res, session: m?.[1] ?? null };
}
