// One-click App setup with GitHub's manifest flow: the appliance describes the App (from its public URL), the
// admin confirms on GitHub (or GitHub Enterprise Server), GitHub redirects back with a code, and the code is
// exchanged for the App's id, private key and secrets, which are stored encrypted like every secret setting.
import { randomBytes } from "node:crypto";
import { and, eq, gt, isNull } from "drizzle-orm";
import type { AppContext, Principal } from "../core/context";
import { AppError, conflict, forbidden, invalidInput } from "../core/errors";
import { requireAdmin } from "../core/context";
import { audit } from "../audit/service";
import { anonymousOctokit, appConfig, githubError } from "./client";
import { githubManifestStates } from "./schema";

/** Permissions the App asks for: read code, comment and check on pull requests, invite collaborators. */
export const APP_PERMISSIONS = {
  contents: "read",
  metadata: "read",
  pull_requests: "write",
  checks: "write",
  issues: "write",
  administration: "write",
  members: "read",
} as const;

/** Events the App subscribes to (installation events come to every App without asking). */
export const APP_EVENTS = ["pull_request", "push", "repository", "member", "membership", "issue_comment"] as const;

const STATE_TTL_MS = 60 * 60_000;

/**
 * The App manifest for this appliance (GitHub's "Registering a GitHub App from a manifest"); `origin` is where
 * GitHub reaches it: the public URL when set, else the address the admin's browser used.
 */
export function buildManifest(ctx: Pick<AppContext, "settings">, origin: string) {
  const publicUrl = origin.replace(/\/+$/, "");
  const name = `${ctx.settings.get("instance.name")}`.slice(0, 34);
  return {
    name,
    url: publicUrl,
    hook_attributes: { url: `${publicUrl}/webhooks/github`, active: true },
    redirect_url: `${publicUrl}/admin/github/callback`,
    callback_urls: [`${publicUrl}/auth/github/callback`],
    public: false,
    default_permissions: APP_PERMISSIONS,
    default_events: [...APP_EVENTS],
  };
}

/** Where the manifest form is posted: the user's or an organization's "new App" page on the configured GitHub. */
export function manifestTarget(ctx: Pick<AppContext, "settings">, org: string, state: string): string {
  const base = appConfig(ctx.settings).baseUrl;
  if (org && !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(org))
    throw invalidInput({ org: "not a GitHub organization name" });
  const path = org ? `/organizations/${org}/settings/apps/new` : "/settings/apps/new";
  return `${base}${path}?state=${encodeURIComponent(state)}`;
}

/** Starts the flow for an admin: a one-time state (CSRF protection of the callback), the manifest and its target. */
export async function startManifest(ctx: AppContext, principal: Principal | null, org: string, origin: string) {
  const p = requireAdmin(principal);
  const manifest = buildManifest(ctx, origin);
  const state = randomBytes(24).toString("base64url");
  const target = manifestTarget(ctx, org.trim(), state);
  await ctx.db
    .insert(githubManifestStates)
    .values({ state, userId: p.userId, expiresAt: new Date(Date.now() + STATE_TTL_MS) });
  return { state, target, manifest: JSON.stringify(manifest) };
}

/** What GitHub returns for a converted manifest (the fields stored). */
interface Conversion {
  id: number;
  slug?: string;
  client_id: string;
  client_secret: string;
  webhook_secret: string | null;
  pem: string;
  html_url?: string;
  owner?: { login?: string } | null;
}

/**
 * Finishes the flow: checks the state (same admin, unused, not expired), exchanges the code with
 * `POST /app-manifests/{code}/conversions` and stores the App's credentials.
 */
export async function finishManifest(ctx: AppContext, principal: Principal | null, code: string, state: string) {
  const p = requireAdmin(principal);
  if (!code || !/^[\w-]{1,200}$/.test(code)) throw invalidInput({ code: "missing or malformed" });
  const used = await ctx.db
    .update(githubManifestStates)
    .set({ usedAt: new Date() })
    .where(
      and(
        eq(githubManifestStates.state, state),
        eq(githubManifestStates.userId, p.userId),
        isNull(githubManifestStates.usedAt),
        gt(githubManifestStates.expiresAt, new Date()),
      ),
    )
    .returning({ state: githubManifestStates.state });
  if (used.length === 0) {
    throw forbidden(
      "This GitHub App setup link is not valid (expired, used, or started by someone else): start again.",
    );
  }
  let data: Conversion;
  try {
    const res = await anonymousOctokit(appConfig(ctx.settings).apiUrl).request(
      "POST /app-manifests/{code}/conversions",
      {
        code,
      },
    );
    data = res.data as unknown as Conversion;
  } catch (err) {
    throw githubError(err, "convert the App manifest");
  }
  if (!data?.id || !data.pem) throw new AppError("GITHUB_ERROR", "GitHub's answer has no App id or private key.", 502);
  const changed = await ctx.settings.update(
    {
      "github.appId": String(data.id),
      "github.appSlug": data.slug ?? "",
      "github.clientId": data.client_id ?? "",
      "github.clientSecret": data.client_secret ?? "",
      "github.privateKey": data.pem,
      "github.webhookSecret": data.webhook_secret ?? "",
    },
    p.userId,
  );
  if (!data.webhook_secret)
    throw conflict("GitHub returned no webhook secret: enter one in Settings → GitHub.", "GITHUB_NO_WEBHOOK_SECRET");
  await audit(ctx.db, {
    actorId: p.userId,
    action: "github.app.created",
    targetType: "settings",
    targetId: null,
    payload: { appId: data.id, slug: data.slug ?? null, owner: data.owner?.login ?? null, keys: changed },
  });
  ctx.log.info("github app created from manifest", { appId: data.id, slug: data.slug, by: p.userId });
  return { appId: data.id, slug: data.slug ?? "", htmlUrl: data.html_url ?? "" };
}

/** The URL where the App is installed on accounts and repositories. */
export function installUrl(ctx: Pick<AppContext, "settings">): string {
  const slug = ctx.settings.get("github.appSlug");
  const base = appConfig(ctx.settings).baseUrl;
  return slug ? `${base}/apps/${slug}/installations/new` : "";
}
