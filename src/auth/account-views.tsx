import { CsrfField, type Flash, PasswordField } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";

/** Asks for the address of the account whose password was forgotten. */
export function ForgotPasswordPage(props: { csrf: string; email?: string; flash?: Flash; viewer?: Viewer | null }) {
  return (
    <Layout title="Forgot password" viewer={props.viewer} flash={props.flash}>
      <h1>Forgot your password?</h1>
      <div class="card">
        <p>Enter the address of your account: we will e-mail it a link to choose a new password.</p>
        <form method="post" action="/password/forgot" class="stack">
          <CsrfField token={props.csrf} />
          <label>
            E-mail
            <input name="email" type="email" required autocomplete="username" value={props.email ?? ""} />
          </label>
          <div>
            <button type="submit">E-mail me a link</button>
          </div>
        </form>
      </div>
      <p>
        <a href="/signin">Back to sign-in</a>
      </p>
    </Layout>
  );
}

/** Chooses the new password behind a reset link. */
export function ResetPasswordPage(props: {
  csrf: string;
  token: string;
  errors?: Record<string, string>;
  flash?: Flash;
}) {
  return (
    <Layout title="Choose a new password" flash={props.flash}>
      <h1>Choose a new password</h1>
      <div class="card">
        <form method="post" action="/password/reset" class="stack">
          <CsrfField token={props.csrf} />
          <input type="hidden" name="token" value={props.token} />
          <PasswordField
            errors={props.errors}
            fresh
            label="New password"
            help="At least 10 characters. Every browser signed in to the account is signed out."
          />
          <div>
            <button type="submit">Set the password</button>
          </div>
        </form>
      </div>
    </Layout>
  );
}

/** A one-message page at the end of an e-mailed link (done, or the link no longer works). */
export function AccountMessagePage(props: {
  title: string;
  message: string;
  kind: "success" | "error";
  next: { href: string; label: string };
  viewer?: Viewer | null;
  csrf?: string;
}) {
  return (
    <Layout
      title={props.title}
      viewer={props.viewer}
      csrfToken={props.csrf}
      flash={{ kind: props.kind, message: props.message }}
    >
      <h1 safe>{props.title}</h1>
      <p>
        <a href={props.next.href} safe>
          {props.next.label}
        </a>
      </p>
    </Layout>
  );
}
