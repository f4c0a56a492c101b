import { Layout, type Viewer } from "../../../ui/layout";
import { GitHubAppPanel } from "../../github/views";
import { ErrorSummary, FieldError, invalid } from "../../../ui/components";
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
  tasks: "Tasks and claims",
  security: "Security",
  webhooks: "Outgoing webhooks",
};

/** A setting's input: a select for yes/no and for a few allowed values, text otherwise; what was typed wins. */
function input(s: SettingView, typed: string | undefined, errors: Record<string, string> | undefined) {
  const name = s.key;
  const disabled = s.source === "env";
  const bad = invalid(errors, name);
  if (s.secret) {
    // a secret typed into a form that failed is not sent back to the page: it is asked for again
    return (
      <input
        type="password"
        name={name}
        autocomplete="off"
        placeholder={s.isSet ? "•••••• (set; leave empty to keep)" : "not set"}
        disabled={disabled}
        {...bad}
      />
    );
  }
  const current = Array.isArray(s.value) ? s.value.join(", ") : String(s.value ?? "");
  const value = typed ?? current;
  const options = typeof s.value === "boolean" ? ["true", "false"] : s.options;
  if (options) {
    const label = (o: string) => (o === "true" ? "yes" : o === "false" ? "no" : o);
    return (
      <select name={name} disabled={disabled} {...bad}>
        {options.map((o) => (
          <option value={o} selected={o === value} safe>
            {label(o)}
          </option>
        ))}
      </select>
    );
  }
  return <input type="text" name={name} value={value} disabled={disabled} {...bad} />;
}

/** The one admin page where everything is configured, grouped by section. */
export function SettingsPage(props: {
  items: SettingView[];
  viewer: Viewer;
  csrfToken?: string;
  flash?: { kind: "error" | "success"; message: string };
  errors?: Record<string, string>;
  /** What the admin typed, shown again after a failed save (secrets never). */
  values?: Record<string, string>;
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
        <ErrorSummary errors={props.errors} message="Nothing was saved. Correct the settings below and save again." />
        {[...groups.entries()].map(([section, items]) => (
          <fieldset class="card">
            <legend safe>{SECTIONS[section] ?? section}</legend>
            {items.map((s) => (
              <label>
                <span safe>{s.label}</span>
                {input(s, props.values?.[s.key], props.errors) as "safe"}
                {s.help ? (
                  <span class="help" safe>
                    {s.help}
                  </span>
                ) : (
                  ""
                )}
                {s.source === "env" ? <span class="help">Set by the environment.</span> : ""}
                <FieldError errors={props.errors} name={s.key} />
                {s.secret && props.errors && props.values?.[s.key] ? (
                  <span class="help">Not saved: type it again.</span>
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
