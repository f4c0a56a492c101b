import { escapeHtml } from "@kitajs/html";
import { formatUnits } from "viem";
import { AcceptanceFields, ConfirmField, CsrfField, ErrorSummary, Field, type FormProps } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import type { JobEvent } from "../core/jobs";
import type { PendingInvite } from "../github/access";
import { ID_SEPARATOR } from "../harness/results";
import type { Project } from "../projects/schema";
import { ProjectHeader } from "../projects/views";
import type { AcceptanceView } from "./acceptance";
import type { TaskVerification } from "./schema";
import type { Earning, TaskDetail } from "./service";

interface PageBase {
  viewer: Viewer;
  csrf?: string;
  flash?: { kind: "error" | "success"; message: string };
}

/** Pages inside a project: its header and tabs, and the AI sidebar. */
interface ProjectChrome extends PageBase {
  canAudit: boolean;
  sidebar?: JSX.Element;
}

const badge = (s: string) =>
  s === "PAID" || s === "PASSED" || s === "VERIFIED"
    ? "badge ok"
    : s === "FAILED" || s === "ERROR" || s === "FLAKY"
      ? "badge bad"
      : s === "OPEN"
        ? "badge"
        : "badge warn";

/** A token amount in base units, in whole tokens with the symbol. */
export const tokens = (base: string | null | undefined, decimals: number, symbol: string | null) =>
  base ? `${formatUnits(BigInt(base), decimals)} ${symbol ?? "ETH"}` : "—";

/** A task's payout in US dollars at the project's point rate. */
const usd = (points: number, centsPerPoint: number) =>
  `$${((points * centsPerPoint) / 100).toLocaleString("en-US", { maximumFractionDigits: 2 })}`;

const when = (d: Date | null | undefined) => (d ? `${d.toISOString().slice(0, 16).replace("T", " ")} UTC` : "");

const ActionForm = (p: { action: string; csrf?: string; label: string; secondary?: boolean; confirm?: string }) => (
  <form method="post" action={p.action} class="inline">
    <CsrfField token={p.csrf} />
    <ConfirmField text={p.confirm} />
    <button type="submit" class={p.secondary ? "secondary" : undefined} safe>
      {p.label}
    </button>
  </form>
);

const NAMED_MARK: Record<string, string> = { passed: "✓", failed: "✗", missing: "?", flaky: "~" };

/**
 * What the harness found against the acceptance rule: each named test passed / failed / missing / flaky, the new
 * failures since the base commit, protected paths the work changed (a refusal), flaky tests, and the signature.
 */
function VerdictDetails({ v }: { v: TaskVerification }) {
  const finished = v.status !== "QUEUED" && v.status !== "RUNNING";
  const named = v.named ?? [];
  const protectedChanges = v.protectedChanges ?? [];
  const flaky = v.flaky ?? [];
  return (
    <div class="verdict">
      {named.length ? (
        <>
          <p class="small">Named acceptance tests:</p>
          <ul class="tests named">
            {named.map((n) => (
              <li class={n.status === "passed" ? "ok" : "bad"}>
                <span safe>{NAMED_MARK[n.status] ?? ""}</span> <code safe>{n.id}</code>{" "}
                <span class={badge(n.status === "passed" ? "PASSED" : "FAILED")}>{n.status}</span>
              </li>
            ))}
          </ul>
        </>
      ) : (
        ""
      )}
      {v.newFailures !== null && v.newFailures !== undefined ? (
        <p class={v.newFailures > 0 ? "small bad" : "small muted"} safe>
          {v.newFailures === 0
            ? `No new failures since the base commit${v.baseCommit ? ` ${v.baseCommit.slice(0, 12)}` : ""}.`
            : `${v.newFailures} test${v.newFailures === 1 ? "" : "s"} that passed at the base commit${v.baseCommit ? ` ${v.baseCommit.slice(0, 12)}` : ""} fail${v.newFailures === 1 ? "s" : ""} now.`}
        </p>
      ) : (
        ""
      )}
      {protectedChanges.length ? (
        <div class="help bad">
          <p
            safe
          >{`Refused: the work changed ${protectedChanges.length} protected path${protectedChanges.length === 1 ? "" : "s"} (tests, test runner or CI configuration):`}</p>
          <ul class="tests">
            {protectedChanges.slice(0, 50).map((f) => (
              <li>
                <code safe>{f}</code>
              </li>
            ))}
          </ul>
        </div>
      ) : (
        ""
      )}
      {flaky.length ? (
        <p class="small bad">
          <span>Flaky (changed verdict between two runs): </span>
          {flaky.slice(0, 20).map((id, k) => (
            <>
              {k ? ", " : ""}
              <code safe>{id}</code>
            </>
          ))}
          {flaky.length > 20 ? ", …" : ""}
        </p>
      ) : (
        ""
      )}
      {finished && v.status !== "ERROR" ? (
        <p class="small muted">
          {v.signedReport
            ? `Report signed by the harness (${v.signedReport.signer.slice(0, 10)}…).`
            : "Report not signed by the harness: the acceptance rule did not hold."}
        </p>
      ) : (
        ""
      )}
    </div>
  );
}

/** One verification in the timeline: its verdict, the failing tests named, and the log while it runs. */
function VerificationItem({ v, log }: { v: TaskVerification; log?: JobEvent[] }) {
  // A step's own leaf ("test") fails whenever one of its tests does: name the tests, and a step only when it
  // failed without a failing test (an install that broke, a command that crashed).
  const failed = (v.tests ?? []).filter((t) => !t.passed);
  const failedTests = failed.filter((t) => t.id.includes(ID_SEPARATOR));
  const failing = failedTests.length ? failedTests : failed;
  const tests = (v.tests ?? []).filter((t) => t.id.includes(ID_SEPARATOR));
  return (
    <li class="verification">
      <p>
        <span class={badge(v.status)}>{v.status}</span> <span safe>{`verification of ${v.commit.slice(0, 12)}`}</span>
        {v.attempt > 1 ? <span class="muted" safe>{` (attempt ${v.attempt})`}</span> : ""}{" "}
        <span class="muted" safe>
          {when(v.finishedAt ?? v.createdAt)}
        </span>
      </p>
      {v.passedCount !== null ? (
        <p class="muted" safe>{`${v.passedCount} passed, ${v.failedCount ?? 0} failed`}</p>
      ) : (
        ""
      )}
      {v.reason ? (
        <p class="help bad" safe>
          {v.reason}
        </p>
      ) : (
        ""
      )}
      <VerdictDetails v={v} />
      {failing.length ? (
        <details open>
          <summary>{failedTests.length ? "Failing tests" : "Failed steps"}</summary>
          <ul class="tests">
            {failing.slice(0, 50).map((t) => (
              <li class="bad" safe>
                {t.id}
              </li>
            ))}
          </ul>
        </details>
      ) : (
        ""
      )}
      {tests.length ? (
        <details>
          <summary safe>{`All ${tests.length} test${tests.length === 1 ? "" : "s"}`}</summary>
          <ul class="tests">
            {tests.slice(0, 500).map((t) => (
              <li class={t.passed ? "ok" : "bad"} safe>
                {`${t.passed ? "✓" : "✗"} ${t.id}`}
              </li>
            ))}
          </ul>
        </details>
      ) : (
        ""
      )}
      {log?.length ? (
        <details open={v.status === "RUNNING" || v.status === "QUEUED"}>
          <summary>Live log</summary>
          <pre class="log" safe>
            {log
              .map((e) => (e.type === "log" ? e.line : e.type === "progress" ? `${e.pct}% ${e.message ?? ""}` : ""))
              .filter(Boolean)
              .slice(-200)
              .join("\n")}
          </pre>
        </details>
      ) : (
        ""
      )}
    </li>
  );
}

/** The workbench timeline: claimed, linked, each verification with its log, payment; polls while work is under way. */
export function Timeline({ d, log }: { d: TaskDetail; log?: JobEvent[] }) {
  // VERIFIED is a moment between the verdict and the payout when nobody reviews: a poll landing there goes on.
  const live =
    d.task.status === "VERIFYING" ||
    d.task.status === "PAYING" ||
    (d.task.status === "VERIFIED" && !d.project.payoutReview && d.verifications.at(-1)?.status === "PASSED");
  const c = d.claim;
  return (
    <section
      id="timeline"
      aria-live="polite"
      hx-get={live ? `/tasks/${d.task.id}/timeline?shown=${d.task.status}` : undefined}
      hx-trigger={live ? "every 2s" : undefined}
      hx-swap={live ? "outerHTML" : undefined}
    >
      <h2>Timeline</h2>
      <p>
        State:{" "}
        <span class={badge(d.task.status)} id="task-status">
          {d.task.status}
        </span>
      </p>
      <ol class="timeline">
        {c ? (
          <li safe>{`Claimed by ${c.userName} — ${when(c.claimedAt)}`}</li>
        ) : (
          <li class="muted">Not claimed yet.</li>
        )}
        {c && c.state === "ACTIVE" && d.links.length === 0 ? (
          <li class="muted" safe>{`Link your work before ${when(c.expiresAt)} or the claim ends.`}</li>
        ) : (
          ""
        )}
        {d.links.map((l) => (
          <li>
            <span
              safe
            >{`Work linked: ${l.kind === "pull_request" ? (l.url ?? "") : `${l.branch} of ${l.repoUrl}`} at `}</span>
            <code safe>{l.commit.slice(0, 12)}</code>{" "}
            <span class="muted" safe>
              {when(l.createdAt)}
            </span>
          </li>
        ))}
        {d.verifications.map((v, i) => (
          <VerificationItem v={v} log={i === d.verifications.length - 1 ? log : undefined} />
        ))}
        {d.proof ? (
          <li>
            <span class={badge(d.proof.status === "FAILED" ? "FAILED" : "PASSED")}>PROOF</span>{" "}
            <span
              safe
            >{`Groth16 proof of the signed report made (receipt ${d.proof.id}), bound to this task, payee and amount`}</span>{" "}
            <span class="muted" safe>
              {when(d.proof.createdAt)}
            </span>
          </li>
        ) : d.task.status === "PAYING" ? (
          <li>Proving the signed report…</li>
        ) : (
          ""
        )}
        {d.task.status === "PAYING" && !d.payment?.txHash ? <li>Payment under way…</li> : ""}
        {d.payment ? (
          <li>
            <span class={badge(d.payment.status === "COMPLETED" ? "PAID" : d.payment.status)} safe>
              {d.payment.status === "COMPLETED" ? "PAID" : d.payment.status}
            </span>{" "}
            <span safe>{tokens(d.payment.amount, d.project.tokenDecimals, d.project.tokenSymbol)}</span>
            {d.payment.txHash ? (
              <>
                {" "}
                transaction{" "}
                <code id="payment-tx" safe>
                  {d.payment.txHash}
                </code>
              </>
            ) : (
              ""
            )}
            {d.payment.blockNumber !== null ? <span safe>{` in block ${d.payment.blockNumber}`}</span> : ""}
            <span class="muted" safe>{` ${when(d.payment.releasedAt)}`}</span>
          </li>
        ) : (
          ""
        )}
      </ol>
    </section>
  );
}

/** The state badge beside the task's title; `oob` when a timeline poll replaces it in place. */
export const TaskBadge = (p: { status: string; oob?: boolean }) => (
  <span id="task-badge" class={badge(p.status)} hx-swap-oob={p.oob ? "true" : undefined} safe>
    {p.status}
  </span>
);

/**
 * What the caller may do with the task (claim, give up, verify again, review, release, link work). A timeline
 * poll that sees the state change sends it again out of band, so no stale button outlives its state.
 */
export function TaskActions(p: FormProps & { d: TaskDetail; csrf?: string; oob?: boolean }) {
  const { d } = p;
  const t = d.task;
  return (
    <div id="task-actions" hx-swap-oob={p.oob ? "true" : undefined}>
      <section class="actions">
        {d.actions.claim ? (
          d.hasPayoutWallet ? (
            <ActionForm action={`/tasks/${t.id}/claim`} csrf={p.csrf} label="Claim this task" />
          ) : (
            <p>
              To claim this task, first{" "}
              <a href={`/profile?next=${encodeURIComponent(`/tasks/${t.id}`)}#wallets`}>add a payout wallet</a> (sign in
              with Ethereum); payouts go there.
            </p>
          )
        ) : (
          ""
        )}
        {d.actions.unclaim ? (
          <ActionForm
            action={`/tasks/${t.id}/unclaim`}
            csrf={p.csrf}
            label="Give up this task"
            secondary
            confirm="Give up this task? It becomes open for others to claim."
          />
        ) : (
          ""
        )}
        {d.actions.verifyAgain ? (
          <ActionForm action={`/tasks/${t.id}/verify`} csrf={p.csrf} label="Verify again" secondary />
        ) : (
          ""
        )}
        {d.actions.review ? (
          <>
            {d.verifications.at(-1)?.status === "FLAKY" ? (
              <p class="help" safe>
                {`The last verification was flaky (${(d.verifications.at(-1)?.reason ?? "").replace(/^flaky:\s*/, "") || "tests changed verdict between runs"}). Decide: approve, send it back, or verify again.`}
              </p>
            ) : (
              ""
            )}
            {d.approveBlocked ? (
              <p class="help bad">
                <button type="button" class="secondary" disabled aria-describedby="approve-blocked">
                  Approve and pay (not possible)
                </button>{" "}
                <span id="approve-blocked" safe>
                  {d.approveBlocked}
                </span>
              </p>
            ) : (
              <ActionForm
                action={`/tasks/${t.id}/approve`}
                csrf={p.csrf}
                label="Approve and pay"
                confirm="Approve this work? The payment is released from the escrow and cannot be taken back."
              />
            )}
            <form method="post" action={`/tasks/${t.id}/reject`} class="stack">
              <CsrfField token={p.csrf} />
              <Field name="comment" label="Request changes" values={p.values} errors={p.errors} maxlength={2000} />
              <button type="submit" class="secondary">
                Send back to the claimer
              </button>
            </form>
          </>
        ) : (
          ""
        )}
        {d.actions.release ? (
          <ActionForm
            action={`/tasks/${t.id}/release`}
            csrf={p.csrf}
            label="Release the claim"
            secondary
            confirm="Take this claim back? The task becomes open and the claimer is told."
          />
        ) : (
          ""
        )}
      </section>
      {d.actions.link ? (
        <section>
          <h2>Link your work</h2>
          <p class="muted">
            A pull request on the project's repository, or a branch of the repository or of a fork. The commit must be
            newer than your claim; each new commit is verified again.
          </p>
          <form method="post" action={`/tasks/${t.id}/work`} class="stack">
            <CsrfField token={p.csrf} />
            <ErrorSummary errors={p.errors} message={p.errors ? "The work could not be linked." : undefined} />
            <Field name="prUrl" label="Pull request URL" values={p.values} errors={p.errors} maxlength={500} />
            <p class="muted">or</p>
            <Field
              name="repoUrl"
              label="Repository URL (empty: the project's repository)"
              values={p.values}
              errors={p.errors}
              maxlength={500}
            />
            <Field name="branch" label="Branch" values={p.values} errors={p.errors} maxlength={200} />
            <Field
              name="commit"
              label="Commit (optional: the branch's head)"
              values={p.values}
              errors={p.errors}
              maxlength={40}
            />
            <button type="submit">Link and verify</button>
          </form>
        </section>
      ) : (
        ""
      )}
    </div>
  );
}

/**
 * The acceptance tests as contributors see them before they claim: the named tests, the pinned commit and the
 * rule in words; a hidden bundle as a count only. Reviewers also get the forms to change them and the bundle's
 * file names (the service left them out for everyone else).
 */
export function AcceptanceSection(p: FormProps & { a: AcceptanceView; taskId: string; csrf?: string }) {
  const { a } = p;
  const short = a.commit?.slice(0, 12);
  return (
    <section id="acceptance">
      <h2>Acceptance tests</h2>
      {a.tests.length ? (
        <ul class="tests named">
          {a.tests.map((id) => (
            <li>
              <code safe>{id}</code>
            </li>
          ))}
        </ul>
      ) : (
        ""
      )}
      <p>
        {a.tests.length && (a.pin || !a.approved) ? (
          <span safe>{`These ${a.tests.length} test${a.tests.length === 1 ? "" : "s"} must run and pass`}</span>
        ) : a.tests.length ? (
          <span>The named tests are not pinned: every test must pass</span>
        ) : (
          <span>No tests are named: every test must pass</span>
        )}
        {short ? (
          <>
            {"; no test that passed at "}
            {a.commitUrl ? (
              <a href={a.commitUrl}>
                <code safe>{short}</code>
              </a>
            ) : (
              <code safe>{short}</code>
            )}
            {" may fail."}
          </>
        ) : (
          "."
        )}
      </p>
      {a.files.length ? (
        <p class="small">
          <span safe>{`Test files${a.pin ? " (taken from the pinned commit, over your work)" : ""}: `}</span>
          {a.files.map((f, i) => (
            <>
              {i ? ", " : ""}
              <code safe>{f}</code>
            </>
          ))}
        </p>
      ) : (
        ""
      )}
      {a.hiddenFiles ? (
        <p
          class="small"
          safe
        >{`Plus ${a.hiddenFiles} hidden acceptance test file${a.hiddenFiles === 1 ? "" : "s"}, kept by the sponsor and run by the harness.`}</p>
      ) : (
        ""
      )}
      {a.canChange && a.tests.length && !a.files.length && !a.hiddenFiles ? (
        <p class="flash warning inline">
          No test file is pinned: the named tests would run from the contributor's own files, which the work can change.
          Name the test files (committed to the repository) or upload a hidden test bundle.
        </p>
      ) : (
        ""
      )}
      <p class="small muted">
        {escapeHtml(
          a.pin
            ? `Pinned ${a.pin.pinnedAt.slice(0, 16).replace("T", " ")} UTC${a.pin.kind === "commit" ? ` to ${a.pin.ref.replace(/^refs\/heads\//, "")} at ${short}` : short ? ` to a hidden test bundle on ${short}` : " to a hidden test bundle"}.`
            : a.approved
              ? "Not pinned: the repository could not be read when the plan was approved. Until the sponsor saves the acceptance tests again (which pins them), every test must pass."
              : "Not pinned yet: they are pinned to the default branch's head when the plan is approved.",
        )}
      </p>
      {a.bundle ? (
        <details>
          <summary
            safe
          >{`Hidden test bundle: ${a.bundle.files.length} file${a.bundle.files.length === 1 ? "" : "s"} (only reviewers see this)`}</summary>
          <p class="small" safe>
            {`${Math.ceil(a.bundle.sizeBytes / 1024)} KB, sha256 ${a.bundle.sha256.slice(0, 16)}…, uploaded ${when(a.bundle.uploadedAt)}. Contributors see the count only.`}
          </p>
          <ul class="tests">
            {a.bundle.files.slice(0, 100).map((f) => (
              <li>
                <code safe>{f}</code>
              </li>
            ))}
          </ul>
          {a.canChange ? (
            <ActionForm
              action={`/tasks/${p.taskId}/test-bundle/delete`}
              csrf={p.csrf}
              label="Remove the bundle"
              secondary
              confirm="Remove the hidden test bundle? The task is pinned to the base commit's tests again."
            />
          ) : (
            ""
          )}
        </details>
      ) : (
        ""
      )}
      {a.canChange ? (
        <details>
          <summary>Change the acceptance tests</summary>
          <form method="post" action={`/tasks/${p.taskId}/acceptance`} class="stack wide">
            <CsrfField token={p.csrf} />
            <AcceptanceFields tests={a.tests} files={a.files} values={p.values} errors={p.errors} />
            <label>
              Suite command <span class="help">empty: detected from the repository</span>
              <input name="testCommand" value={a.testCommand} maxlength="300" />
            </label>
            <p class="help">{a.pin ? "Saving pins the task again to the default branch's head." : ""}</p>
            <button type="submit">Save acceptance tests</button>
          </form>
          <h3>Hidden test bundle</h3>
          <p class="small muted">
            A .tar or .tar.gz of test files (at most 5 MB) that contributors never see; it is stored encrypted and put
            over the contributor's work when the harness runs.
          </p>
          <form method="post" action={`/tasks/${p.taskId}/test-bundle`} enctype="multipart/form-data" class="stack">
            <CsrfField token={p.csrf} />
            <label>
              {a.bundle ? "Replace the bundle" : "Upload a bundle"}
              <input type="file" name="bundle" accept=".tar,.tgz,.tar.gz,application/x-tar,application/gzip" required />
            </label>
            <button type="submit" class="secondary">
              Upload
            </button>
          </form>
        </details>
      ) : (
        ""
      )}
    </section>
  );
}

/** The task page and the claimer's workbench: details, acceptance criteria, what the caller may do, the timeline. */
export function TaskPage(
  p: ProjectChrome &
    FormProps & {
      d: TaskDetail;
      pointRateUsdCents: number;
      log?: JobEvent[];
      /** The claimer's repository invitation not accepted yet: their work cannot be pushed or linked before. */
      invite?: PendingInvite | null;
    },
) {
  const { d } = p;
  const t = d.task;
  const project = d.project;
  return (
    <Layout title={t.title} viewer={p.viewer} csrfToken={p.csrf} flash={p.flash} sidebar={p.sidebar}>
      <ProjectHeader project={project} tab="tasks" canAudit={p.canAudit} />
      <p class="muted">
        Milestone:{" "}
        <a href={`/milestones/${t.milestoneId}`} safe>
          {d.milestoneTitle}
        </a>
      </p>
      <h2>
        <span safe>{t.title}</span> <TaskBadge status={t.status} />
      </h2>
      <p safe>{t.description}</p>
      <dl class="facts">
        <dt>Points</dt>
        <dd safe>{String(t.points)}</dd>
        <dt>Payout</dt>
        <dd safe>
          {`${tokens(t.payoutAmount, project.tokenDecimals, project.tokenSymbol)} (about ${usd(t.points, p.pointRateUsdCents)})`}
        </dd>
        <dt>Verification</dt>
        <dd safe>
          {`at least ${t.verification.minPassingTests} passing test${t.verification.minPassingTests === 1 ? "" : "s"}, no failing test; ${t.verification.testCommand || "test command detected from the repository"}`}
        </dd>
        {t.verification.rules.map((r) => (
          <dd safe>{r}</dd>
        ))}
        {t.estimatedHours ? (
          <>
            <dt>Estimate</dt>
            <dd safe>{`${t.estimatedHours} hours`}</dd>
          </>
        ) : (
          ""
        )}
        {project.payoutReview ? (
          <>
            <dt>Review</dt>
            <dd>A maintainer approves verified work before it is paid.</dd>
          </>
        ) : (
          ""
        )}
      </dl>
      {t.acceptanceCriteria.length ? (
        <>
          <h2>Acceptance criteria</h2>
          <ul>
            {t.acceptanceCriteria.map((a) => (
              <li safe>{a}</li>
            ))}
          </ul>
        </>
      ) : (
        ""
      )}
      <AcceptanceSection a={d.acceptance} taskId={t.id} csrf={p.csrf} values={p.values} errors={p.errors} />
      {p.invite ? <InvitePending invite={p.invite} /> : ""}
      <TaskActions d={d} csrf={p.csrf} values={p.values} errors={p.errors} />
      <Timeline d={d} log={p.log} />
    </Layout>
  );
}

/** Tells the claimer of a private repository's task to accept its invitation on GitHub first (GITHUB_INVITE_PENDING). */
function InvitePending(p: { invite: PendingInvite }) {
  return (
    <div class="flash warning" role="status" id="github-invite">
      <span
        safe
      >{`You are invited to ${p.invite.repo} on GitHub as ${p.invite.login}, but have not accepted yet.`}</span>{" "}
      <a href={p.invite.acceptUrl} rel="noopener">
        Accept the invitation on GitHub
      </a>
      , then push your work there and link it below.
    </div>
  );
}

/** Rows of the project's task list. */
export interface TaskRow {
  id: string;
  title: string;
  milestoneTitle: string;
  points: number;
  status: string;
  payoutAmount: string | null;
  claimer: string | null;
}

/** A project's tasks with state, points and payout, for contributors and sponsors. */
export function ProjectTasksPage(
  p: ProjectChrome & {
    project: Project;
    tasks: TaskRow[];
    pointRateUsdCents: number;
    payments: { taskTitle: string; amount: string; txHash: string | null; status: string }[];
    remaining: string | null;
  },
) {
  return (
    <Layout
      title={`Tasks · ${p.project.title}`}
      viewer={p.viewer}
      csrfToken={p.csrf}
      flash={p.flash}
      sidebar={p.sidebar}
    >
      <ProjectHeader project={p.project} tab="tasks" canAudit={p.canAudit} />
      {p.tasks.length === 0 ? (
        <p class="muted">No tasks yet: the plan is drafted on the Milestones tab.</p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Task</th>
                <th scope="col">Milestone</th>
                <th scope="col">Points</th>
                <th scope="col">Payout</th>
                <th scope="col">State</th>
                <th scope="col">Claimed by</th>
              </tr>
            </thead>
            <tbody>
              {p.tasks.map((t) => (
                <tr>
                  <td>
                    <a href={`/tasks/${t.id}`} safe>
                      {t.title}
                    </a>
                  </td>
                  <td safe>{t.milestoneTitle}</td>
                  <td safe>{String(t.points)}</td>
                  <td safe>
                    {`${tokens(t.payoutAmount, p.project.tokenDecimals, p.project.tokenSymbol)} · ${usd(t.points, p.pointRateUsdCents)}`}
                  </td>
                  <td>
                    <span class={badge(t.status)} safe>
                      {t.status}
                    </span>
                  </td>
                  <td safe>{t.claimer ?? "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {p.payments.length ? (
        <>
          <h2>Payments</h2>
          {p.remaining !== null ? (
            <p
              safe
            >{`Remaining in escrow for unpaid tasks: ${tokens(p.remaining, p.project.tokenDecimals, p.project.tokenSymbol)}`}</p>
          ) : (
            ""
          )}
          <ul>
            {p.payments.map((x) => (
              <li>
                <span
                  safe
                >{`${x.taskTitle}: ${tokens(x.amount, p.project.tokenDecimals, p.project.tokenSymbol)} `}</span>
                <span class={badge(x.status === "COMPLETED" ? "PAID" : x.status)} safe>
                  {x.status}
                </span>{" "}
                {x.txHash ? <code safe>{x.txHash}</code> : ""}
              </li>
            ))}
          </ul>
        </>
      ) : (
        ""
      )}
    </Layout>
  );
}

/** One of the caller's claims. */
export interface MyTaskRow {
  taskId: string;
  title: string;
  projectTitle: string;
  status: string;
  claimState: string;
  expiresAt: Date;
}

/** The contributor's claims, open ones first. */
export function MyTasksPage(p: PageBase & { rows: MyTaskRow[] }) {
  return (
    <Layout title="My tasks" viewer={p.viewer} csrfToken={p.csrf} flash={p.flash}>
      <h1>My tasks</h1>
      <p>
        <a href="/me/earnings">Earnings</a>
      </p>
      {p.rows.length === 0 ? (
        <p class="muted">No claims yet. Open a funded project's tasks and claim one.</p>
      ) : (
        <ul class="cards">
          {p.rows.map((r) => (
            <li>
              <a href={`/tasks/${r.taskId}`} safe>
                {r.title}
              </a>{" "}
              <span class={badge(r.status)} safe>
                {r.status}
              </span>{" "}
              <span class="muted" safe>
                {`${r.projectTitle} · claim ${r.claimState.toLowerCase()}${r.claimState === "ACTIVE" ? `, link work before ${when(r.expiresAt)}` : ""}`}
              </span>
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}

/** The contributor's earnings: each payment with its transaction and proof receipt. */
export function EarningsPage(
  p: PageBase & { rows: Earning[] /** Server-rendered SVG (src/charts). */; chart?: JSX.Element },
) {
  const chart = p.chart ?? "";
  const totals = new Map<string, bigint>();
  for (const r of p.rows)
    totals.set(
      `${r.token}:${r.tokenDecimals}`,
      (totals.get(`${r.token}:${r.tokenDecimals}`) ?? 0n) + BigInt(r.amount) - BigInt(r.fee ?? "0"),
    );
  return (
    <Layout title="Earnings" viewer={p.viewer} csrfToken={p.csrf} flash={p.flash}>
      <h1>Earnings</h1>
      {p.rows.length === 0 ? (
        <p class="muted">Nothing earned yet. Verified work is paid here automatically.</p>
      ) : (
        <>
          <p>
            Total received:{" "}
            <strong id="earnings-total" safe>
              {[...totals].map(([k, v]) => tokens(v.toString(), Number(k.split(":")[1]), k.split(":")[0]!)).join(", ")}
            </strong>
          </p>
          {chart}
          <div class="table-scroll">
            <table>
              <thead>
                <tr>
                  <th scope="col">Task</th>
                  <th scope="col">Project</th>
                  <th scope="col">Received</th>
                  <th scope="col">Transaction</th>
                  <th scope="col">Proof receipt</th>
                  <th scope="col">Date</th>
                </tr>
              </thead>
              <tbody>
                {p.rows.map((r) => (
                  <tr>
                    <td>
                      <a href={`/tasks/${r.taskId}`} safe>
                        {r.taskTitle}
                      </a>
                    </td>
                    <td safe>{r.projectTitle}</td>
                    <td safe>
                      {tokens((BigInt(r.amount) - BigInt(r.fee ?? "0")).toString(), r.tokenDecimals, r.token)}
                    </td>
                    <td>
                      <code safe>{r.txHash ?? "—"}</code>
                    </td>
                    <td>
                      <code safe>{r.proofId ?? "—"}</code>
                    </td>
                    <td safe>{when(r.paidAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </Layout>
  );
}
