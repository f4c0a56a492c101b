// The doctor's GitHub check once an App is configured: the JWT is accepted (GET /app), the App is installed
// somewhere, and webhooks can be verified. Without an App it falls back to the reachability check.
import type { AppContext } from "../core/context";
import { appConfigured, githubClient } from "../github/client";
import { installUrl } from "../github/manifest";
import type { CheckResult } from "./checks";

type Result = Omit<CheckResult, "name">;

/** Checks the configured GitHub App; `basic` is the plain reachability check used when no App is set. */
export async function checkGitHubApp(ctx: AppContext, basic: (ctx: AppContext) => Promise<Result>): Promise<Result> {
  if (!appConfigured(ctx.settings)) return basic(ctx);
  const client = githubClient(ctx);
  const api = client.config().apiUrl;
  let app: { slug?: string; name?: string };
  try {
    app = (await client.appOctokit().request("GET /app")).data as { slug?: string; name?: string };
  } catch (err) {
    const status = (err as { status?: number }).status;
    return {
      status: "fail",
      detail: `${api} refused the App's JWT${status ? ` (HTTP ${status})` : ""}: ${(err as Error).message}`.slice(
        0,
        300,
      ),
      fix:
        status === 401
          ? "the App id and private key do not belong together: enter the App's id and a fresh private key (Settings → GitHub), or create the App again"
          : "check Settings → GitHub → API URL (GitHub Enterprise Server: https://HOST/api/v3) and outbound HTTPS",
    };
  }
  let installations = 0;
  try {
    installations = ((await client.appOctokit().request("GET /app/installations", { per_page: 100 })).data as unknown[])
      .length;
  } catch (err) {
    return {
      status: "fail",
      detail: `GET /app/installations failed: ${(err as Error).message}`,
      fix: "check the App's permissions",
    };
  }
  const name = app.slug ?? app.name ?? ctx.settings.get("github.appId");
  if (!ctx.settings.get("github.webhookSecret")) {
    return {
      status: "fail",
      detail: `GitHub App ${name}: no webhook secret, so every delivery is refused`,
      fix: "set the App's webhook secret in Settings → GitHub (the same value as on the App's settings page on GitHub)",
    };
  }
  if (installations === 0) {
    const url = installUrl(ctx);
    return {
      status: "warn",
      detail: `GitHub App ${name} works but is not installed anywhere`,
      fix: url
        ? `install it: ${url}`
        : "install the App on the repositories of your projects (the App's page on GitHub → Install)",
    };
  }
  return {
    status: "ok",
    detail: `GitHub App ${name} on ${api}: ${installations} installation${installations === 1 ? "" : "s"}, webhook secret set`,
  };
}
