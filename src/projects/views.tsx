import { Layout, type Viewer } from "../../ui/layout";
import { CsrfField, ErrorSummary, FieldError, invalid } from "../../ui/components";
import { PROJECT_CSS_PATH } from "./assets";
import type { Project } from "./schema";

/** This domain's stylesheet; pages put it at the top of their content (the layout has no head slot). */
export const ProjectStyles = () => <link rel="stylesheet" href={PROJECT_CSS_PATH} />;

/** The page chrome every project page shares. */
export interface ProjectPageProps {
  /** null: a signed-out visitor reading a public project's overview. */
  viewer: Viewer | null;
  csrf?: string;
  project: Project;
  /** The caller may edit milestones, documents and the project. */
  canManage: boolean;
  /** The caller may see the AI call audit (org owners). */
  canAudit: boolean;
  /** The caller may change the project's settings (owners and maintainers). */
  canUpdate?: boolean;
  sidebar?: JSX.Element;
  flash?: { kind: "error" | "success"; message: string };
}

export type ProjectTab = "overview" | "milestones" | "tasks" | "documents" | "ai" | "funding" | "members";

const stateBadge = (s: string) => (s === "ACTIVE" ? "badge ok" : s === "COMPLETED" ? "badge" : "badge warn");

/** Title, state and tabs of a project. */
export function ProjectHeader({
  project,
  tab,
  canAudit,
  signedOut = false,
  canMembers = false,
}: {
  project: Project;
  tab: ProjectTab;
  canAudit: boolean;
  /** The caller manages the project's members (owners and maintainers). */
  canMembers?: boolean;
  /** A signed-out visitor: only the overview is open to them, so the other tabs are not offered. */
  signedOut?: boolean;
}) {
  const tabs: [ProjectTab, string, string, boolean][] = [
    ["overview", "Overview", `/projects/${project.id}`, true],
    ["milestones", "Milestones", `/projects/${project.id}/milestones`, !signedOut],
    ["tasks", "Tasks", `/projects/${project.id}/tasks`, !signedOut],
    ["documents", "Documents", `/projects/${project.id}/documents`, !signedOut],
    ["funding", "Funding", `/projects/${project.id}/funding`, !signedOut],
    ["ai", "AI audit", `/projects/${project.id}/ai-calls`, canAudit],
    ["members", "Members", `/projects/${project.id}/members`, canMembers],
  ];
  return (
    <>
      <ProjectStyles />
      <p class="muted crumb">
        {signedOut ? <a href="/explore">Explore</a> : <a href={`/orgs/${project.orgId}/projects`}>Projects</a>}
      </p>
      <h1>
        <span safe>{project.title}</span> <span class={stateBadge(project.state)}>{project.state}</span>
      </h1>
      <nav aria-label="Project" class="ptabs">
        {tabs
          .filter((t) => t[3])
          .map(([key, label, href]) => (
            <a href={href} aria-current={key === tab ? "page" : undefined} safe>
              {label}
            </a>
          ))}
      </nav>
    </>
  );
}

/** A list of projects with their org, state and points. */
export function ProjectTable({ projects }: { projects: (Project & { orgName?: string })[] }) {
  if (!projects.length) return <p class="muted">No projects yet.</p>;
  return (
    <table>
      <thead>
        <tr>
          <th scope="col">Project</th>
          <th scope="col">Organization</th>
          <th scope="col">Repository</th>
          <th scope="col">State</th>
          <th scope="col">Points</th>
        </tr>
      </thead>
      <tbody>
        {projects.map((p) => (
          <tr>
            <td>
              <a href={`/projects/${p.id}`} safe>
                {p.title}
              </a>
            </td>
            <td safe>{p.orgName ?? ""}</td>
            <td class="muted" safe>
              {`${p.repoFullName ?? p.repoUrl ?? "—"}${p.repoVisibility === "PRIVATE" ? " (private)" : ""}`}
            </td>
            <td>
              <span class={stateBadge(p.state)}>{p.state}</span>
            </td>
            <td safe>{String(p.totalPoints)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Every project the caller can see. */
export function ProjectListPage(props: {
  viewer: Viewer;
  csrf?: string;
  projects: (Project & { orgName?: string })[];
  title: string;
  newHref?: string;
}) {
  return (
    <Layout title={props.title} viewer={props.viewer} csrfToken={props.csrf}>
      <ProjectStyles />
      <h1 safe>{props.title}</h1>
      {props.newHref ? (
        <p>
          <a class="button" href={props.newHref}>
            New project
          </a>
        </p>
      ) : (
        ""
      )}
      <div class="card">
        <ProjectTable projects={props.projects} />
      </div>
    </Layout>
  );
}

/** Values of the new-project form (kept when it is shown again with errors). */
export type ProjectForm = Record<string, string>;

/** The new-project form (spec §3.1.3). */
export function NewProjectPage(props: {
  viewer: Viewer;
  csrf?: string;
  orgId: string;
  orgName: string;
  values?: ProjectForm;
  errors?: Record<string, string>;
}) {
  const v = props.values ?? {};
  const sel = (name: string, value: string, dflt = false) => (v[name] ? v[name] === value : dflt);
  return (
    <Layout title="New project" viewer={props.viewer} csrfToken={props.csrf}>
      <ProjectStyles />
      <p class="muted crumb" safe>
        {props.orgName}
      </p>
      <h1>New project</h1>
      <form class="stack card" method="post" action={`/orgs/${props.orgId}/projects`}>
        <CsrfField token={props.csrf} />
        <ErrorSummary errors={props.errors} message="The project was not created. Correct the fields below." />
        <label>
          Title
          <input name="title" required maxlength="200" value={v.title ?? ""} {...invalid(props.errors, "title")} />
          <FieldError errors={props.errors} name="title" />
        </label>
        <label>
          Description
          <span class="help">
            What should be built? The milestone planner drafts from this text, your documents and the repository.
          </span>
          <textarea name="description" rows="8" maxlength="20000" {...invalid(props.errors, "description")} safe>
            {v.description ?? ""}
          </textarea>
          <FieldError errors={props.errors} name="description" />
        </label>
        <label>
          Repository
          <span class="help">A GitHub or GitHub Enterprise URL, any git URL, or a path on this server. Optional.</span>
          <input
            name="repoUrl"
            maxlength="500"
            placeholder="https://github.com/owner/name"
            value={v.repoUrl ?? ""}
            {...invalid(props.errors, "repoUrl")}
          />
          <FieldError errors={props.errors} name="repoUrl" />
        </label>
        <fieldset>
          <legend>Visibility</legend>
          <label class="choice">
            <input type="radio" name="repoType" value="PUBLIC" checked={sel("repoType", "PUBLIC", true)} /> Public:
            listed for every contributor
          </label>
          <br />
          <label class="choice">
            <input type="radio" name="repoType" value="PRIVATE" checked={sel("repoType", "PRIVATE")} /> Private: members
            and invited contributors only
          </label>
        </fieldset>
        <div class="grid2">
          <label>
            Token contract
            <span class="help">Empty for the chain's native coin; an ERC-20 address otherwise.</span>
            <input
              name="tokenAddress"
              placeholder="0x…"
              value={v.tokenAddress ?? ""}
              {...invalid(props.errors, "tokenAddress")}
            />
            <FieldError errors={props.errors} name="tokenAddress" />
          </label>
          <label>
            Token decimals
            <input
              name="tokenDecimals"
              inputmode="numeric"
              placeholder="18"
              value={v.tokenDecimals ?? ""}
              {...invalid(props.errors, "tokenDecimals")}
            />
            <FieldError errors={props.errors} name="tokenDecimals" />
          </label>
        </div>
        <label>
          Funding mode
          <select name="fundingMode">
            <option value="ESCROW" selected={sel("fundingMode", "ESCROW", true)}>
              Escrow: funds wait in the contract
            </option>
            <option value="YIELD" selected={sel("fundingMode", "YIELD")}>
              Yield: idle funds earn in a vault
            </option>
          </select>
        </label>
        <label class="check">
          <input type="checkbox" name="payoutReview" checked={v.payoutReview === "on"} /> Maintainer approval before
          payout
          <span class="help">
            Without it, work that passes verification is paid at once; with it, a sponsor or maintainer approves each
            verified task first.
          </span>
        </label>
        <VerificationRunsField value={v.verificationRuns === "2" ? 2 : 1} />
        <p>
          <button type="submit">Create project</button>
        </p>
      </form>
    </Layout>
  );
}

/** How many times each verification runs (the project form and the overview's settings). */
function VerificationRunsField({ value }: { value: number }) {
  return (
    <label>
      Verification runs
      <select name="verificationRuns">
        <option value="1" selected={value === 1}>
          Once
        </option>
        <option value="2" selected={value === 2}>
          Twice: a test that changes verdict is flaky, and the task waits for a maintainer
        </option>
      </select>
      <span class="help">
        A flaky verdict is never paid by itself: a maintainer approves it, sends it back or verifies again.
      </span>
    </label>
  );
}

/** The project's verification settings (owners and maintainers): payout review and the number of runs. */
function VerificationSettings({ project, csrf }: { project: Project; csrf?: string }) {
  return (
    <details class="card">
      <summary>Verification settings</summary>
      <form method="post" action={`/projects/${project.id}/settings`} class="stack">
        <CsrfField token={csrf} />
        <label class="check">
          <input type="checkbox" name="payoutReview" checked={project.payoutReview} /> Maintainer approval before payout
        </label>
        <VerificationRunsField value={project.verificationRuns} />
        <label>
          Repository access of a claimer (private GitHub repositories)
          <select name="repoAccessAfterPayment">
            <option value="REMOVE" selected={project.repoAccessAfterPayment === "REMOVE"}>
              Removed on unclaim, expiry and payment
            </option>
            <option value="KEEP" selected={project.repoAccessAfterPayment === "KEEP"}>
              Removed on unclaim and expiry, kept after payment
            </option>
          </select>
        </label>
        <p>
          <button type="submit">Save settings</button>
        </p>
      </form>
    </details>
  );
}

/** Where the repository is; a signed-out visitor is not shown a path on this server. */
function repoText(p: Project, signedOut: boolean): string {
  if (!p.repoUrl) return "none";
  if (signedOut && !/^https?:\/\//.test(p.repoUrl)) return "on this server";
  return `${p.repoUrl}${p.repoProviderId ? ` (GitHub id ${p.repoProviderId})` : ""}`;
}

/** The project overview tab. */
export function ProjectOverviewPage(
  props: ProjectPageProps & {
    milestoneCount: number;
    documentCount: number;
    draftPoints: number;
    funding?: JSX.Element;
  },
) {
  const p = props.project;
  return (
    <Layout title={p.title} viewer={props.viewer} csrfToken={props.csrf} sidebar={props.sidebar} flash={props.flash}>
      <ProjectHeader
        project={p}
        tab="overview"
        canAudit={props.canAudit}
        signedOut={!props.viewer}
        canMembers={props.canUpdate}
      />
      <div class="card">
        <p safe class="pre-line">
          {p.description || "No description."}
        </p>
      </div>
      {props.viewer ? (
        ""
      ) : (
        <div class="card">
          <p>
            <a href={`/explore?repo=${encodeURIComponent(p.title)}`}>See this project's open tasks</a> on the explore
            board, or <a href={`/signin?next=${encodeURIComponent(`/projects/${p.id}`)}`}>sign in</a> to see its
            milestones and documents and to claim work.
          </p>
        </div>
      )}
      <div class="card">
        <table>
          <tbody>
            <tr>
              <th scope="row">Repository</th>
              <td safe>{`${repoText(p, !props.viewer)} · ${p.repoVisibility.toLowerCase()}`}</td>
            </tr>
            <tr>
              <th scope="row">Token</th>
              <td safe>
                {`${p.tokenAddress ? `${p.tokenSymbol ?? "ERC-20"} ${p.tokenAddress}` : (p.tokenSymbol ?? "native coin")} · ${p.tokenDecimals} decimals`}
              </td>
            </tr>
            <tr>
              <th scope="row">Funding mode</th>
              <td safe>{p.fundingMode.toLowerCase()}</td>
            </tr>
            <tr>
              <th scope="row">Points</th>
              <td safe>
                {p.structureApprovedAt
                  ? `${p.totalPoints} (structure approved)`
                  : `${props.draftPoints} in the current draft (not approved yet)`}
              </td>
            </tr>
            <tr>
              <th scope="row">Verification</th>
              <td safe>
                {`${p.verificationRuns === 2 ? "runs twice (flaky tests wait for a maintainer)" : "runs once"}${p.payoutReview ? " · a maintainer approves each payout" : " · passed work is paid at once"}`}
              </td>
            </tr>
            <tr>
              <th scope="row">Milestones · documents</th>
              <td safe>
                {String(props.milestoneCount)} · {String(props.documentCount)}
              </td>
            </tr>
          </tbody>
        </table>
      </div>
      {props.canUpdate ? <VerificationSettings project={p} csrf={props.csrf} /> : ""}
      {props.canUpdate ? (
        <p>
          <a href={`/projects/${p.id}/members`}>Members and invites</a>
        </p>
      ) : (
        ""
      )}
      {(props.funding ?? "") as "safe"}
      {props.canManage && !p.structureApprovedAt ? (
        <p>
          <a class="button" href={`/projects/${p.id}/milestones`}>
            Plan milestones
          </a>
        </p>
      ) : (
        ""
      )}
    </Layout>
  );
}
