import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import type { AppContext, Principal } from "../core/context";
import { safeEqual } from "../core/crypto";
import { AppError, forbidden } from "../core/errors";
import { formError, formList, formText, pageProps, readForm, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { createRateLimiter } from "../core/http/rate-limit";
import { completeOnboarding, getMe } from "../users/service";
import { fetchGitHubProfile, githubAuthorizeUrl, githubConfigured, linkedGitHubId, upsertGitHubUser } from "./github";
import {
  clearCookie,
  clientIp,
  cookie,
  OAUTH_STATE_COOKIE,
  PRE_CSRF_COOKIE,
  readCookie,
  safeNext,
  SESSION_COOKIE,
  sessionCookie,
  siteOrigin,
} from "./http";
import { createFirstAdmin, ensureSetupToken } from "./first-admin";
import {
  createLocalUser,
  createSession,
  hasAdmin,
  randomToken,
  revokeSessionByToken,
  verifyCredentials,
} from "./service";
import { createSignInThrottle } from "./throttle";
import { ACCOUNT_PRE_SESSION_FORMS, sendVerificationEmail } from "./account-email";
import { OnboardingPage, RepostPage, SetupPage, SignInPage, SignUpPage } from "./views";

const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Forms posted before sign-in: they carry the pre-session token (checked by their handlers), not a session's. */
const PRE_SESSION_FORMS = new Set(["/setup", "/signin", "/signup", ...ACCOUNT_PRE_SESSION_FORMS]);

/** Paths reachable before the platform admin exists. */
const beforeSetup = (path: string) =>
  path === "/setup" ||
  path === "/health" ||
  path === "/status" ||
  path.startsWith("/static/") ||
  path.startsWith("/api/");

/** The CSRF token a form posted ("" when none); the form kit leaves `_csrf` out of the values it reads. */
const postedCsrf = (body: unknown): string => {
  const v = body && typeof body === "object" ? (body as Record<string, unknown>)._csrf : undefined;
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === "string" ? first : "";
};

/** The error for a state-changing request without the session's CSRF token. */
export const csrfError = () =>
  new AppError(
    "CSRF_FAILED",
    "This form has expired or did not come from this site; reload the page and try again.",
    403,
  );

/**
 * The fields of a plain HTML form post (not htmx, not the API, no file), to send again from a page of ours;
 * null for anything else. `_csrf` and the names in `omit` are left out.
 */
function pageFormFields(request: Request, body: unknown, omit: string[] = []): [string, string][] | null {
  const h = request.headers;
  if (h.get("hx-request") === "true" || !(h.get("accept") ?? "").includes("text/html")) return null;
  if (new URL(request.url).pathname.startsWith("/api/")) return null;
  if (!(h.get("content-type") ?? "").startsWith("application/x-www-form-urlencoded")) return null;
  if (!body || typeof body !== "object") return null;
  const fields: [string, string][] = [];
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (k === "_csrf" || omit.includes(k)) continue;
    for (const x of Array.isArray(v) ? v : [v]) {
      if (typeof x !== "string") return null;
      fields.push([k, x]);
    }
  }
  return fields;
}

/**
 * The fields of a form this site's own page sent (the browser says so: Sec-Fetch-Site or Origin), to offer it
 * again after a CSRF failure; null for anything else (another site's post, htmx, the API, file uploads), which
 * gets the plain refusal. Only a page of this origin could have read the token anyway, so offering it is safe.
 */
function resendableForm(ctx: AppContext, request: Request, body: unknown): [string, string][] | null {
  const site = request.headers.get("sec-fetch-site");
  const sameOrigin = site ? site === "same-origin" : request.headers.get("origin") === siteOrigin(ctx, request);
  return sameOrigin ? pageFormFields(request, body) : null;
}

/** Where "Cancel" on a confirmation step goes: the page the form was on (this site's only), else home. */
function backTo(ctx: AppContext, request: Request): string {
  const referer = request.headers.get("referer");
  if (!referer) return "/";
  try {
    const url = new URL(referer);
    const ours = [new URL(request.url).origin, siteOrigin(ctx, request)];
    return ours.includes(url.origin) ? safeNext(url.pathname + url.search) : "/";
  } catch {
    return "/";
  }
}

/** A page of ours that sends a form's fields again to where they were posted, with the session's current token. */
function repost(
  p: Principal,
  request: Request,
  fields: [string, string][],
  status: number,
  page: Pick<Parameters<typeof RepostPage>[0], "heading" | "text" | "button" | "flash" | "cancel">,
) {
  const url = new URL(request.url);
  return html(
    <RepostPage {...pageProps(p)} csrf={p.csrfToken!} action={url.pathname + url.search} fields={fields} {...page} />,
    status,
    { "cache-control": "no-store" },
  );
}

/**
 * Runs before every route registered after it (so `createApp` uses it first): sends everyone to /setup until a
 * platform admin exists, checks the CSRF token of every state-changing request made with a session cookie, and
 * refuses changes through API keys without the `write` scope.
 */
export const authGuard = (ctx: AppContext) => {
  let adminKnown = false;
  return new Elysia({ name: "auth-guard" })
    .use(httpContext(ctx))
    .onBeforeHandle({ as: "global" }, async ({ request, body, principal }) => {
      const path = new URL(request.url).pathname;
      if (!adminKnown && !beforeSetup(path)) {
        adminKnown = await hasAdmin(ctx.db);
        if (!adminKnown) return seeOther(request, "/setup");
      }
      if (!STATE_CHANGING.has(request.method) || PRE_SESSION_FORMS.has(path)) return;
      const p = await principal();
      if (p?.via === "session") {
        const sent = request.headers.get("x-csrf-token") ?? postedCsrf(body);
        if (!sent || !p.csrfToken || !safeEqual(sent, p.csrfToken)) {
          // a stale form of our own keeps what was typed: the page offers to send it again with the fresh token
          const fields = p.csrfToken ? resendableForm(ctx, request, body) : null;
          if (!fields) throw csrfError();
          return repost(p, request, fields, 403, {
            heading: "Send the form again",
            flash: { kind: "error", message: "This form had expired, so nothing was saved." },
            text: "What you typed is kept. Send it again to finish, or go back to the page and reload it to start over.",
            button: "Send again",
          });
        }
        // An action that cannot be undone asks first (ConfirmField). app.js asks in the browser and drops the
        // field; without JavaScript it arrives here, and this page asks, then sends the form again without it.
        const question = (body as { _confirm?: unknown } | null)?._confirm;
        const fields = typeof question === "string" ? pageFormFields(request, body, ["_confirm"]) : null;
        if (fields) {
          return repost(p, request, fields, 200, {
            heading: "Are you sure?",
            text: String(question).slice(0, 500),
            button: "Yes, go ahead",
            cancel: backTo(ctx, request),
          });
        }
      } else if (p?.via === "api-key" && !p.scopes?.includes("write")) {
        throw forbidden("This API key lacks the write scope.");
      }
    });
};

/** Setup, sign-in/out, sign-up, GitHub OAuth and onboarding. */
export const authRoutes = (ctx: AppContext) => {
  // Sign-in: a burst of 30 per address, then one every 2 s (bounds the password-hashing work); failures back off
  // per address and per address+account pair, so nobody can lock a named account out from elsewhere.
  const signinByIp = createRateLimiter({ capacity: 30, refillPerSecond: 1 / 2 });
  const signinFailures = createSignInThrottle();
  const signupByIp = createRateLimiter({ capacity: 5, refillPerSecond: 1 / 120 });

  /** The double-submit token of forms shown before sign-in, and the cookie to set when it is new. */
  const preToken = (request: Request) => {
    const existing = readCookie(request, PRE_CSRF_COOKIE);
    if (existing && /^[\w-]{32,64}$/.test(existing)) return { token: existing, cookies: [] as string[] };
    const token = randomToken();
    return { token, cookies: [cookie(ctx, request, PRE_CSRF_COOKIE, token, { maxAgeSeconds: 12 * 3600 })] };
  };
  const checkPre = (request: Request, body: unknown) => {
    const c = readCookie(request, PRE_CSRF_COOKIE);
    const f = postedCsrf(body);
    if (!c || !f || !safeEqual(c, f)) throw csrfError();
  };
  const page = async (el: JSX.Element, status: number, cookies: string[]) => {
    const res = await html(el, status);
    for (const c of cookies) res.headers.append("set-cookie", c);
    return res;
  };
  const startSession = async (request: Request, userId: string, ip: string) => {
    const s = await createSession(ctx.db, userId, {
      days: ctx.settings.get("auth.sessionDays"),
      userAgent: request.headers.get("user-agent"),
      ip,
      replacing: readCookie(request, SESSION_COOKIE),
    });
    return sessionCookie(ctx, request, s);
  };
  const afterSignIn = async (userId: string, next: string) => {
    const me = await getMe(ctx.db, { userId, name: "", isAdmin: false, via: "session" });
    return me.onboarded ? next : `/onboarding?next=${encodeURIComponent(next)}`;
  };
  /** The form state of an account form the service refused (bad fields, e-mail taken, wrong setup token). */
  const refusedForm = (err: unknown) => {
    if (err instanceof AppError && ["INVALID_INPUT", "EMAIL_TAKEN", "SETUP_TOKEN_INVALID"].includes(err.code)) {
      const fieldsOf = (err.details.fields ?? {}) as Record<string, string>;
      return { errors: fieldsOf, message: err.message, status: err.status };
    }
    throw err;
  };

  return new Elysia({ name: "auth" })
    .use(httpContext(ctx))
    .get("/setup", async ({ request }) => {
      // Makes sure the token exists (a start without the server's own start-up, as in tests, has none yet).
      if (!(await ensureSetupToken(ctx.db, ctx.config.dataDir))) return seeOther(request, "/signin");
      const pre = preToken(request);
      return page(<SetupPage csrf={pre.token} instanceName={ctx.settings.get("instance.name")} />, 200, pre.cookies);
    })
    .post("/setup", async ({ request, body }) => {
      checkPre(request, body);
      const form = readForm(body);
      const values = {
        name: formText(form, "name"),
        email: formText(form, "email"),
        password: formText(form, "password"),
      };
      try {
        const user = await createFirstAdmin(ctx.db, ctx.config.dataDir, {
          ...values,
          setupToken: formText(form, "setupToken"),
        });
        ctx.log.info("platform admin created", { userId: user.id });
        return seeOther(request, "/onboarding", [await startSession(request, user.id, clientIp(ctx, request))]);
      } catch (err) {
        if (err instanceof AppError && err.code === "SETUP_DONE") return seeOther(request, "/signin");
        const e = refusedForm(err);
        const pre = preToken(request);
        return page(
          <SetupPage
            csrf={pre.token}
            instanceName={ctx.settings.get("instance.name")}
            values={values}
            errors={e.errors}
            flash={{ kind: "error", message: e.message }}
          />,
          e.status,
          pre.cookies,
        );
      }
    })
    .get("/signin", async ({ request, query, principal }) => {
      const next = safeNext(query.next);
      if (await principal()) return seeOther(request, next);
      const pre = preToken(request);
      return page(
        <SignInPage
          csrf={pre.token}
          next={next}
          github={githubConfigured(ctx.settings)}
          signup={ctx.settings.get("auth.localSignup")}
        />,
        200,
        pre.cookies,
      );
    })
    .post("/signin", async ({ request, body }) => {
      checkPre(request, body);
      const ip = clientIp(ctx, request);
      const form = readForm(body);
      const email = formText(form, "email").trim().toLowerCase();
      const next = safeNext(formText(form, "next"));
      signinByIp.take(ip);
      signinFailures.check(ip, email);
      const user = await verifyCredentials(ctx.db, email, formText(form, "password"));
      if (!user) {
        signinFailures.failed(ip, email);
        ctx.log.info("sign-in failed", { ip });
        const pre = preToken(request);
        return page(
          <SignInPage
            csrf={pre.token}
            next={next}
            github={githubConfigured(ctx.settings)}
            signup={ctx.settings.get("auth.localSignup")}
            values={{ email }}
            flash={{ kind: "error", message: "The e-mail or the password is not right." }}
          />,
          401,
          pre.cookies,
        );
      }
      signinFailures.succeeded(ip, email);
      return seeOther(request, await afterSignIn(user.id, next), [await startSession(request, user.id, ip)]);
    })
    .get("/signup", async ({ request }) => {
      if (!ctx.settings.get("auth.localSignup")) return seeOther(request, "/signin");
      const pre = preToken(request);
      return page(<SignUpPage csrf={pre.token} />, 200, pre.cookies);
    })
    .post("/signup", async ({ request, body }) => {
      checkPre(request, body);
      if (!ctx.settings.get("auth.localSignup")) throw forbidden("Sign-up with a password is turned off here.");
      const ip = clientIp(ctx, request);
      signupByIp.take(ip);
      const form = readForm(body);
      const values = {
        name: formText(form, "name"),
        email: formText(form, "email"),
        password: formText(form, "password"),
      };
      try {
        const user = await createLocalUser(ctx.db, values);
        await sendVerificationEmail({ db: ctx.db, masterKey: ctx.masterKey }, user.id);
        return seeOther(request, "/onboarding", [await startSession(request, user.id, ip)]);
      } catch (err) {
        const e = refusedForm(err);
        const pre = preToken(request);
        return page(
          <SignUpPage
            csrf={pre.token}
            values={{ name: values.name, email: values.email }}
            errors={e.errors}
            flash={{ kind: "error", message: e.message }}
          />,
          e.errors.email === "already registered" ? 409 : 400,
          pre.cookies,
        );
      }
    })
    .post("/signout", async ({ request }) => {
      const token = readCookie(request, SESSION_COOKIE);
      if (token) await revokeSessionByToken(ctx.db, token);
      return seeOther(request, "/signin", [clearCookie(ctx, request, SESSION_COOKIE)]);
    })
    .get("/auth/github", async ({ request, query }) => {
      if (!githubConfigured(ctx.settings))
        throw new AppError("UNAVAILABLE", "GitHub sign-in is not configured on this instance.", 503);
      const state = randomToken();
      const next = safeNext(query.next);
      const redirectUri = `${siteOrigin(ctx, request)}/auth/github/callback`;
      return seeOther(request, githubAuthorizeUrl(ctx.settings, redirectUri, state), [
        cookie(ctx, request, OAUTH_STATE_COOKIE, `${state} ${next}`, { maxAgeSeconds: 600, path: "/auth/github" }),
      ]);
    })
    .get("/auth/github/callback", async ({ request, query, principal }) => {
      const ip = clientIp(ctx, request);
      signinByIp.take(ip);
      const saved = readCookie(request, OAUTH_STATE_COOKIE) ?? "";
      const [state, next = "/"] = saved.split(" ");
      const given = typeof query.state === "string" ? query.state : "";
      if (!state || !given || !safeEqual(state, given)) throw csrfError();
      if (typeof query.code !== "string" || !query.code) {
        throw new AppError("GITHUB_ERROR", "GitHub did not grant access.", 400);
      }
      const profile = await fetchGitHubProfile(
        ctx.settings,
        query.code,
        `${siteOrigin(ctx, request)}/auth/github/callback`,
      );
      const current = await principal();
      const linkTo = current?.via === "session" ? current.userId : null;
      // Signing in again with the GitHub account already linked counts as a recent sign-in; linking a new one not.
      const relinked = !!linkTo && (await linkedGitHubId(ctx.db, linkTo)) === profile.id;
      const { user } = await upsertGitHubUser(ctx.db, profile, linkTo);
      const clearState = clearCookie(ctx, request, OAUTH_STATE_COOKIE, "/auth/github");
      if (linkTo) {
        const cookies = relinked ? [await startSession(request, linkTo, ip), clearState] : [clearState];
        return seeOther(request, "/profile", cookies);
      }
      return seeOther(request, await afterSignIn(user.id, safeNext(next)), [
        await startSession(request, user.id, ip),
        clearState,
      ]);
    })
    .get("/onboarding", async ({ request, query, principal }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const me = await getMe(ctx.db, p);
      return html(<OnboardingPage {...pageProps(p)} roles={me.roles} next={safeNext(query.next)} />);
    })
    .post("/onboarding", async ({ request, body, query, principal }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      try {
        await completeOnboarding(ctx.db, p, formList(readForm(body, ["roles"]), "roles"));
      } catch (err) {
        if (!formError(err)) throw err;
        return html(
          <OnboardingPage
            {...pageProps(p)}
            roles={[]}
            next={safeNext(query.next)}
            error="Choose sponsor, contributor or both."
          />,
          400,
        );
      }
      return seeOther(request, safeNext(query.next));
    });
};
