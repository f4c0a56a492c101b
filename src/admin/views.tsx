// The admin console's pages: one sub-navigation, then jobs, cron, payments, fees, users and the doctor.
import { escapeHtml } from "@kitajs/html";
import { formatUnits } from "viem";
import { ConfirmField, CsrfField, type Flash, TxLink, TxRow } from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import type { publicRun } from "../core/jobs/routes";
import type { CheckResult } from "../doctor/checks";
import type { AdminUserRow } from "./users";

type PublicRunView = ReturnType<typeof publicRun>;

const when = (d: Date | string | null | undefined) =>
  d ? new Date(d).toISOString().replace("T", " ").slice(0, 19) : "—";

/** The console's sections, in the order of its sub-navigation. */
const SECTIONS = [
  ["jobs", "Jobs", "/admin/jobs"],
  ["cron", "Cron", "/admin/cron"],
  ["payments", "Payments", "/admin/payments"],
  ["fees", "Fees", "/admin/fees"],
  ["users", "Users", "/admin/users"],
  ["doctor", "Doctor", "/admin/doctor"],
  ["settings", "Settings", "/admin/settings"],
  ["audit", "Audit", "/admin/audit"],
] as const;

export type AdminSection = (typeof SECTIONS)[number][0];

/** The admin area's sub-navigation. */
export function AdminNav({ current }: { current: AdminSection }) {
  return (
    <nav aria-label="Admin" class="tabs">
      {SECTIONS.map(([key, label, href]) => (
        <a href={href} aria-current={key === current ? "page" : undefined}>
          {label}
        </a>
      ))}
    </nav>
  );
}

/** What every admin page takes. */
interface PageBase {
  viewer: Viewer;
  csrf?: string;
  flash?: Flash;
}

function AdminPage(props: PageBase & { title: string; current: AdminSection; children?: JSX.Element | JSX.Element[] }) {
  return (
    <Layout title={`Admin: ${props.title}`} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <AdminNav current={props.current} />
      <h1 safe>{props.title}</h1>
      {props.children as "safe"}
    </Layout>
  );
}

/** A one-button form posting to `action`, with an optional confirmation question. */
function ActionButton(props: { action: string; csrf?: string; label: string; confirm?: string; danger?: boolean }) {
  return (
    <form method="post" action={props.action} class="inline">
      <CsrfField token={props.csrf} />
      <ConfirmField text={props.confirm} />
      <button type="submit" class={props.danger ? "danger" : "secondary"} safe>
        {props.label}
      </button>
    </form>
  );
}

const STATE_BADGE: Record<string, string> = {
  completed: "ok",
  COMPLETED: "ok",
  ok: "ok",
  dead: "bad",
  FAILED: "bad",
  fail: "bad",
  failed: "warn",
  warn: "warn",
  SUBMITTED: "warn",
};
const Badge = ({ state }: { state: string }) => (
  <span class={`badge ${STATE_BADGE[state] ?? ""}`} safe>
    {state}
  </span>
);

// ---------------------------------------------------------------------------------------------------------------

/** Jobs: counts by state and name, then the dead and retry-waiting jobs with their errors. */
export function JobsPage(
  props: PageBase & {
    totals: Record<string, number>;
    byName: { name: string; counts: Record<string, number> }[];
    dead: PublicRunView[];
    failed: PublicRunView[];
  },
) {
  const states = Object.keys(props.totals);
  const failing = [...props.dead, ...props.failed];
  return (
    <AdminPage title="Jobs" current="jobs" {...props}>
      <div class="card">
        <table class="stack-cards" id="job-counts">
          <caption class="muted">Jobs stored, by name and state (finished jobs are pruned after 30 days).</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              {states.map((s) => (
                <th scope="col" class="num" safe>
                  {s}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {props.byName.map((r) => (
              <tr>
                <td data-label="Job">
                  <code safe>{r.name}</code>
                </td>
                {states.map((s) => (
                  <td class="num" data-label={s} safe>
                    {String(r.counts[s] ?? 0)}
                  </td>
                ))}
              </tr>
            ))}
            <tr>
              <td data-label="Job">
                <strong>All</strong>
              </td>
              {states.map((s) => (
                <td class="num" data-label={s} safe>
                  {String(props.totals[s] ?? 0)}
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      </div>
      <h2>Failed and dead jobs</h2>
      <p class="muted">
        Dead jobs used up their attempts; failed ones wait for their next attempt. Retrying runs a job now with a fresh
        budget of attempts.
      </p>
      {failing.length ? (
        <p>
          <ActionButton
            action="/admin/jobs/retry-failed"
            csrf={props.csrf}
            label={`Retry all ${failing.length}`}
            confirm={`Run all ${failing.length} failed and dead jobs again now?`}
          />
        </p>
      ) : (
        ""
      )}
      <div class="card">
        <table class="stack-cards" id="failed-jobs">
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">State</th>
              <th scope="col">Attempts</th>
              <th scope="col">Error</th>
              <th scope="col">Created (UTC)</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {failing.map((j) => (
              <tr data-job={j.id}>
                <td data-label="Job">
                  <code safe>{j.name}</code>{" "}
                  <span class="muted" title={j.id} safe>
                    {`…${j.id.slice(-8)}`}
                  </span>
                </td>
                <td data-label="State">
                  <Badge state={j.state} />
                </td>
                <td data-label="Attempts" class="num" safe>{`${j.attempts}/${j.maxAttempts}`}</td>
                <td data-label="Error" class="pre-line" safe>
                  {j.lastError ?? ""}
                </td>
                <td data-label="Created" safe>
                  {when(j.createdAt)}
                </td>
                <td data-label="Actions">
                  <ActionButton action={`/admin/jobs/${j.id}/retry`} csrf={props.csrf} label="Retry" />{" "}
                  <ActionButton
                    action={`/admin/jobs/${j.id}/discard`}
                    csrf={props.csrf}
                    label="Discard"
                    danger
                    confirm={`Discard the ${j.name} job? It is deleted and never runs again.`}
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {failing.length ? "" : <p class="muted">No failed or dead jobs.</p>}
      </div>
    </AdminPage>
  );
}

/** One cron entry as the page shows it. */
export interface CronRow {
  id: string;
  pattern: string;
  job: string;
  nextRun: Date | null;
  previousTick: Date | null;
  previousJob: { id: string; state: string; lastError?: string | null; finishedAt?: Date | null } | null;
}

/** Cron: each entry's schedule, last and next run and the last run's result, with "Run now". */
export function CronPage(props: PageBase & { entries: CronRow[] }) {
  return (
    <AdminPage title="Cron" current="cron" {...props}>
      <div class="card">
        <table class="stack-cards" id="cron-entries">
          <caption class="muted">Each tick enqueues the entry's job once, whichever process fires it.</caption>
          <thead>
            <tr>
              <th scope="col">Entry</th>
              <th scope="col">Schedule</th>
              <th scope="col">Last tick (UTC)</th>
              <th scope="col">Result</th>
              <th scope="col">Next run (UTC)</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.entries.map((e) => (
              <tr data-cron={e.id}>
                <td data-label="Entry">
                  <code safe>{e.id}</code>
                  {e.job !== e.id ? <span class="muted" safe>{` → ${e.job}`}</span> : ""}
                </td>
                <td data-label="Schedule">
                  <code safe>{e.pattern}</code>
                </td>
                <td data-label="Last tick" safe>
                  {when(e.previousTick)}
                </td>
                <td data-label="Result">
                  {e.previousJob ? (
                    <Badge state={e.previousJob.state} />
                  ) : (
                    <span class="muted">not run by this appliance</span>
                  )}
                  {e.previousJob?.lastError ? (
                    <span class="help bad" safe>
                      {` ${e.previousJob.lastError}`}
                    </span>
                  ) : (
                    ""
                  )}
                </td>
                <td data-label="Next run" safe>
                  {when(e.nextRun)}
                </td>
                <td data-label="Actions">
                  <ActionButton
                    action={`/admin/cron/${encodeURIComponent(e.id)}/run`}
                    csrf={props.csrf}
                    label="Run now"
                  />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </AdminPage>
  );
}

/** One payment row of the page (src/admin/service.ts listPayments). */
export interface PaymentRow {
  id: string;
  taskTitle: string;
  projectTitle: string;
  status: string;
  amount: string;
  tokenAddress: string;
  payee: string;
  txHash: string | null;
  txUrl?: string;
  lastError: string | null;
  attempts: number;
  jobState: string | null;
  createdAt: Date;
}

const shortHash = (h: string) => `${h.slice(0, 10)}…${h.slice(-6)}`;

/** Payments: state, amount, token, payee, transaction, payout attempts and why a failed one failed. */
export function PaymentsPage(
  props: PageBase & {
    payments: PaymentRow[];
    counts: Record<string, number>;
    state?: string;
    page: number;
    hasMore: boolean;
  },
) {
  const link = (state: string | undefined, page = 1) =>
    `/admin/payments?${new URLSearchParams({ ...(state ? { state } : {}), ...(page > 1 ? { page: String(page) } : {}) })}`;
  return (
    <AdminPage title="Payments" current="payments" {...props}>
      <nav aria-label="Payment states" class="tabs">
        <a href="/admin/payments" aria-current={props.state ? undefined : "page"}>
          All
        </a>
        {Object.entries(props.counts).map(([s, n]) => (
          <a href={link(s)} aria-current={props.state === s ? "page" : undefined} safe>
            {`${s.toLowerCase()} (${n})`}
          </a>
        ))}
      </nav>
      <div class="card">
        <table class="stack-cards" id="payments">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">State</th>
              <th scope="col">Amount</th>
              <th scope="col">Payee</th>
              <th scope="col">Transaction</th>
              <th scope="col">Attempts</th>
              <th scope="col">Failure</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.payments.map((p) => (
              <tr data-payment={p.id}>
                <td data-label="Task">
                  <span safe>{p.taskTitle}</span> <span class="muted" safe>{`(${p.projectTitle})`}</span>
                </td>
                <td data-label="State">
                  <Badge state={p.status} />
                </td>
                <td data-label="Amount" class="num">
                  <span safe>{p.amount}</span>{" "}
                  <span class="muted" safe>
                    {p.tokenAddress === "native" ? "wei" : `of ${p.tokenAddress.slice(0, 10)}…`}
                  </span>
                </td>
                <td data-label="Payee">
                  <code title={p.payee} safe>
                    {shortHash(p.payee)}
                  </code>
                </td>
                <td data-label="Transaction">
                  <TxLink hash={p.txHash} url={p.txUrl} />
                </td>
                <td data-label="Attempts" class="num" safe>{`${p.attempts}${p.jobState ? ` (${p.jobState})` : ""}`}</td>
                <td data-label="Failure" class="pre-line" safe>
                  {p.lastError ?? ""}
                </td>
                <td data-label="Actions">
                  {p.status === "FAILED" ? (
                    <ActionButton
                      action={`/admin/payments/${p.id}/retry`}
                      csrf={props.csrf}
                      label="Retry"
                      confirm={`Send the payment for "${p.taskTitle}" again? Its payout job runs now.`}
                    />
                  ) : (
                    ""
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {props.payments.length ? "" : <p class="muted">No payments.</p>}
        <p>
          {props.page > 1 ? <a href={link(props.state, props.page - 1)}>Newer</a> : ""}{" "}
          {props.hasMore ? <a href={link(props.state, props.page + 1)}>Older</a> : ""}
        </p>
      </div>
    </AdminPage>
  );
}

/** Fees: what the escrow owes the treasury per token, withdraw buttons, and past withdrawals. */
export function FeesPage(
  props: PageBase & {
    escrow?: string;
    treasury?: string;
    balances: { token: string; symbol: string; decimals: number; owed: string }[];
    withdrawals: { at: Date; token?: string; amount?: string; txHash?: string; txUrl?: string }[];
    unavailable?: string;
  },
) {
  return (
    <AdminPage title="Fees" current="fees" {...props}>
      {props.unavailable ? (
        <p class="flash error" role="alert" safe>
          {props.unavailable}
        </p>
      ) : (
        <>
          <p>
            Escrow <code safe>{props.escrow ?? ""}</code> sends fees to the treasury{" "}
            <code safe>{props.treasury ?? ""}</code>.
          </p>
          <div class="card">
            <table class="stack-cards" id="fees">
              <thead>
                <tr>
                  <th scope="col">Token</th>
                  <th scope="col">Fees owed</th>
                  <th scope="col">Actions</th>
                </tr>
              </thead>
              <tbody>
                {props.balances.map((b) => (
                  <tr data-token={b.token}>
                    <td data-label="Token">
                      <span safe>{b.symbol}</span>{" "}
                      <code class="muted" safe>
                        {b.token}
                      </code>
                    </td>
                    <td data-label="Fees owed" class="num" safe>
                      {formatUnits(BigInt(b.owed), b.decimals)}
                    </td>
                    <td data-label="Actions">
                      {b.owed !== "0" ? (
                        <form method="post" action="/admin/fees/withdraw" class="inline">
                          <CsrfField token={props.csrf} />
                          <input type="hidden" name="token" value={b.token} />
                          <ConfirmField
                            text={`Send ${formatUnits(BigInt(b.owed), b.decimals)} ${b.symbol} of fees to the treasury?`}
                          />
                          <button type="submit">Withdraw to treasury</button>
                        </form>
                      ) : (
                        <span class="muted">nothing owed</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
      <h2>Withdrawals</h2>
      <div class="card">
        <table class="stack-cards" id="withdrawals">
          <thead>
            <tr>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Token</th>
              <th scope="col">Amount (base units)</th>
              <th scope="col">Transaction</th>
            </tr>
          </thead>
          <tbody>
            {props.withdrawals.map((w) => (
              <TxRow
                at={when(w.at)}
                whatLabel="Token"
                what={<code safe>{w.token ?? ""}</code>}
                amount={w.amount ?? ""}
                hash={w.txHash}
                url={w.txUrl}
              />
            ))}
          </tbody>
        </table>
        {props.withdrawals.length ? "" : <p class="muted">No withdrawals yet.</p>}
      </div>
    </AdminPage>
  );
}

/** Users: search, the list a page at a time, and each account's actions. */
export function UsersPage(
  props: PageBase & { me: string; users: AdminUserRow[]; q: string; page: number; pages: number; total: number },
) {
  const link = (page: number) =>
    `/admin/users?${new URLSearchParams({ ...(props.q ? { q: props.q } : {}), page: String(page) })}`;
  return (
    <AdminPage title="Users" current="users" {...props}>
      <form method="get" action="/admin/users">
        <label for="user-search">Search by name, e-mail or GitHub login</label>
        <div class="row">
          <input id="user-search" type="search" name="q" value={props.q} maxlength="100" />
          <button type="submit" class="secondary">
            Search
          </button>
        </div>
      </form>
      <p
        class="muted"
        safe
      >{`${props.total} account${props.total === 1 ? "" : "s"}; page ${props.page} of ${props.pages}.`}</p>
      <div class="card">
        <table class="stack-cards" id="users">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">E-mail</th>
              <th scope="col">Role</th>
              <th scope="col">Sessions</th>
              <th scope="col">Joined (UTC)</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {props.users.map((u) => (
              <tr data-user={u.id} id={`user-${u.id}`}>
                <td data-label="Name">
                  <span safe>{u.name}</span>
                  {u.githubLogin ? <span class="muted" safe>{` @${u.githubLogin}`}</span> : ""}
                </td>
                <td data-label="E-mail" safe>
                  {u.email ?? "—"}
                </td>
                <td data-label="Role">
                  {u.isAdmin ? <span class="badge ok">admin</span> : ""}{" "}
                  {u.disabledAt ? <span class="badge bad">disabled</span> : ""}
                </td>
                <td data-label="Sessions" class="num" safe>
                  {String(u.liveSessions)}
                </td>
                <td data-label="Joined" safe>
                  {when(u.createdAt)}
                </td>
                <td data-label="Actions">
                  {u.isAdmin ? (
                    <ActionButton
                      action={`/admin/users/${u.id}/admin/remove`}
                      csrf={props.csrf}
                      label="Remove admin"
                      confirm={`Take the admin rights away from ${u.name}?`}
                    />
                  ) : (
                    <ActionButton
                      action={`/admin/users/${u.id}/admin/grant`}
                      csrf={props.csrf}
                      label="Make admin"
                      confirm={`Make ${u.name} a platform admin? They can then change every setting and account.`}
                    />
                  )}{" "}
                  {u.id === props.me ? (
                    ""
                  ) : u.disabledAt ? (
                    <ActionButton action={`/admin/users/${u.id}/enable`} csrf={props.csrf} label="Enable" />
                  ) : (
                    <ActionButton
                      action={`/admin/users/${u.id}/disable`}
                      csrf={props.csrf}
                      label="Disable"
                      danger
                      confirm={`Disable ${u.name}? They are signed out everywhere and cannot sign in until enabled again.`}
                    />
                  )}{" "}
                  {u.liveSessions > 0 ? (
                    <ActionButton
                      action={`/admin/users/${u.id}/sessions/end`}
                      csrf={props.csrf}
                      label="End sessions"
                      confirm={`Sign ${u.name} out of all ${u.liveSessions} session(s)?`}
                    />
                  ) : (
                    ""
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {props.users.length ? "" : <p class="muted">No accounts match.</p>}
        <p>
          {props.page > 1 ? <a href={link(props.page - 1)}>Previous page</a> : ""}{" "}
          {props.page < props.pages ? <a href={link(props.page + 1)}>Next page</a> : ""}
        </p>
      </div>
    </AdminPage>
  );
}

/** The doctor's checks (as `devsponsor doctor` runs them), each with its status and fix. */
export function DoctorPage(props: PageBase & { checks: CheckResult[] }) {
  return (
    <AdminPage title="Doctor" current="doctor" {...props}>
      <p class="muted">
        The same checks as <code>devsponsor doctor</code>, run now. Reload the page to run them again.
      </p>
      <div class="card">
        <table class="stack-cards" id="doctor">
          <thead>
            <tr>
              <th scope="col">Check</th>
              <th scope="col">Status</th>
              <th scope="col">Detail</th>
              <th scope="col">Fix</th>
            </tr>
          </thead>
          <tbody>
            {props.checks.map((c) => (
              <tr data-check={c.name}>
                <td data-label="Check">
                  <strong safe>{c.name}</strong>
                </td>
                <td data-label="Status">
                  <Badge state={c.status} />
                </td>
                <td data-label="Detail" class="pre-line" safe>
                  {c.detail}
                </td>
                <td data-label="Fix">{escapeHtml(c.status !== "ok" && c.fix ? c.fix : "")}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </AdminPage>
  );
}
