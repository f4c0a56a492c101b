import { CsrfField, Field, FieldError, type Flash, invalid, PasswordField } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";

interface FormPageProps {
  csrf: string;
  values?: Record<string, string>;
  errors?: Record<string, string>;
  flash?: Flash;
}

/** Name, e-mail and a new password: the fields of a new account (setup and sign-up). */
const AccountFields = (props: Pick<FormPageProps, "values" | "errors">) => (
  <>
    <Field name="name" label="Your name" required autocomplete="name" maxlength={100} {...props} />
    <Field name="email" label="E-mail" type="email" required autocomplete="email" {...props} />
    <PasswordField errors={props.errors} fresh />
  </>
);

/** First run: create the platform admin. */
export function SetupPage(props: FormPageProps & { instanceName: string }) {
  return (
    <Layout title="Set up" flash={props.flash}>
      <h1>Welcome to DevSponsor</h1>
      <div class="card">
        <p>
          Create the platform administrator for <strong safe>{props.instanceName}</strong>. This account configures the
          instance (GitHub, models, chain, e-mail) and can see every organization.
        </p>
        <form method="post" action="/setup" class="stack">
          <CsrfField token={props.csrf} />
          <label>
            Setup token{" "}
            <span class="help">
              Printed in the server log at first start; <code>devsponsor doctor</code> shows it too.
            </span>
            <input
              name="setupToken"
              required
              autocomplete="off"
              spellcheck="false"
              {...invalid(props.errors, "setupToken")}
            />
            <FieldError errors={props.errors} name="setupToken" />
          </label>
          <AccountFields values={props.values} errors={props.errors} />
          <div>
            <button type="submit">Create admin account</button>
          </div>
        </form>
      </div>
      <p class="muted">
        From a shell instead: <code>devsponsor admin create --email you@example.com --password-file pw.txt</code>
      </p>
    </Layout>
  );
}

/** Sign in with e-mail and password, or GitHub. */
export function SignInPage(props: FormPageProps & { github: boolean; signup: boolean; next: string }) {
  const v = props.values ?? {};
  return (
    <Layout title="Sign in" flash={props.flash}>
      <h1>Sign in</h1>
      <div class="grid2">
        <div class="card">
          <form method="post" action="/signin" class="stack">
            <CsrfField token={props.csrf} />
            <input type="hidden" name="next" value={props.next} />
            <label>
              E-mail
              <input name="email" type="email" required autocomplete="username" value={v.email ?? ""} autofocus />
            </label>
            <label>
              Password
              <input name="password" type="password" required autocomplete="current-password" />
            </label>
            <div>
              <button type="submit">Sign in</button>
            </div>
          </form>
          <p>
            <a href="/password/forgot">Forgot your password?</a>
          </p>
        </div>
        <div class="card">
          {props.github ? (
            <p>
              <a class="button" href={`/auth/github?next=${encodeURIComponent(props.next)}`}>
                Sign in with GitHub
              </a>
            </p>
          ) : (
            <p class="muted">GitHub sign-in is not configured on this instance.</p>
          )}
          {props.signup ? (
            <p>
              New here? <a href="/signup">Create an account</a>
            </p>
          ) : (
            ""
          )}
        </div>
      </div>
    </Layout>
  );
}

/** Sign up with e-mail and password (when the admin allows it). */
export function SignUpPage(props: FormPageProps) {
  return (
    <Layout title="Create an account" flash={props.flash}>
      <h1>Create an account</h1>
      <div class="card">
        <form method="post" action="/signup" class="stack">
          <CsrfField token={props.csrf} />
          <AccountFields values={props.values} errors={props.errors} />
          <div>
            <button type="submit">Create account</button>
          </div>
        </form>
      </div>
      <p>
        Already registered? <a href="/signin">Sign in</a>
      </p>
    </Layout>
  );
}

/** After the first sign-in: sponsor, contributor or both (changeable later on the profile page). */
export function OnboardingPage(props: {
  viewer: Viewer;
  csrf?: string;
  roles: string[];
  next?: string;
  error?: string;
}) {
  const has = (r: string) => props.roles.includes(r);
  return (
    <Layout
      title="Welcome"
      viewer={props.viewer}
      csrfToken={props.csrf}
      flash={props.error ? { kind: "error", message: props.error } : undefined}
    >
      <h1>How will you use DevSponsor?</h1>
      <form
        method="post"
        action={props.next && props.next !== "/" ? `/onboarding?next=${encodeURIComponent(props.next)}` : "/onboarding"}
        class="card stack"
      >
        <CsrfField token={props.csrf} />
        <fieldset>
          <legend>Choose one or both; you can change this later on your profile.</legend>
          <label class="check">
            <input type="checkbox" name="roles" value="SPONSOR" checked={has("SPONSOR")} />
            <span>
              <strong>Sponsor</strong>: fund projects, plan milestones with AI, pay for verified work.
            </span>
          </label>
          <label class="check">
            <input type="checkbox" name="roles" value="CONTRIBUTOR" checked={has("CONTRIBUTOR")} />
            <span>
              <strong>Contributor</strong>: claim tasks, open pull requests, get paid when tests pass.
            </span>
          </label>
        </fieldset>
        <div>
          <button type="submit">Continue</button>
        </div>
      </form>
    </Layout>
  );
}

/**
 * A form of this site sent again from a page of ours: after its CSRF token expired (what was typed is kept), or
 * to confirm an action that cannot be undone when the browser did not ask (no JavaScript). The fields come back
 * hidden, with the session's current token.
 */
export function RepostPage(props: {
  viewer: Viewer;
  csrf: string;
  action: string;
  fields: [string, string][];
  heading: string;
  text: string;
  button: string;
  flash?: Flash;
  /** Where "Cancel" goes; no Cancel link without it. */
  cancel?: string;
}) {
  return (
    <Layout title={props.heading} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <h1 safe>{props.heading}</h1>
      <form method="post" action={props.action} class="card stack">
        <CsrfField token={props.csrf} />
        {props.fields.map(([name, value]) => (
          <input type="hidden" name={name} value={value} />
        ))}
        <p safe>{props.text}</p>
        <div class="row">
          <button type="submit" safe>
            {props.button}
          </button>
          {props.cancel ? <a href={props.cancel}>Cancel</a> : ""}
        </div>
      </form>
    </Layout>
  );
}
