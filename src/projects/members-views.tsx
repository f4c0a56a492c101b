import { ConfirmButton, CsrfField, ErrorSummary, TableHead } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import { InviteFields, type InviteFormState, InviteLinkCard, InvitesCard, type SentInviteView } from "../invites/views";
import type { ProjectMemberView } from "./members-service";
import type { Project } from "./schema";
import { ProjectHeader } from "./views";

const day = (d: Date) => d.toISOString().slice(0, 10);
const roleLabel = (r: string) => r.charAt(0) + r.slice(1).toLowerCase();
const ROLES = ["MAINTAINER", "SPONSOR", "CONTRIBUTOR"] as const;

const ACCESS_TEXT: Record<ProjectMemberView["repoAccess"], [string, string]> = {
  PENDING_INVITE: ["pending invite", "badge warn"],
  COLLABORATOR: ["collaborator", "badge ok"],
  NONE: ["none", "badge"],
};

/** The project's members page: members with role and repository access, the invite form and the invites. */
export function ProjectMembersPage(
  props: InviteFormState & {
    viewer: Viewer;
    csrf?: string;
    project: Project;
    canAudit: boolean;
    members: ProjectMemberView[];
    invites: SentInviteView[];
  },
) {
  const { project } = props;
  const v = props.values ?? {};
  const base = `/projects/${project.id}`;
  const github = project.repoProvider === "github" && project.repoVisibility === "PRIVATE";
  return (
    <Layout title={`${project.title}: members`} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <ProjectHeader project={project} tab="members" canAudit={props.canAudit} canMembers />
      <p class="muted">
        People invited here belong to this project only. Members of the organization see it through their{" "}
        <a href={`/orgs/${project.orgId}/members`}>organization role</a>.
        {github
          ? " Members with a linked GitHub account are invited as collaborators on the private repository; removing a member removes that access and gives their open claims back."
          : " Removing a member gives their open claims on this project back."}
      </p>
      <div class="card">
        <h2>Members</h2>
        {props.members.length === 0 ? <p class="muted">Nobody was invited to this project yet.</p> : ""}
        <table>
          <TableHead cols={["Member", "Role", "Repository access", "Since"]} actions />
          <tbody>
            {props.members.map((m) => {
              const [text, cls] = ACCESS_TEXT[m.repoAccess];
              return (
                <tr data-member={m.userId}>
                  <td>
                    <span safe>{m.name}</span>
                    {m.githubLogin ? <small class="muted" safe>{` @${m.githubLogin}`}</small> : ""}
                  </td>
                  <td>
                    <form method="post" action={`${base}/members/${m.userId}/role`} class="row">
                      <CsrfField token={props.csrf} />
                      <label class="sr-only" for={`role-${m.userId}`}>
                        Role of {m.name as "safe"}
                      </label>
                      <select id={`role-${m.userId}`} name="role">
                        {ROLES.map((r) => (
                          <option value={r} selected={m.role === r} safe>
                            {roleLabel(r)}
                          </option>
                        ))}
                      </select>
                      <button type="submit" class="secondary">
                        Change
                      </button>
                    </form>
                  </td>
                  <td>
                    <span class={cls} safe>
                      {text}
                    </span>
                  </td>
                  <td safe>{day(m.addedAt)}</td>
                  <td>
                    <ConfirmButton
                      action={`${base}/members/${m.userId}/remove`}
                      csrf={props.csrf}
                      confirm="Remove this member? Their open claims on this project go back to open and their repository access is removed."
                      label="Remove"
                    />
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {props.created ? <InviteLinkCard {...props.created} /> : ""}
      <form method="post" action={`${base}/invites`} class="card stack">
        <h2>Invite to this project</h2>
        <CsrfField token={props.csrf} />
        <ErrorSummary errors={props.errors} message="No invite was sent. Correct the fields below." />
        <InviteFields roles={ROLES} values={v} errors={props.errors} />
      </form>
      <InvitesCard invites={props.invites} csrf={props.csrf} base={`${base}/invites`} />
    </Layout>
  );
}
