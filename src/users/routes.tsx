import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { githubConfigured } from "../auth/github";
import { clearCookie, clientIp, SESSION_COOKIE, safeNext, sessionCookie, siteOrigin } from "../auth/http";
import {
  changePassword,
  createApiKey,
  createSession,
  listApiKeys,
  listSessions,
  RECENT_SIGN_IN_MS,
  reauthenticate,
  revokeApiKey,
  revokeSession,
} from "../auth/service";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { AppError, forbidden } from "../core/errors";
import { formList, formText, pageProps, parseForm, readFlash, readForm, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { DeleteAccountRequest } from "./model";
import {
  createWalletChallenge,
  deleteAccount,
  exportUserData,
  getMe,
  linkWallet,
  listWallets,
  removeWallet,
  setPayoutWallet,
  updateMe,
} from "./service";
import { type ProfileExtras, ProfilePage } from "./views";

const FLASH: Record<string, string> = {
  saved: "Profile saved.",
  wallet: "Wallet linked.",
  payout: "Payout address changed.",
  unlinked: "Wallet unlinked.",
  revoked: "Revoked.",
  confirmed: "Thanks: you can change wallets for the next few minutes.",
  password: "Password changed. Every other browser was signed out.",
};

/** Where the wallet forms return to when they are done (a task page sent the user here): a local path, or none. */
function returnTo(value: unknown): string | undefined {
  const next = safeNext(value);
  return next === "/" || next.startsWith("/profile") ? undefined : next;
}

/** `/profile?…` keeping the page to return to. */
function profileUrl(query: string, next: string | undefined): string {
  return `/profile?${query}${next ? `&next=${encodeURIComponent(next)}` : ""}`;
}

/** Only a browser session may mint keys or delete the account: a leaked key must not be able to. */
function requireSession(p: Principal | null): Principal {
  const user = requireUser(p);
  if (user.via !== "session") throw forbidden("Do this from your browser session, not with an API key.");
  return user;
}

/** Profile page and the `/api/me` family (spec §5.2): profile, wallets, API keys, sessions, export, deletion. */
export const userRoutes = (ctx: AppContext) => {
  // SIWE messages name this instance's chain: the embedded dev chain's (always 31337) or the configured node's
  const chainId = () =>
    ctx.chain?.conn.chain.id ?? (ctx.settings.get("chain.mode") === "dev" ? 31337 : ctx.settings.get("chain.chainId"));
  const site = (request: Request) => {
    const origin = siteOrigin(ctx, request);
    return { domain: new URL(origin).host, uri: origin };
  };
  const profilePage = async (p: Principal, extras: ProfileExtras = {}, status = 200) => {
    const [me, wallets, apiKeys, sessions] = await Promise.all([
      getMe(ctx.db, p),
      listWallets(ctx.db, p),
      listApiKeys(ctx.db, p.userId),
      listSessions(ctx.db, p.userId),
    ]);
    const data = {
      me,
      wallets,
      apiKeys,
      sessions,
      currentSessionId: p.sessionId,
      recentSignIn: !!p.authenticatedAt && Date.now() - p.authenticatedAt.getTime() <= RECENT_SIGN_IN_MS,
      githubAvailable: githubConfigured(ctx.settings),
      chainId: chainId(),
    };
    return html(<ProfilePage {...pageProps(p)} data={data} {...extras} />, status);
  };
  const onInvalid = async (p: Principal, err: unknown, extras: ProfileExtras = {}) => {
    if (
      !(err instanceof AppError) ||
      !["INVALID_INPUT", "WALLET_TAKEN", "LAST_OWNER", "LAST_ADMIN", "REAUTH_REQUIRED"].includes(err.code)
    )
      throw err;
    return profilePage(
      p,
      {
        ...extras,
        errors: (err.details.fields ?? {}) as Record<string, string>,
        flash: { kind: "error", message: err.message },
      },
      err.status,
    );
  };
  const sessionOpts = (request: Request) => ({
    days: ctx.settings.get("auth.sessionDays"),
    userAgent: request.headers.get("user-agent"),
    ip: clientIp(ctx, request),
  });
  // A password change signs every session out, this one too: the browser gets a fresh one (rotation).
  const changePasswordAndRotate = async (request: Request, p: Principal, form: Record<string, string>) => {
    const input = { currentPassword: formText(form, "currentPassword"), newPassword: formText(form, "newPassword") };
    await changePassword(ctx.db, p, input);
    return createSession(ctx.db, p.userId, sessionOpts(request));
  };
  const exportResponse = async (p: Principal) =>
    new Response(JSON.stringify(await exportUserData(ctx, p), null, 2), {
      headers: {
        "content-type": "application/json; charset=utf-8",
        "content-disposition": 'attachment; filename="devsponsor-export.json"',
        "cache-control": "no-store",
      },
    });

  return (
    new Elysia({ name: "users" })
      .use(httpContext(ctx))
      .get("/profile", async ({ request, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return profilePage(p, { flash: readFlash(query, FLASH), next: returnTo(query.next) });
      })
      .post("/profile", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body, ["roles"]);
        try {
          // An unchecked box sends nothing: the form always states name, roles and the preference in full.
          await updateMe(ctx.db, p, {
            name: formText(form, "name"),
            roles: formList(form, "roles"),
            preferences: { emailNotifications: formText(form, "emailNotifications") === "true" },
          });
        } catch (err) {
          return onInvalid(p, err);
        }
        return seeOther(request, "/profile?done=saved");
      })
      .post("/profile/wallets/challenge", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        try {
          // Validated by the service with WalletChallengeRequest (a missing chain id means this instance's).
          const form = readForm(body);
          const c = await createWalletChallenge(
            ctx.db,
            p,
            { ...form, chainId: form.chainId || chainId() },
            site(request),
          );
          return profilePage(p, { challenge: { message: c.message }, next: returnTo(form.next) });
        } catch (err) {
          return onInvalid(p, err, { next: returnTo(readForm(body).next) });
        }
      })
      .post("/profile/wallets", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        const next = returnTo(form.next);
        try {
          // Validated by the service with WalletLinkRequest, after its recent sign-in check.
          await linkWallet(ctx.db, p, form, site(request));
        } catch (err) {
          return onInvalid(p, err, { next });
        }
        // Sent here by a task page to add a payout wallet: back to it.
        return seeOther(request, next ?? "/profile?done=wallet");
      })
      .post("/profile/wallets/:walletId/payout", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        try {
          await setPayoutWallet(ctx.db, p, params.walletId);
        } catch (err) {
          return onInvalid(p, err);
        }
        return seeOther(request, "/profile?done=payout");
      })
      .post("/profile/wallets/:walletId/remove", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        try {
          await removeWallet(ctx.db, p, params.walletId);
        } catch (err) {
          return onInvalid(p, err);
        }
        return seeOther(request, "/profile?done=unlinked");
      })
      .post("/profile/reauthenticate", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        const next = returnTo(form.next);
        try {
          const s = await reauthenticate(ctx.db, p, formText(form, "password"), sessionOpts(request));
          return seeOther(request, `${profileUrl("done=confirmed", next)}#wallets`, [sessionCookie(ctx, request, s)]);
        } catch (err) {
          return onInvalid(p, err, { next });
        }
      })
      .post("/profile/password", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        try {
          const s = await changePasswordAndRotate(request, p, readForm(body));
          return seeOther(request, "/profile?done=password", [sessionCookie(ctx, request, s)]);
        } catch (err) {
          return onInvalid(p, err);
        }
      })
      .post("/profile/api-keys", async ({ body, principal }) => {
        const p = requireSession(await principal());
        try {
          const form = readForm(body, ["scopes"]);
          const days = formText(form, "expiresInDays");
          const { key } = await createApiKey(ctx.db, p.userId, {
            name: formText(form, "name"),
            scopes: formList(form, "scopes"),
            expiresInDays: days ? Number(days) : null,
          });
          return profilePage(p, { newKey: key }, 201);
        } catch (err) {
          return onInvalid(p, err);
        }
      })
      .post("/profile/api-keys/:keyId/revoke", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        await revokeApiKey(ctx.db, p.userId, params.keyId);
        return seeOther(request, "/profile?done=revoked");
      })
      .post("/profile/sessions/:sessionId/revoke", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        await revokeSession(ctx.db, p.userId, params.sessionId);
        return seeOther(request, "/profile?done=revoked");
      })
      .get("/profile/export", async ({ request, principal }) => {
        const p = await principal();
        // back to the profile after signing in, not to a bare download
        if (!p) return seeOther(request, "/signin?next=/profile");
        return exportResponse(p);
      })
      .post("/profile/delete", async ({ request, body, principal }) => {
        const p = requireSession(await principal());
        const form = parseForm(DeleteAccountRequest, body);
        if (!form.ok)
          return profilePage(p, { errors: form.errors, flash: { kind: "error", message: form.message } }, 400);
        try {
          await deleteAccount(ctx, p);
        } catch (err) {
          return onInvalid(p, err);
        }
        return seeOther(request, "/signin", [clearCookie(ctx, request, SESSION_COOKIE)]);
      })
      // JSON API
      .get("/api/me", async ({ principal }) => getMe(ctx.db, await principal()), {
        detail: { summary: "The caller's profile", tags: ["me"] },
      })
      .patch("/api/me", async ({ body, principal }) => updateMe(ctx.db, await principal(), body), {
        detail: {
          summary: "Change name, roles (SPONSOR, CONTRIBUTOR) or preferences ({ emailNotifications })",
          tags: ["me"],
        },
      })
      .get("/api/me/export", async ({ principal }) => exportResponse(requireUser(await principal())), {
        detail: { summary: "Everything stored about the caller, as JSON (GDPR export)", tags: ["me"] },
      })
      .delete(
        "/api/me",
        async ({ principal, set }) => {
          await deleteAccount(ctx, requireSession(await principal()));
          set.status = 204;
          return null;
        },
        {
          body: DeleteAccountRequest,
          detail: {
            summary: 'Delete the caller\'s account (body { "confirm": "DELETE" }; browser session only)',
            tags: ["me"],
          },
        },
      )
      .get("/api/me/wallets", async ({ principal }) => ({ wallets: await listWallets(ctx.db, await principal()) }), {
        detail: { summary: "The caller's linked wallets", tags: ["me"] },
      })
      .post(
        "/api/me/wallets/challenge",
        async ({ request, body, principal }) =>
          createWalletChallenge(ctx.db, await principal(), { chainId: chainId(), ...(body as object) }, site(request)),
        {
          detail: {
            summary:
              "Get the EIP-4361 message to sign for an address ({ address, chainId }; the chain id defaults to this instance's)",
            tags: ["me"],
          },
        },
      )
      .post(
        "/api/me/wallets",
        async ({ request, body, principal, set }) => {
          const w = await linkWallet(ctx.db, await principal(), body, site(request));
          set.status = 201;
          return w;
        },
        {
          detail: { summary: "Link a wallet with the signed EIP-4361 message ({ message, signature })", tags: ["me"] },
        },
      )
      .post(
        "/api/me/wallets/:walletId/payout",
        async ({ params, principal }) => setPayoutWallet(ctx.db, await principal(), params.walletId),
        {
          detail: { summary: "Use this wallet for payouts", tags: ["me"] },
        },
      )
      .delete(
        "/api/me/wallets/:walletId",
        async ({ params, principal, set }) => {
          await removeWallet(ctx.db, await principal(), params.walletId);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Unlink a wallet", tags: ["me"] } },
      )
      .post(
        "/api/me/reauthenticate",
        async ({ request, body, principal, set }) => {
          const password = formText(readForm(body), "password");
          const s = await reauthenticate(ctx.db, await principal(), password, sessionOpts(request));
          set.headers["set-cookie"] = sessionCookie(ctx, request, s);
          return { csrfToken: s.csrfToken, expiresAt: s.expiresAt };
        },
        {
          detail: {
            summary:
              "Confirm the password ({ password }) before wallet changes; the session is replaced (new cookie and csrfToken)",
            tags: ["me"],
          },
        },
      )
      .post(
        "/api/me/password",
        async ({ request, body, principal, set }) => {
          const s = await changePasswordAndRotate(request, requireUser(await principal()), readForm(body));
          set.headers["set-cookie"] = sessionCookie(ctx, request, s);
          return { csrfToken: s.csrfToken, expiresAt: s.expiresAt };
        },
        {
          detail: {
            summary:
              "Change the password ({ currentPassword, newPassword }); every session is signed out and this browser gets a new one",
            tags: ["me"],
          },
        },
      )
      .get(
        "/api/me/api-keys",
        async ({ principal }) => ({ apiKeys: await listApiKeys(ctx.db, requireUser(await principal()).userId) }),
        {
          detail: { summary: "The caller's API keys (never the keys themselves)", tags: ["me"] },
        },
      )
      .post(
        "/api/me/api-keys",
        async ({ body, principal, set }) => {
          const p = requireSession(await principal());
          const b = (body ?? {}) as Record<string, unknown>;
          const r = await createApiKey(ctx.db, p.userId, {
            name: String(b.name ?? ""),
            scopes: Array.isArray(b.scopes) ? b.scopes.map(String) : [],
            expiresInDays: typeof b.expiresInDays === "number" ? b.expiresInDays : null,
          });
          set.status = 201;
          return r;
        },
        {
          detail: {
            summary:
              "Create an API key ({ name, scopes, expiresInDays }); the key is returned once (browser session only)",
            tags: ["me"],
          },
        },
      )
      .delete(
        "/api/me/api-keys/:keyId",
        async ({ params, principal, set }) => {
          await revokeApiKey(ctx.db, requireUser(await principal()).userId, params.keyId);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Revoke an API key", tags: ["me"] } },
      )
      .get(
        "/api/me/sessions",
        async ({ principal }) => ({ sessions: await listSessions(ctx.db, requireUser(await principal()).userId) }),
        {
          detail: { summary: "The caller's signed-in browsers", tags: ["me"] },
        },
      )
      .delete(
        "/api/me/sessions/:sessionId",
        async ({ params, principal, set }) => {
          await revokeSession(ctx.db, requireUser(await principal()).userId, params.sessionId);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Sign a browser out", tags: ["me"] } },
      )
  );
};
