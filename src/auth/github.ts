// GitHub sign-in (OAuth web flow) against a configurable base URL, so GitHub Enterprise Server works too.
import { and, eq, isNull } from "drizzle-orm";
import { audit } from "../audit/service";
import type { SettingsService } from "../core/settings/service";
import type { Db } from "../core/db";
import { AppError, conflict, unavailable } from "../core/errors";
import { users } from "../users/schema";
import { normalizeEmail } from "./service";

/** What we keep from GitHub's `/user` and `/user/emails`. */
export interface GitHubProfile {
  id: string;
  login: string;
  name: string | null;
  avatarUrl: string | null;
  /** The primary address, only when GitHub says it is verified. */
  verifiedEmail: string | null;
}

const trimSlash = (s: string) => s.replace(/\/+$/, "");

/** Whether an admin configured GitHub sign-in. */
export const githubConfigured = (settings: SettingsService) =>
  !!settings.get("github.clientId") && !!settings.get("github.clientSecret");

/** The URL that sends the browser to GitHub's consent page. */
export function githubAuthorizeUrl(settings: SettingsService, redirectUri: string, state: string): string {
  const u = new URL(`${trimSlash(settings.get("github.baseUrl"))}/login/oauth/authorize`);
  u.searchParams.set("client_id", settings.get("github.clientId"));
  u.searchParams.set("redirect_uri", redirectUri);
  u.searchParams.set("scope", "read:user user:email");
  u.searchParams.set("state", state);
  u.searchParams.set("allow_signup", "true");
  return u.toString();
}

async function getJson(url: string, init: RequestInit): Promise<any> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw unavailable("GitHub could not be reached.", { reason: (err as Error).name });
  }
  if (!res.ok) throw new AppError("GITHUB_ERROR", `GitHub answered ${res.status}.`, 502);
  return res.json();
}

/** Exchanges the callback's code for a token and reads the profile. The token is used once and dropped. */
export async function fetchGitHubProfile(
  settings: SettingsService,
  code: string,
  redirectUri: string,
): Promise<GitHubProfile> {
  const token = await getJson(`${trimSlash(settings.get("github.baseUrl"))}/login/oauth/access_token`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      client_id: settings.get("github.clientId"),
      client_secret: settings.get("github.clientSecret"),
      code,
      redirect_uri: redirectUri,
    }),
  });
  if (typeof token?.access_token !== "string") {
    throw new AppError("GITHUB_ERROR", "GitHub refused the sign-in code; try again.", 400, {
      reason: String(token?.error ?? ""),
    });
  }
  const api = trimSlash(settings.get("github.apiUrl"));
  const headers = {
    accept: "application/vnd.github+json",
    authorization: `Bearer ${token.access_token}`,
    "user-agent": "devsponsor",
  };
  const user = await getJson(`${api}/user`, { headers });
  let verifiedEmail: string | null = null;
  try {
    const emails = (await getJson(`${api}/user/emails`, { headers })) as {
      email: string;
      primary: boolean;
      verified: boolean;
    }[];
    verifiedEmail = emails.find((e) => e.primary && e.verified)?.email ?? null;
  } catch {
    // The emails endpoint is optional (scope refused, or an Enterprise server without it): go on without.
  }
  if (user?.id === undefined || typeof user.login !== "string")
    throw new AppError("GITHUB_ERROR", "GitHub sent no profile.", 502);
  return {
    id: String(user.id),
    login: user.login,
    name: typeof user.name === "string" && user.name.trim() ? user.name.trim().slice(0, 100) : null,
    avatarUrl: typeof user.avatar_url === "string" ? user.avatar_url : null,
    verifiedEmail: verifiedEmail ? normalizeEmail(verifiedEmail) : null,
  };
}

/** The GitHub id linked to an account, if any. */
export async function linkedGitHubId(db: Db, userId: string): Promise<string | null> {
  const [u] = await db.select({ githubId: users.githubId }).from(users).where(eq(users.id, userId));
  return u?.githubId ?? null;
}

/**
 * Finds or creates the account for a GitHub profile. A signed-in user (`linkTo`) gets GitHub linked to their
 * account. An existing account is never taken over by e-mail: the owner must sign in and link GitHub.
 */
export async function upsertGitHubUser(db: Db, profile: GitHubProfile, linkTo?: string | null) {
  return db.transaction(async (tx) => {
    const [byGithub] = await tx.select().from(users).where(eq(users.githubId, profile.id));
    if (linkTo) {
      if (byGithub && byGithub.id !== linkTo) {
        throw conflict("This GitHub account is already linked to another DevSponsor account.", "GITHUB_LINKED");
      }
      const [u] = await tx
        .update(users)
        .set({ githubId: profile.id, githubLogin: profile.login, avatarUrl: profile.avatarUrl, updatedAt: new Date() })
        .where(and(eq(users.id, linkTo), isNull(users.deletedAt)))
        .returning();
      await audit(tx, {
        actorId: u.id,
        action: "user.github.link",
        targetType: "user",
        targetId: u.id,
        payload: { githubId: profile.id },
      });
      return { user: u, created: false };
    }
    if (byGithub) {
      const [u] = await tx
        .update(users)
        .set({ githubLogin: profile.login, avatarUrl: profile.avatarUrl, updatedAt: new Date() })
        .where(eq(users.id, byGithub.id))
        .returning();
      return { user: u, created: false };
    }
    if (profile.verifiedEmail) {
      const [byEmail] = await tx.select({ id: users.id }).from(users).where(eq(users.email, profile.verifiedEmail));
      if (byEmail) {
        throw conflict(
          "An account with this e-mail already exists. Sign in with your password, then connect GitHub from your profile.",
          "EMAIL_TAKEN",
        );
      }
    }
    const [u] = await tx
      .insert(users)
      .values({
        name: profile.name ?? profile.login,
        email: profile.verifiedEmail,
        emailVerified: !!profile.verifiedEmail,
        githubId: profile.id,
        githubLogin: profile.login,
        avatarUrl: profile.avatarUrl,
      })
      .returning();
    await audit(tx, {
      actorId: u.id,
      action: "user.create",
      targetType: "user",
      targetId: u.id,
      payload: { method: "github", githubId: profile.id },
    });
    return { user: u, created: true };
  });
}
