// The one way to GitHub: octokit with App authentication (a JWT signed with the App's private key), installation
// tokens cached until shortly before they expire, and the configured API URL (GitHub Enterprise Server:
// https://HOST/api/v3) on every call. Tokens stay in this process: nothing logs or stores them.
import { createHash } from "node:crypto";
import { App, Octokit } from "octokit";
import { AppError } from "../core/errors";
import type { SettingsService } from "../core/settings/service";

/** The App's settings as one value. */
export interface GitHubAppConfig {
  baseUrl: string;
  apiUrl: string;
  appId: string;
  privateKey: string;
  webhookSecret: string;
  clientId: string;
  clientSecret: string;
}

const trim = (s: string) => s.replace(/\/+$/, "");

/** Reads the GitHub settings. */
export function appConfig(settings: SettingsService): GitHubAppConfig {
  return {
    baseUrl: trim(settings.get("github.baseUrl")),
    apiUrl: trim(settings.get("github.apiUrl")),
    appId: settings.get("github.appId"),
    privateKey: settings.get("github.privateKey"),
    webhookSecret: settings.get("github.webhookSecret"),
    clientId: settings.get("github.clientId"),
    clientSecret: settings.get("github.clientSecret"),
  };
}

/** Whether an App (id and private key) is configured. */
export const appConfigured = (settings: SettingsService) =>
  !!settings.get("github.appId") && !!settings.get("github.privateKey");

/** The error every GitHub call failure becomes: the status and GitHub's message, never a token. */
export function githubError(err: unknown, what: string): AppError {
  if (err instanceof AppError) return err;
  const e = err as { status?: number; message?: string; response?: { data?: { message?: string } } };
  const why = e.response?.data?.message ?? e.message ?? String(err);
  const status = typeof e.status === "number" ? e.status : 0;
  return new AppError(
    "GITHUB_ERROR",
    `GitHub refused to ${what}${status ? ` (HTTP ${status})` : ""}: ${why}`.slice(0, 500),
    502,
    { status },
    { cause: err },
  );
}

// Tokens are renewed this long before GitHub's expires_at, so a call never starts with a token about to expire.
const TOKEN_MARGIN_MS = 5 * 60_000;

/** An octokit without credentials on the configured API URL (the manifest conversion needs no auth). */
export function anonymousOctokit(apiUrl: string): Octokit {
  return new Octokit({ baseUrl: trim(apiUrl), retry: { enabled: false }, throttle: { enabled: false } });
}

/** The GitHub App client: App-authenticated calls and installation clients with cached tokens. */
export class GitHubClient {
  private cachedApp?: { fingerprint: string; app: App };
  private tokens = new Map<number, { token: string; expiresAt: number; fingerprint: string }>();
  /** Installation tokens fetched from GitHub (the cache's misses), for the doctor and tests. */
  tokenFetches = 0;

  constructor(private readonly settings: SettingsService) {}

  /** The current settings, refusing with a clear message when no App is configured. */
  config(): GitHubAppConfig {
    const c = appConfig(this.settings);
    if (!c.appId || !c.privateKey) {
      throw new AppError(
        "GITHUB_NOT_CONFIGURED",
        "No GitHub App is configured: create one from Settings → GitHub, or enter its id and private key.",
        409,
      );
    }
    return c;
  }

  private fingerprint(c: GitHubAppConfig) {
    return createHash("sha256").update(`${c.apiUrl}\n${c.appId}\n${c.privateKey}`).digest("hex");
  }

  /** The octokit App for the current settings (rebuilt when the id, key or API URL change). */
  app(): App {
    const c = this.config();
    const fingerprint = this.fingerprint(c);
    if (this.cachedApp?.fingerprint !== fingerprint) {
      const app = new App({
        appId: c.appId,
        privateKey: c.privateKey,
        Octokit: Octokit.defaults({ baseUrl: c.apiUrl, retry: { enabled: false }, throttle: { enabled: false } }),
      });
      this.cachedApp = { fingerprint, app };
      this.tokens.clear();
    }
    return this.cachedApp.app;
  }

  /** An octokit authenticated as the App itself (JWT): GET /app, installations, installation tokens. */
  appOctokit(): Octokit {
    return this.app().octokit as unknown as Octokit;
  }

  /** An installation access token, from the cache while it has more than a few minutes left. */
  async installationToken(installationId: number): Promise<string> {
    const fingerprint = this.fingerprint(this.config());
    const hit = this.tokens.get(installationId);
    if (hit && hit.fingerprint === fingerprint && hit.expiresAt - TOKEN_MARGIN_MS > Date.now()) return hit.token;
    try {
      const res = await this.appOctokit().request("POST /app/installations/{installation_id}/access_tokens", {
        installation_id: installationId,
      });
      this.tokenFetches++;
      const expiresAt = Date.parse(res.data.expires_at);
      this.tokens.set(installationId, { token: res.data.token, expiresAt, fingerprint });
      return res.data.token;
    } catch (err) {
      throw githubError(err, `issue a token for installation ${installationId}`);
    }
  }

  /** Forgets a cached token (after GitHub refused it, or the installation went away). */
  forgetToken(installationId: number) {
    this.tokens.delete(installationId);
  }

  /** An octokit acting as one installation of the App. */
  async installation(installationId: number): Promise<Octokit> {
    const c = this.config();
    const token = await this.installationToken(installationId);
    return new Octokit({ auth: token, baseUrl: c.apiUrl, retry: { enabled: false }, throttle: { enabled: false } });
  }
}

const clients = new WeakMap<SettingsService, GitHubClient>();

/** The App client of an appliance (one per settings service, so its token cache lives as long as the app). */
export function githubClient(ctx: { settings: SettingsService }): GitHubClient {
  let c = clients.get(ctx.settings);
  if (!c) {
    c = new GitHubClient(ctx.settings);
    clients.set(ctx.settings, c);
  }
  return c;
}
