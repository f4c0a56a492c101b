import { Layout, type Viewer } from "../../ui/layout";
import type { AuditRow } from "./service";
import { type AuditReport, auditProblems } from "./verify";

const actorLabel = (actors: Map<string, string>, id: string | null): string => (id ? (actors.get(id) ?? id) : "system");
const when = (d: Date) => d.toISOString().replace("T", " ").slice(0, 19);

/** The audit trail as a table, newest first, with a link to older entries. */
export function AuditPage(props: {
  viewer: Viewer;
  csrf?: string;
  title: string;
  rows: AuditRow[];
  actors: Map<string, string>;
  olderHref?: string;
  chain?: AuditReport;
  /** Where the "Verify" link points (platform admins' page only). */
  verifyHref?: string;
  nav?: JSX.Element;
}) {
  return (
    <Layout title={props.title} viewer={props.viewer} csrfToken={props.csrf}>
      {(props.nav ?? "") as "safe"}
      <h1 safe>{props.title}</h1>
      {props.chain ? (
        <div class={`flash ${props.chain.ok ? "success" : "error"}`} role="status">
          {props.chain.ok ? (
            <span
              safe
            >{`Chain verified: ${props.chain.rows} entries intact (${props.chain.redacted} redacted by account deletion); ${props.chain.aiCalls.chained} AI calls match their entries (${props.chain.aiCalls.erased} erased by account deletion).`}</span>
          ) : (
            <>
              <span safe>{`Verification failed after ${props.chain.rows} intact entries:`}</span>
              <ul>
                {auditProblems(props.chain).map((line) => (
                  <li safe>{line}</li>
                ))}
              </ul>
            </>
          )}
        </div>
      ) : (
        ""
      )}
      {props.verifyHref ? (
        <p>
          <a href={props.verifyHref}>Verify the chain and the AI call records</a>
        </p>
      ) : (
        ""
      )}
      <div class="card">
        <table class="stack-cards">
          <caption class="muted">Every privileged action, hash-chained so that edits are detectable.</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Time (UTC)</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col">Details</th>
            </tr>
          </thead>
          <tbody>
            {props.rows.map((r) => (
              <tr>
                <td data-label="#" safe>
                  {String(r.seq)}
                </td>
                <td data-label="Time" safe>
                  {when(r.createdAt)}
                </td>
                <td data-label="Actor" safe>
                  {actorLabel(props.actors, r.actorId)}
                </td>
                <td data-label="Action">
                  <code safe>{r.action}</code>
                </td>
                <td data-label="Target" safe>{`${r.targetType}${r.targetId ? ` ${r.targetId.slice(0, 8)}` : ""}`}</td>
                <td data-label="Details">
                  <code safe>{r.redactedAt ? "(redacted)" : JSON.stringify(r.payload)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {props.rows.length === 0 ? <p class="muted">No entries yet.</p> : ""}
        {props.olderHref ? (
          <p>
            <a href={props.olderHref}>Older entries</a>
          </p>
        ) : (
          ""
        )}
      </div>
    </Layout>
  );
}
