import { Layout, type Viewer } from "../../ui/layout";
import type { SettingView } from "../core/settings/service";

/** The App's state and the one-click setup, shown in the GitHub section of the settings page. */
export function GitHubAppPanel(props: { items: SettingView[] }) {
  const value = (key: string) => String(props.items.find((s) => s.key === key)?.value ?? "");
  const appId = value("github.appId");
  const slug = value("github.appSlug");
  const publicUrl = value("instance.publicUrl");
  const installUrl = slug ? `${value("github.baseUrl").replace(/\/+$/, "")}/apps/${slug}/installations/new` : "";
  return (
    <div class="stack">
      {appId ? (
        <p>
          GitHub App <strong safe>{appId}</strong> is configured.{" "}
          {installUrl ? (
            <a href={installUrl} rel="noopener">
              Install it on repositories
            </a>
          ) : (
            ""
          )}
        </p>
      ) : (
        <p class="muted">No GitHub App yet. Create one in one click, or enter an existing App's credentials below.</p>
      )}
      <label>
        <span>GitHub organization that owns the App (empty: your personal account)</span>
        <input type="text" name="github_org" autocomplete="off" />
      </label>
      <div>
        <button type="submit" formaction="/admin/github/manifest" formmethod="post">
          Create GitHub App
        </button>
        <span class="help" safe>
          {`GitHub will send webhooks to ${publicUrl || "this address"}/webhooks/github.`}
        </span>
      </div>
    </div>
  );
}

/** The page that sends the App manifest to GitHub: the admin confirms there. */
export function ManifestPage(props: { viewer: Viewer; target: string; manifest: string }) {
  return (
    <Layout title="Create GitHub App" viewer={props.viewer}>
      <h1>Create the GitHub App</h1>
      <p>
        GitHub will show the App's name, permissions and events; confirm there and you come back here with the App
        configured.
      </p>
      <form method="post" action={props.target}>
        <input type="hidden" name="manifest" value={props.manifest} />
        <button type="submit">Continue on GitHub</button>
      </form>
    </Layout>
  );
}

/** Shown after the callback stored the App. */
export function AppCreatedPage(props: { viewer: Viewer; appId: number; installUrl: string }) {
  return (
    <Layout
      title="GitHub App created"
      viewer={props.viewer}
      flash={{ kind: "success", message: "GitHub App created." }}
    >
      <h1>GitHub App created</h1>
      <p>
        App <strong safe>{String(props.appId)}</strong> is stored; its private key and secrets are encrypted.
      </p>
      {props.installUrl ? (
        <p>
          Next: <a href={props.installUrl}>install the App</a> on the repositories of your projects.
        </p>
      ) : (
        ""
      )}
      <p>
        <a href="/admin/settings">Back to settings</a>
      </p>
    </Layout>
  );
}
