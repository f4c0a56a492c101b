import { ConfirmButton, CsrfField, FieldError, invalid } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import { can, canAssignRole, ORG_ROLES, type OrgRole } from "./permissions";

type Flash = { kind: "error" | "success"; message: string };

/** An org as the pages need it. */
export interface OrgView {
  id: string;
  name: string;
  description: string | null;
  logoUrl: string | null;
  role: OrgRole | null;
  memberCount?: number;
  archived?: boolean;
}

const roleLabel = (r: string) => r.charAt(0) + r.slice(1).toLowerCase();
const githubLabel = (login: string | null): string => (login ? `@${login}` : "—");

/** The tabs of an org's pages. */
export function OrgNav({
  org,
  current,
}: {
  org: OrgView;
  current: "overview" | "members" | "invites" | "audit" | "webhooks";
}) {
  const tabs: [typeof current, string, string, boolean][] = [
    ["overview", "Overview", `/orgs/${org.id}`, true],
    ["members", "Members", `/orgs/${org.id}/members`, true],
    ["invites", "Invites", `/orgs/${org.id}/invites`, can(org.role, "members.invite")],
    ["audit", "Audit trail", `/orgs/${org.id}/audit`, can(org.role, "audit.view")],
    ["webhooks", "Webhooks", `/orgs/${org.id}/webhooks`, can(org.role, "webhooks.view")],
  ];
  return (
    <nav aria-label="Organization" class="tabs">
      <a href="/orgs">All organizations</a>
      <span aria-hidden="true">/</span>
      {tabs
        .filter((t) => t[3])
        .map(([key, label, href]) => (
          <a href={href} aria-current={key === current ? "page" : undefined} safe>
            {label}
          </a>
        ))}
    </nav>
  );
}

function Logo({ org, size = 48 }: { org: OrgView; size?: 48 | 64 }) {
  return org.logoUrl ? (
    <img class={`logo logo-${size}`} src={org.logoUrl} alt="" width={String(size)} height={String(size)} />
  ) : (
    <span aria-hidden="true" class={`logo logo-letter logo-${size}`} safe>
      {org.name.slice(0, 1).toUpperCase()}
    </span>
  );
}

function OrgCards({ orgs }: { orgs: OrgView[] }) {
  if (!orgs.length) return <p class="muted">No organizations yet.</p>;
  return (
    <div class="grid2">
      {orgs.map((o) => (
        <a class="card org-card" href={`/orgs/${o.id}`}>
          <Logo org={o} />
          <span>
            <strong safe>{o.name}</strong>
            <br />
            <small class="muted">
              {o.role ? roleLabel(o.role) : "admin view"}
              {o.archived ? " · archived" : ""}
            </small>
          </span>
        </a>
      ))}
    </div>
  );
}

/** One of the caller's claims as the home page lists it. */
export interface HomeClaim {
  taskId: string;
  taskTitle: string;
  projectTitle: string;
  claimState: string;
  taskStatus: string;
  /** The newest verification's status (active claims only). */
  verification: string | null;
  payout: string | null;
}

/** What the caller earned, per token. */
export interface HomeEarnings {
  count: number;
  totals: { token: string; amount: string }[];
}

const plain = (s: string) => s.charAt(0) + s.slice(1).toLowerCase();
const TASK_STATE: Record<string, string> = {
  CLAIMED: "claimed · not verified yet",
  VERIFYING: "being verified",
  VERIFIED: "verified",
  PAYING: "being paid",
  PAID: "paid",
};

/** The contributor's side of the home page: claims with their verification, earnings, and where to find work. */
function YourWork(props: { claims: HomeClaim[]; earnings: HomeEarnings }) {
  const active = props.claims.filter((c) => c.claimState === "ACTIVE");
  return (
    <section aria-labelledby="work-title">
      <h2 id="work-title">Your work</h2>
      <div class="grid2">
        <div class="card">
          <h3>Claimed tasks</h3>
          {active.length ? (
            <ul class="plain">
              {active.map((c) => (
                <li>
                  <a href={`/tasks/${c.taskId}`} safe>
                    {c.taskTitle}
                  </a>{" "}
                  <span class="muted" safe>{`· ${c.projectTitle}`}</span>
                  <br />
                  <span
                    class={`badge ${c.verification === "PASSED" ? "ok" : c.verification === "FAILED" || c.verification === "ERROR" ? "bad" : ""}`}
                    safe
                  >
                    {c.verification
                      ? `verification ${plain(c.verification)}`
                      : (TASK_STATE[c.taskStatus] ?? plain(c.taskStatus))}
                  </span>
                  {c.payout ? <span class="muted" safe>{` · pays ${c.payout}`}</span> : ""}
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">You have no open claim.</p>
          )}
          <p>
            <a href="/me/tasks">All your claims</a>
          </p>
        </div>
        <div class="card">
          <h3>Earnings</h3>
          {props.earnings.count ? (
            <ul class="plain">
              {props.earnings.totals.map((t) => (
                <li>
                  <strong safe>{`${t.amount} ${t.token}`}</strong>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">Nothing paid to you yet.</p>
          )}
          {props.earnings.count ? (
            <p
              class="muted"
              safe
            >{`${props.earnings.count} payment${props.earnings.count === 1 ? "" : "s"} received.`}</p>
          ) : (
            ""
          )}
          <p>
            <a href="/me/earnings">Payments and proofs</a>
          </p>
        </div>
      </div>
      <p>
        <a class="button" href="/explore">
          Find a funded task
        </a>
      </p>
    </section>
  );
}

/**
 * The signed-in home page: pending invites, the caller's claims, verifications and earnings, and their orgs.
 * Someone without an org is pointed to the explore board first; creating an org is offered for sponsors.
 */
export function DashboardPage(props: {
  viewer: Viewer;
  csrf?: string;
  orgs: OrgView[];
  invites: number;
  roles: string[];
  claims: HomeClaim[];
  earnings: HomeEarnings;
}) {
  const contributorFirst = props.orgs.length === 0 || (props.roles.includes("CONTRIBUTOR") && props.claims.length > 0);
  const orgSection = (
    <section>
      <h2>Your organizations</h2>
      {props.orgs.length ? (
        <OrgCards orgs={props.orgs} />
      ) : (
        <p class="muted">
          You are not in an organization. Sponsors create one to fund projects; contributors need none.
        </p>
      )}
      <p>
        <a class={props.orgs.length ? "button" : "button secondary"} href="/orgs/new">
          Create an organization
        </a>
      </p>
    </section>
  );
  return (
    <Layout title="Home" viewer={props.viewer} csrfToken={props.csrf}>
      <h1 safe>Welcome, {props.viewer.name}</h1>
      {props.invites > 0 ? (
        <div class="flash success" role="status">
          <span safe>{`You have ${props.invites} pending invite${props.invites === 1 ? "" : "s"}.`}</span>{" "}
          <a href="/invites">Answer them</a>
        </div>
      ) : (
        ""
      )}
      {contributorFirst ? (
        <>
          <YourWork claims={props.claims} earnings={props.earnings} />
          {orgSection as "safe"}
        </>
      ) : (
        <>
          {orgSection as "safe"}
          {props.claims.length ? <YourWork claims={props.claims} earnings={props.earnings} /> : ""}
        </>
      )}
      <p class="muted">
        <span
          safe
        >{`You use DevSponsor as ${props.roles.length ? props.roles.map((r) => r.toLowerCase()).join(" and ") : "a member"}.`}</span>{" "}
        <a href="/profile">Profile, wallets and API keys</a>
      </p>
    </Layout>
  );
}

/** Every org of the caller (or, for admins with ?all=1, of the platform). */
export function OrgListPage(props: { viewer: Viewer; csrf?: string; orgs: OrgView[]; all: boolean }) {
  return (
    <Layout title="Organizations" viewer={props.viewer} csrfToken={props.csrf}>
      <h1>{props.all ? "All organizations" : "Your organizations"}</h1>
      {props.viewer.isAdmin ? (
        <p>
          {props.all ? <a href="/orgs">Show only mine</a> : <a href="/orgs?all=1">Show every organization (admin)</a>}
        </p>
      ) : (
        ""
      )}
      <OrgCards orgs={props.orgs} />
      <p>
        <a class="button" href="/orgs/new">
          Create an organization
        </a>
      </p>
    </Layout>
  );
}

function OrgFields(props: { values?: Record<string, string>; errors?: Record<string, string> }) {
  const v = props.values ?? {};
  return (
    <>
      <label>
        Name
        <input name="name" required maxlength="100" value={v.name ?? ""} {...invalid(props.errors, "name")} />
        <FieldError errors={props.errors} name="name" />
      </label>
      <label>
        Description <span class="help">Optional.</span>
        <textarea name="description" rows="3" maxlength="2000" {...invalid(props.errors, "description")} safe>
          {v.description ?? ""}
        </textarea>
        <FieldError errors={props.errors} name="description" />
      </label>
      <label>
        Logo <span class="help">Optional. PNG, JPEG, GIF or WebP, at most 1 MiB.</span>
        <input
          type="file"
          name="logo"
          accept="image/png,image/jpeg,image/gif,image/webp"
          {...invalid(props.errors, "logo")}
        />
        <FieldError errors={props.errors} name="logo" />
      </label>
    </>
  );
}

/** The new-organization form. */
export function NewOrgPage(props: {
  viewer: Viewer;
  csrf?: string;
  values?: Record<string, string>;
  errors?: Record<string, string>;
  flash?: Flash;
}) {
  return (
    <Layout title="New organization" viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <h1>New organization</h1>
      <form method="post" action="/orgs" enctype="multipart/form-data" class="card stack">
        <CsrfField token={props.csrf} />
        <OrgFields values={props.values} errors={props.errors} />
        <div>
          <button type="submit">Create organization</button>
        </div>
      </form>
      <p class="muted">You become its owner and can invite co-sponsors, maintainers and contributors.</p>
    </Layout>
  );
}

/** An org's overview, with its settings for those who manage it. */
export function OrgPage(props: {
  viewer: Viewer;
  csrf?: string;
  org: OrgView;
  flash?: Flash;
  errors?: Record<string, string>;
  values?: Record<string, string>;
}) {
  const { org } = props;
  return (
    <Layout title={org.name} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <OrgNav org={org} current="overview" />
      <div class="org-head">
        <Logo org={org} size={64} />
        <div>
          <h1 safe>{org.name}</h1>
          <span class="muted" safe>
            {`${org.memberCount ?? 0} member${org.memberCount === 1 ? "" : "s"} · your role: ${org.role ? roleLabel(org.role) : "none (admin view)"}`}
          </span>
        </div>
      </div>
      {org.description ? (
        <p safe class="pre-line">
          {org.description}
        </p>
      ) : (
        ""
      )}
      <div class="grid2">
        <a class="card" href={`/orgs/${org.id}/projects`}>
          Projects
        </a>
        <a class="card" href={`/orgs/${org.id}/members`}>
          Members and roles
        </a>
        {can(org.role, "members.invite") ? (
          <a class="card" href={`/orgs/${org.id}/invites`}>
            Invite people
          </a>
        ) : (
          ""
        )}
      </div>
      {can(org.role, "org.update") ? (
        <details class="card" open={props.errors ? true : undefined}>
          <summary>
            <strong>Organization settings</strong>
          </summary>
          <form method="post" action={`/orgs/${org.id}`} enctype="multipart/form-data" class="stack">
            <CsrfField token={props.csrf} />
            <OrgFields
              values={props.values ?? { name: org.name, description: org.description ?? "" }}
              errors={props.errors}
            />
            <div>
              <button type="submit">Save</button>
            </div>
          </form>
        </details>
      ) : (
        ""
      )}
    </Layout>
  );
}

/** A member as listed. */
export interface MemberView {
  userId: string;
  name: string;
  githubLogin: string | null;
  role: OrgRole;
  joinedAt: Date;
}

/** Members and roles: managers change roles and remove people; everyone can leave. */
export function MembersPage(props: {
  viewer: Viewer;
  csrf?: string;
  org: OrgView;
  members: MemberView[];
  me: string;
  flash?: Flash;
}) {
  const { org } = props;
  const owners = props.members.filter((m) => m.role === "OWNER").length;
  return (
    <Layout title={`${org.name}: members`} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <OrgNav org={org} current="members" />
      <h1 safe>{org.name}: members</h1>
      <div class="card">
        <table class="stack-cards">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">GitHub</th>
              <th scope="col">Role</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.members.map((m) => {
              const assignable = ORG_ROLES.filter((r) => canAssignRole(org.role, m.role, r));
              const canChange = m.userId !== props.me && assignable.length > 1;
              // the last owner cannot leave (the service refuses it too): offer a hint instead of the button
              const soleOwner = m.role === "OWNER" && owners === 1;
              const canRemove =
                (m.userId === props.me && !soleOwner) ||
                (m.userId !== props.me &&
                  can(org.role, "members.remove") &&
                  (m.role !== "OWNER" || (org.role === "OWNER" && !soleOwner)));
              return (
                <tr>
                  <td safe>{m.name}</td>
                  <td data-label="GitHub" safe>
                    {githubLabel(m.githubLogin)}
                  </td>
                  <td data-label="Role">
                    {canChange ? (
                      <form method="post" action={`/orgs/${org.id}/members/${m.userId}/role`} class="row">
                        <CsrfField token={props.csrf} />
                        <label>
                          <span class="sr-only" safe>{`Role of ${m.name}`}</span>
                          <select name="role">
                            {assignable.map((r) => (
                              <option value={r} selected={r === m.role} safe>
                                {roleLabel(r)}
                              </option>
                            ))}
                          </select>
                        </label>
                        <button type="submit" class="secondary">
                          Change
                        </button>
                      </form>
                    ) : (
                      <span safe>{roleLabel(m.role)}</span>
                    )}
                  </td>
                  <td>
                    {canRemove ? (
                      <ConfirmButton
                        action={`/orgs/${org.id}/members/${m.userId}/remove`}
                        csrf={props.csrf}
                        confirm={
                          m.userId === props.me
                            ? `Leave ${org.name}? You lose access to its projects until someone invites you again.`
                            : `Remove ${m.name} from ${org.name}? They lose access to its projects until invited again.`
                        }
                        label={m.userId === props.me ? "Leave" : "Remove"}
                        danger
                      />
                    ) : m.userId === props.me && soleOwner ? (
                      <small class="muted">You are the only owner: make someone else an owner before leaving.</small>
                    ) : (
                      ""
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <details class="card">
        <summary>What each role may do</summary>
        <ul>
          <li>
            <strong>Owner</strong>: everything, including ownership, deleting and the audit trail.
          </li>
          <li>
            <strong>Maintainer</strong>: create projects, invite and remove members, manage settings and milestones.
          </li>
          <li>
            <strong>Sponsor</strong>: fund projects, manage and approve milestones, review tasks.
          </li>
          <li>
            <strong>Contributor</strong>: see the org's projects and claim tasks.
          </li>
        </ul>
      </details>
    </Layout>
  );
}
