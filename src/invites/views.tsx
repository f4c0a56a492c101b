import {
  ConfirmButton,
  CsrfField,
  ErrorSummary,
  FieldError,
  type Flash,
  invalid,
  TableHead,
} from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import { canAssignRole, ORG_ROLES } from "../orgs/permissions";
import { OrgNav, type OrgView } from "../orgs/views";

/** What an invite form's page shows again: the values sent, their errors, a notice, or the link no mail server sent. */
export interface InviteFormState {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  flash?: Flash;
  /** The invite just created by e-mail while no mail server is configured: its link, shown to its creator once. */
  created?: { email: string; link: string };
}

const day = (d: Date) => d.toISOString().slice(0, 10);
const roleLabel = (r: string) => r.charAt(0) + r.slice(1).toLowerCase();

/** An invite as the managers who sent it see it (an org's, or a project's). */
export interface SentInviteView {
  id: string;
  email: string | null;
  githubUsername: string | null;
  role: string;
  status: string;
  expiresAt: Date;
  invitedBy: string | null;
}

/** The org's invites and the form to send one. */
export function OrgInvitesPage(
  props: InviteFormState & { viewer: Viewer; csrf?: string; org: OrgView; invites: SentInviteView[] },
) {
  const { org } = props;
  const v = props.values ?? {};
  const roles = ORG_ROLES.filter((r) => canAssignRole(org.role, null, r));
  return (
    <Layout title={`${org.name}: invites`} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <OrgNav org={org} current="invites" />
      <h1 safe>{org.name}: invite people</h1>
      {props.created ? <InviteLinkCard {...props.created} /> : ""}
      <form method="post" action={`/orgs/${org.id}/invites`} class="card stack">
        <CsrfField token={props.csrf} />
        <ErrorSummary errors={props.errors} message="No invite was sent. Correct the fields below." />
        <InviteFields roles={roles} values={v} errors={props.errors} />
      </form>
      <InvitesCard invites={props.invites} csrf={props.csrf} base={`/orgs/${org.id}/invites`} />
    </Layout>
  );
}

/** The fields of an invite form (e-mail or GitHub username, role, message) and its button. */
export function InviteFields({
  roles,
  values,
  errors,
}: {
  roles: readonly string[];
  values: Record<string, string>;
  errors?: Record<string, string>;
}) {
  return (
    <>
      <div class="grid2">
        <label>
          E-mail
          <input
            name="email"
            type="email"
            value={values.email ?? ""}
            autocomplete="off"
            {...invalid(errors, "email")}
          />
          <FieldError errors={errors} name="email" />
        </label>
        <label>
          or GitHub username
          <input
            name="githubUsername"
            value={values.githubUsername ?? ""}
            autocomplete="off"
            {...invalid(errors, "githubUsername")}
          />
          <FieldError errors={errors} name="githubUsername" />
        </label>
      </div>
      <label>
        Role
        <select name="role" {...invalid(errors, "role")}>
          {roles.map((r) => (
            <option value={r} selected={(values.role || "CONTRIBUTOR") === r} safe>
              {roleLabel(r)}
            </option>
          ))}
        </select>
        <FieldError errors={errors} name="role" />
      </label>
      <label>
        Message <span class="help">Optional, shown with the invite.</span>
        <textarea name="message" rows="3" maxlength="1000" {...invalid(errors, "message")} safe>
          {values.message ?? ""}
        </textarea>
        <FieldError errors={errors} name="message" />
      </label>
      <div>
        <button type="submit">Send invite</button>
      </div>
    </>
  );
}

/** Invites sent (org or project), each pending one with its Withdraw button posting to `${base}/<id>/revoke`. */
export function InvitesCard({ invites, csrf, base }: { invites: SentInviteView[]; csrf?: string; base: string }) {
  return (
    <div class="card">
      <h2>Invites</h2>
      {invites.length === 0 ? <p class="muted">No invites sent yet.</p> : ""}
      <table>
        <TableHead cols={["Invitee", "Role", "Status", "Expires", "Invited by"]} actions />
        <tbody>
          {invites.map((i) => (
            <tr>
              <td safe>{i.email ?? (i.githubUsername ? `@${i.githubUsername}` : "—")}</td>
              <td safe>{roleLabel(i.role)}</td>
              <td>
                <span class={`badge ${i.status === "PENDING" ? "warn" : i.status === "ACCEPTED" ? "ok" : ""}`} safe>
                  {i.status.toLowerCase()}
                </span>
              </td>
              <td safe>{day(i.expiresAt)}</td>
              <td safe>{i.invitedBy ?? "—"}</td>
              <td>
                {i.status === "PENDING" ? (
                  <ConfirmButton
                    action={`${base}/${i.id}/revoke`}
                    csrf={csrf}
                    confirm="Withdraw this invite? Its link stops working; a new invite is needed to ask again."
                    label="Withdraw"
                  />
                ) : (
                  ""
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The link of an invite that could not be e-mailed, with a Copy button (app.js shows it) to pass it on by hand. */
export function InviteLinkCard({ email, link }: { email: string; link: string }) {
  return (
    <div class="card stack invite-link" role="status">
      <p>
        <strong>Invite created, but no e-mail was sent</strong>: this server has no mail server configured. Send this
        link to <strong safe>{email}</strong> yourself. Anyone with the link can accept the invite, and it is shown only
        now.
      </p>
      <label>
        Invite link
        <span class="row">
          <input id="invite-link" type="text" value={link} readonly autocomplete="off" spellcheck="false" />
          <button type="button" class="secondary" data-copy="invite-link" hidden>
            Copy
          </button>
        </span>
      </label>
    </div>
  );
}

/** An invite addressed to the viewer. */
export interface MyInviteView {
  id: string;
  orgId: string;
  orgName: string;
  /** Set for an invite to one project of the org. */
  projectId?: string | null;
  projectTitle?: string | null;
  invitedBy: string | null;
  role: string;
  message: string | null;
  status: string;
  expiresAt: Date;
}

function InviteCard({ invite, csrf, token }: { invite: MyInviteView; csrf?: string; token?: string }) {
  const action = (verb: string) => (token ? `/invites/${verb}` : `/invites/${invite.id}/${verb}`);
  return (
    <div class="card">
      <p>
        <strong safe>{invite.invitedBy ?? "Someone"}</strong> invited you to{" "}
        {invite.projectTitle ? (
          <>
            the project <strong safe>{invite.projectTitle}</strong> of{" "}
          </>
        ) : (
          ""
        )}
        <strong safe>{invite.orgName}</strong> as <span safe>{roleLabel(invite.role)}</span>.
      </p>
      {invite.message ? (
        <blockquote safe class="pre-line">
          {invite.message}
        </blockquote>
      ) : (
        ""
      )}
      <p class="muted">
        <small safe>{`Expires ${day(invite.expiresAt)}`}</small>
      </p>
      {invite.status === "PENDING" ? (
        <div class="row">
          <form method="post" action={action("accept")}>
            <CsrfField token={csrf} />
            {token ? <input type="hidden" name="token" value={token} /> : ""}
            <button type="submit">Accept</button>
          </form>
          <form method="post" action={action("decline")}>
            <CsrfField token={csrf} />
            {token ? <input type="hidden" name="token" value={token} /> : ""}
            <button type="submit" class="secondary">
              Decline
            </button>
          </form>
        </div>
      ) : (
        <p class="badge" safe>{`This invite is ${invite.status.toLowerCase()}.`}</p>
      )}
    </div>
  );
}

/** The viewer's pending invites (or the one behind an e-mailed link). */
export function MyInvitesPage(props: {
  viewer: Viewer;
  csrf?: string;
  invites: MyInviteView[];
  token?: string;
  flash?: Flash;
}) {
  return (
    <Layout title="Invites" viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <h1>Invites</h1>
      {props.invites.length === 0 ? <p class="muted">No pending invites.</p> : ""}
      {props.invites.map((i) => (
        <InviteCard invite={i} csrf={props.csrf} token={props.token} />
      ))}
    </Layout>
  );
}
