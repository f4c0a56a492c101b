import {
  ConfirmButton,
  CsrfField,
  FieldError,
  type Flash,
  invalid,
  PasswordField,
  TableHead,
} from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";

const when = (d: Date | null | undefined) => (d ? d.toISOString().slice(0, 16).replace("T", " ") : "never");

/** What the profile page shows, as the route loaded it. */
export interface ProfileData {
  me: {
    name: string;
    email: string | null;
    emailVerified: boolean;
    githubLogin: string | null;
    roles: string[];
    preferences: { emailNotifications: boolean };
    isAdmin: boolean;
    hasPassword: boolean;
  };
  /** Whether this session signed in (or re-confirmed) recently enough to change wallets. */
  recentSignIn: boolean;
  wallets: { id: string; address: string; chainId: string; isPayout: boolean }[];
  apiKeys: {
    id: string;
    name: string;
    prefix: string;
    scopes: string[];
    lastUsedAt: Date | null;
    expiresAt: Date | null;
    revokedAt: Date | null;
  }[];
  sessions: { id: string; userAgent: string | null; ip: string | null; lastSeenAt: Date; createdAt: Date }[];
  currentSessionId?: string;
  githubAvailable: boolean;
  /** The instance's chain id: SIWE messages name it by default. */
  chainId: number;
}

/** What the profile page shows once, right after an action (a new API key, a SIWE message to sign). */
export interface ProfileExtras {
  newKey?: string;
  challenge?: { message: string };
  errors?: Record<string, string>;
  flash?: Flash;
  /** A page (a task) to return to once a payout wallet is linked. */
  next?: string;
}

/** Carries the page to return to through the wallet forms. */
function NextField(props: { next?: string }) {
  return props.next ? <input type="hidden" name="next" value={props.next} /> : "";
}

/** Profile: name and roles, wallets, API keys, sessions, export and deletion. */
export function ProfilePage(props: { viewer: Viewer; csrf?: string; data: ProfileData } & ProfileExtras) {
  const { me, wallets, apiKeys, sessions } = props.data;
  const hasRole = (r: string) => me.roles.includes(r);
  return (
    <Layout title="Profile" viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <h1>Profile</h1>

      <section class="card" aria-labelledby="p-you">
        <h2 id="p-you">You</h2>
        <p class="muted">
          <span safe>{me.email ?? "no e-mail"}</span>
          {me.email ? (me.emailVerified ? " (verified)" : " (not verified)") : ""}
          {me.githubLogin ? (
            <span safe>{` · GitHub @${me.githubLogin}`}</span>
          ) : props.data.githubAvailable ? (
            <>
              {" · "}
              <a href="/auth/github?next=/profile">Connect GitHub</a>
            </>
          ) : (
            ""
          )}
        </p>
        <form method="post" action="/profile" class="stack">
          <CsrfField token={props.csrf} />
          <label>
            Name
            <input name="name" value={me.name} required maxlength="100" {...invalid(props.errors, "name")} />
            <FieldError errors={props.errors} name="name" />
          </label>
          <fieldset>
            <legend>I use DevSponsor as</legend>
            <label class="check">
              <input type="checkbox" name="roles" value="SPONSOR" checked={hasRole("SPONSOR")} /> Sponsor
            </label>
            <label class="check">
              <input type="checkbox" name="roles" value="CONTRIBUTOR" checked={hasRole("CONTRIBUTOR")} /> Contributor
            </label>
          </fieldset>
          <label class="check">
            <input type="checkbox" name="emailNotifications" value="true" checked={me.preferences.emailNotifications} />
            Send me notifications by e-mail too
          </label>
          <p class="muted">
            <a href="/notifications/preferences">Choose per kind of notification</a>, in the app and by e-mail.
          </p>
          <div>
            <button type="submit">Save profile</button>
          </div>
        </form>
      </section>

      <section class="card" id="wallets" aria-labelledby="p-wallets">
        <h2 id="p-wallets">Wallets</h2>
        <p class="muted">
          Payouts go to the address marked for payouts. Link an address by signing a Sign-In with Ethereum message.
        </p>
        {props.next ? (
          <p role="note">
            Link a payout wallet and you go straight back to <a href={props.next}>the task</a> to claim it.
          </p>
        ) : (
          ""
        )}
        {props.data.recentSignIn ? "" : <ConfirmItsYou {...props} />}
        {wallets.length ? (
          <table>
            <TableHead cols={["Address", "Chain", "Payouts"]} actions />
            <tbody>
              {wallets.map((w) => (
                <tr>
                  <td>
                    <code safe>{w.address}</code>
                  </td>
                  <td safe>{w.chainId}</td>
                  <td>
                    {w.isPayout ? (
                      <span class="badge ok">payout address</span>
                    ) : (
                      <form method="post" action={`/profile/wallets/${w.id}/payout`}>
                        <CsrfField token={props.csrf} />
                        <button type="submit" class="secondary">
                          Use for payouts
                        </button>
                      </form>
                    )}
                  </td>
                  <td>
                    <form method="post" action={`/profile/wallets/${w.id}/remove`}>
                      <CsrfField token={props.csrf} />
                      <button type="submit" class="danger">
                        Unlink
                      </button>
                    </form>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          ""
        )}
        {props.challenge ? (
          <form method="post" action="/profile/wallets" class="stack">
            <CsrfField token={props.csrf} />
            <NextField next={props.next} />
            <label>
              Sign this message with your wallet (valid 10 minutes)
              <textarea name="message" rows="10" readonly safe>
                {props.challenge.message}
              </textarea>
            </label>
            <label>
              Signature (0x…)
              <input name="signature" required autocomplete="off" {...invalid(props.errors, "signature")} />
              <FieldError errors={props.errors} name="signature" />
            </label>
            <div>
              <button type="submit">Link wallet</button>
            </div>
          </form>
        ) : (
          <form method="post" action="/profile/wallets/challenge" class="stack">
            <CsrfField token={props.csrf} />
            <NextField next={props.next} />
            <div class="grid2">
              <label>
                Address
                <input
                  name="address"
                  required
                  pattern="0x[0-9a-fA-F]{40}"
                  placeholder="0x…"
                  autocomplete="off"
                  {...invalid(props.errors, "address")}
                />
                <FieldError errors={props.errors} name="address" />
              </label>
              <label>
                Chain id
                <input name="chainId" type="number" min="1" value={String(props.data.chainId)} required />
              </label>
            </div>
            <div>
              <button type="submit" class="secondary">
                Get a message to sign
              </button>
            </div>
          </form>
        )}
      </section>

      {me.hasPassword ? (
        <section class="card" aria-labelledby="p-password">
          <h2 id="p-password">Password</h2>
          <form method="post" action="/profile/password" class="stack">
            <CsrfField token={props.csrf} />
            <PasswordField errors={props.errors} name="currentPassword" label="Current password" />
            <PasswordField
              errors={props.errors}
              name="newPassword"
              label="New password"
              fresh
              help="At least 10 characters. Every other browser is signed out."
            />
            <div>
              <button type="submit">Change password</button>
            </div>
          </form>
        </section>
      ) : (
        ""
      )}

      <section class="card" aria-labelledby="p-keys">
        <h2 id="p-keys">API keys</h2>
        {props.newKey ? (
          <div class="flash success" role="status">
            <p>Copy your new key now: it is shown only once.</p>
            <pre safe>{props.newKey}</pre>
          </div>
        ) : (
          ""
        )}
        {apiKeys.length ? (
          <table>
            <TableHead cols={["Name", "Key", "Scopes", "Last used"]} actions />
            <tbody>
              {apiKeys.map((k) => (
                <tr>
                  <td safe>{k.name}</td>
                  <td>
                    <code safe>{`${k.prefix}_…`}</code>
                  </td>
                  <td safe>{k.scopes.join(", ")}</td>
                  <td safe>{when(k.lastUsedAt)}</td>
                  <td>
                    {k.revokedAt ? (
                      <span class="badge bad">revoked</span>
                    ) : (
                      <ConfirmButton
                        action={`/profile/api-keys/${k.id}/revoke`}
                        csrf={props.csrf}
                        confirm={`Revoke the API key "${k.name}"? Anything using it stops working; this cannot be undone.`}
                        label="Revoke"
                        danger
                      />
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">No keys yet.</p>
        )}
        <form method="post" action="/profile/api-keys" class="stack">
          <CsrfField token={props.csrf} />
          <label>
            Key name
            <input name="name" required maxlength="80" placeholder="CI pipeline" {...invalid(props.errors, "name")} />
            <FieldError errors={props.errors} name="name" />
          </label>
          <fieldset>
            <legend>Scopes</legend>
            <label class="check">
              <input type="checkbox" name="scopes" value="read" checked /> read
            </label>
            <label class="check">
              <input type="checkbox" name="scopes" value="write" /> write
            </label>
            {me.isAdmin ? (
              <label class="check">
                <input type="checkbox" name="scopes" value="admin" {...invalid(props.errors, "scopes")} /> admin
              </label>
            ) : (
              ""
            )}
            <FieldError errors={props.errors} name="scopes" />
          </fieldset>
          <label>
            Expires after (days) <span class="help">Empty: never.</span>
            <input name="expiresInDays" type="number" min="1" max="3650" />
          </label>
          <div>
            <button type="submit" class="secondary">
              Create key
            </button>
          </div>
        </form>
      </section>

      <section class="card" aria-labelledby="p-sessions">
        <h2 id="p-sessions">Signed-in browsers</h2>
        <table>
          <TableHead cols={["Browser", "Address", "Last seen"]} actions />
          <tbody>
            {sessions.map((s) => (
              <tr>
                <td safe>{s.userAgent ?? "unknown"}</td>
                <td safe>{s.ip ?? ""}</td>
                <td safe>{when(s.lastSeenAt)}</td>
                <td>
                  {s.id === props.data.currentSessionId ? (
                    <span class="badge ok">this browser</span>
                  ) : (
                    <form method="post" action={`/profile/sessions/${s.id}/revoke`}>
                      <CsrfField token={props.csrf} />
                      <button type="submit" class="danger">
                        Sign out
                      </button>
                    </form>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section class="card" aria-labelledby="p-data">
        <h2 id="p-data">Your data</h2>
        <p>
          <a href="/profile/export" download="devsponsor-export.json">
            Download everything we store about you (JSON)
          </a>
        </p>
        <form method="post" action="/profile/delete" class="stack">
          <CsrfField token={props.csrf} />
          <label>
            Delete my account: type DELETE to confirm
            <input name="confirm" autocomplete="off" required {...invalid(props.errors, "confirm")} />
            <FieldError errors={props.errors} name="confirm" />
          </label>
          <div>
            <button type="submit" class="danger">
              Delete my account
            </button>
          </div>
        </form>
        <p class="muted">
          Your personal data is erased. Records of what happened (payments, audit entries) stay, without your name.
        </p>
      </section>
    </Layout>
  );
}

/** Asks for the password (or GitHub again) before wallet changes, when the sign-in is not recent. */
function ConfirmItsYou(props: { csrf?: string; data: ProfileData; errors?: Record<string, string>; next?: string }) {
  return (
    <div class="flash" role="note">
      <p>To change wallets, confirm it is you: your last sign-in was more than a few minutes ago.</p>
      {props.data.me.hasPassword ? (
        <form method="post" action="/profile/reauthenticate" class="stack">
          <CsrfField token={props.csrf} />
          <NextField next={props.next} />
          <PasswordField errors={props.errors} />
          <div>
            <button type="submit" class="secondary">
              Confirm
            </button>
          </div>
        </form>
      ) : (
        <p>
          <a href="/auth/github?next=/profile">Sign in with GitHub again</a>
        </p>
      )}
    </div>
  );
}
