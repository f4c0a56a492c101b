// Pages and JSON API of e-mail verification and password reset (the flows are in account-email.ts).
import { Elysia } from "elysia";
import { z } from "zod";
import { html } from "../../ui/layout";
import { type AppContext, requireUser } from "../core/context";
import { safeEqual } from "../core/crypto";
import { AppError } from "../core/errors";
import { formText, pageProps, readForm } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { createRateLimiter } from "../core/http/rate-limit";
import {
  checkNewPassword,
  peekToken,
  requestPasswordReset,
  resendVerificationEmail,
  resetPassword,
  verifyEmail,
} from "./account-email";
import { AccountMessagePage, ForgotPasswordPage, ResetPasswordPage } from "./account-views";
import { clientIp, cookie, PRE_CSRF_COOKIE, readCookie } from "./http";
import { normalizeEmail, randomToken } from "./service";
import { createSignInThrottle } from "./throttle";

const csrfError = () =>
  new AppError(
    "CSRF_FAILED",
    "This form has expired or did not come from this site; reload the page and try again.",
    403,
  );

const FORGOT_DONE =
  "If an account uses this address, an e-mail with a link to choose a new password was queued for it. The link works for one hour.";

/** E-mail verification and password reset: pages, and the same flows as JSON. */
export const accountEmailRoutes = (ctx: AppContext) => {
  // Reset requests: each one counts as a "failure" of the sign-in throttle, per client address (20 free) and per
  // address and account (3 free), then a wait that doubles from a minute.
  const resetRequests = createSignInThrottle({ pairFreeFailures: 3, addressFreeFailures: 20, baseMs: 60_000 });
  // Setting a password hashes it: a burst of 10 per client address, then one every 6 s.
  const resetsByIp = createRateLimiter({ capacity: 10, refillPerSecond: 1 / 6 });
  const resendsByUser = createRateLimiter({ capacity: 3, refillPerSecond: 1 / 60 });
  const deps = { db: ctx.db, masterKey: ctx.masterKey };

  const preToken = (request: Request) => {
    const existing = readCookie(request, PRE_CSRF_COOKIE);
    if (existing && /^[\w-]{32,64}$/.test(existing)) return { token: existing, cookies: [] as string[] };
    const token = randomToken();
    return { token, cookies: [cookie(ctx, request, PRE_CSRF_COOKIE, token, { maxAgeSeconds: 12 * 3600 })] };
  };
  const checkPre = (request: Request, form: Record<string, unknown>) => {
    const c = readCookie(request, PRE_CSRF_COOKIE);
    const f = typeof (form as { _csrf?: unknown })._csrf === "string" ? (form as { _csrf: string })._csrf : "";
    if (!c || !f || !safeEqual(c, f)) throw csrfError();
  };
  const page = async (el: JSX.Element, status: number, cookies: string[] = []) => {
    const res = await html(el, status);
    for (const c of cookies) res.headers.append("set-cookie", c);
    return res;
  };
  const askReset = async (request: Request, email: string) => {
    const ip = clientIp(ctx, request);
    const account = normalizeEmail(email);
    resetRequests.check(ip, account);
    resetRequests.failed(ip, account);
    // Not awaited: the answer must take as long whether or not the address has an account.
    void requestPasswordReset(deps, account).catch((err) => ctx.log.error("password reset request failed", { err }));
  };
  const linkGone = (err: unknown) => err instanceof AppError && err.code === "TOKEN_INVALID";

  return (
    new Elysia({ name: "account-email" })
      .use(httpContext(ctx))
      .get("/password/forgot", async ({ request, principal }) => {
        const pre = preToken(request);
        const p = await principal();
        return page(<ForgotPasswordPage csrf={pre.token} viewer={p ? pageProps(p).viewer : null} />, 200, pre.cookies);
      })
      .post("/password/forgot", async ({ request, body }) => {
        checkPre(request, body as Record<string, unknown>);
        const email = formText(readForm(body), "email").trim();
        await askReset(request, email);
        const pre = preToken(request);
        return page(
          <ForgotPasswordPage csrf={pre.token} email={email} flash={{ kind: "success", message: FORGOT_DONE }} />,
          200,
          pre.cookies,
        );
      })
      .get("/password/reset", async ({ request, query }) => {
        const token = typeof query.token === "string" ? query.token : "";
        try {
          await peekToken(deps, token, "RESET_PASSWORD");
        } catch (err) {
          if (!linkGone(err)) throw err;
          return page(
            <AccountMessagePage
              title="Link expired"
              kind="error"
              message={(err as AppError).message}
              next={{ href: "/password/forgot", label: "Ask for a new link" }}
            />,
            400,
          );
        }
        const pre = preToken(request);
        return page(<ResetPasswordPage csrf={pre.token} token={token} />, 200, pre.cookies);
      })
      .post("/password/reset", async ({ request, body }) => {
        checkPre(request, body as Record<string, unknown>);
        resetsByIp.take(clientIp(ctx, request));
        const form = readForm(body);
        const token = formText(form, "token");
        try {
          await resetPassword(deps, { token, password: formText(form, "password") });
        } catch (err) {
          if (linkGone(err)) {
            return page(
              <AccountMessagePage
                title="Link expired"
                kind="error"
                message={(err as AppError).message}
                next={{ href: "/password/forgot", label: "Ask for a new link" }}
              />,
              400,
            );
          }
          if (!(err instanceof AppError && err.code === "INVALID_INPUT")) throw err;
          const pre = preToken(request);
          const errors = (err.details.fields ?? {}) as Record<string, string>;
          return page(<ResetPasswordPage csrf={pre.token} token={token} errors={errors} />, 400, pre.cookies);
        }
        return page(
          <AccountMessagePage
            title="Password changed"
            kind="success"
            message="Your new password is set and every browser was signed out. Sign in with the new password."
            next={{ href: "/signin", label: "Sign in" }}
          />,
          200,
        );
      })
      .get("/verify-email", async ({ query, principal }) => {
        const p = await principal();
        const props = p ? { viewer: pageProps(p).viewer, csrf: p.csrfToken } : {};
        try {
          const r = await verifyEmail(deps, typeof query.token === "string" ? query.token : "");
          return page(
            <AccountMessagePage
              {...props}
              title="Address confirmed"
              kind="success"
              message={`${r.email} is confirmed.`}
              next={p ? { href: "/", label: "Continue" } : { href: "/signin", label: "Sign in" }}
            />,
            200,
          );
        } catch (err) {
          if (!linkGone(err)) throw err;
          return page(
            <AccountMessagePage
              {...props}
              title="Link expired"
              kind="error"
              message={`${(err as AppError).message} Signed in, the banner at the top of every page sends a new one.`}
              next={p ? { href: "/", label: "Continue" } : { href: "/signin", label: "Sign in" }}
            />,
            400,
          );
        }
      })
      .post("/verify-email/resend", async ({ principal }) => {
        const p = requireUser(await principal());
        resendsByUser.take(p.userId);
        const r = await resendVerificationEmail(deps, p);
        return page(
          <AccountMessagePage
            {...pageProps(p)}
            csrf={p.csrfToken}
            title="Confirm your address"
            kind="success"
            message={`A new confirmation link was queued for ${r.email}. It works once, for 24 hours.`}
            next={{ href: "/", label: "Continue" }}
          />,
          200,
        );
      })
      // JSON API
      .post(
        "/api/auth/password/forgot",
        async ({ request, body, set }) => {
          await askReset(request, body.email);
          set.status = 202;
          return { ok: true, message: FORGOT_DONE };
        },
        {
          body: z.object({ email: z.string().max(254) }),
          detail: {
            summary: "Ask for a password-reset link (the answer is the same whether or not the address has an account)",
            tags: ["auth"],
          },
        },
      )
      .post(
        "/api/auth/password/reset",
        async ({ request, body }) => {
          resetsByIp.take(clientIp(ctx, request));
          const errors = checkNewPassword(body.password);
          if (Object.keys(errors).length)
            throw new AppError("INVALID_INPUT", "Use 10 to 256 characters.", 400, { fields: errors });
          await resetPassword(deps, body);
          return { ok: true };
        },
        {
          body: z.object({ token: z.string().max(200), password: z.string().max(256) }),
          detail: { summary: "Set a new password with the token of a reset link; every session ends", tags: ["auth"] },
        },
      )
      .post(
        "/api/auth/email/verify",
        async ({ body }) => {
          const r = await verifyEmail(deps, body.token);
          return { ok: true, email: r.email };
        },
        {
          body: z.object({ token: z.string().max(200) }),
          detail: { summary: "Confirm an e-mail address with the token of a verification link", tags: ["auth"] },
        },
      )
      .post(
        "/api/me/email/verification",
        async ({ principal, set }) => {
          const p = requireUser(await principal());
          resendsByUser.take(p.userId);
          const r = await resendVerificationEmail(deps, p);
          set.status = 202;
          return { ok: true, email: r.email };
        },
        { detail: { summary: "Queue a new verification link for the caller's address", tags: ["users"] } },
      )
  );
};
