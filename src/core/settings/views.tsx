import { Layout, type Viewer } from "../../../ui/layout";
import { GitHubAppPanel } from "../../github/views";
import type { SettingView } from "./service";

const SECTIONS: Record<string, string> = {
  instance: "Instance",
  auth: "Sign-in",
  ai: "AI models",
  chain: "Chain and contracts",
  funding: "Funding",
  github: "GitHub",
  smtp: "E-mail (SMTP)",
  sandbox: "Sandboxes",
};

function input(s: SettingView) {
  const name = s.key;
  const disabled = s.source === "env";
  if (s.secret) {
    return (
      <input
        type="password"
        name={name}
        autocomplete="off"
        placeholder={s.isSet ? "•••••• (set; leave empty to keep)" : "not set"}
        disabled={disabled}
      />
    );
  }
  if (typeof s.value === "boolean") {
    return (
      <select name={name} disabled={disabled}>
        <option value="true" selected={s.value}>
          yes
        </option>
        <option value="false" selected={!s.value}>
          no
        </option>
      </select>
    );
  }
  const value = Array.isArray(s.value) ? s.value.join(", ") : String(s.value ?? "");
  return <input type="text" name={name} value={value} disabled={disabled} />;
}

/** The one admin page where everything is configured, grouped by section. */
export function SettingsPage(props: {
  items: SettingView[];
  viewer: Viewer;
  csrfToken?: string;
  flash?: { kind: "error" | "success"; message: string };
  errors?: Record<string, string>;
}) {
  const groups = new Map<string, SettingView[]>();
  for (const s of props.items) {
    const section = s.key.split(".")[0];
    groups.set(section, [...(groups.get(section) ?? []), s]);
  }
  return (
    <Layout title="Settings" viewer={props.viewer} csrfToken={props.csrfToken} flash={props.flash}>
      <h1>Settings</h1>
      <p class="muted">
        Values set by environment variables are shown read-only. Secrets are stored encrypted and never shown again.
      </p>
      <form method="post" action="/admin/settings" class="stack">
        {props.csrfToken ? <input type="hidden" name="_csrf" value={props.csrfToken} /> : ""}
        {[...groups.entries()].map(([section, items]) => (
          <fieldset class="card">
            <legend safe>{SECTIONS[section] ?? section}</legend>
            {items.map((s) => (
              <label>
                <span safe>{s.label}</span>
                {input(s) as "safe"}
                {s.help ? (
                  <span class="help" safe>
                    {s.help}
                  </span>
                ) : (
                  ""
                )}
                {s.source === "env" ? <span class="help">Set by the environment.</span> : ""}
                {props.errors?.[s.key] ? (
                  <span class="help bad" role="alert" safe>
                    {props.errors[s.key]}
                  </span>
                ) : (
                  ""
                )}
              </label>
            ))}
            {section === "github" ? <GitHubAppPanel items={props.items} /> : ""}
          </fieldset>
        ))}
        <div>
          <button type="submit">Save settings</button>
        </div>
      </form>
    </Layout>
  );
}
