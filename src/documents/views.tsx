import { ConfirmButton, CsrfField } from "../../ui/components";
import { Layout } from "../../ui/layout";
import { ProjectHeader, type ProjectPageProps } from "../projects/views";
import type { DocumentRow } from "./schema";

const size = (n: number) =>
  n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
const badge = (s: string) => (s === "READY" ? "badge ok" : s === "FAILED" ? "badge bad" : "badge warn");

/** One document's row; while it is being indexed the row refreshes itself. */
export function DocumentRowView({ d, canManage, csrf }: { d: DocumentRow; canManage: boolean; csrf?: string }) {
  const pending = d.status === "PENDING";
  return (
    <tr
      id={`doc-${d.id}`}
      data-document={d.id}
      data-status={d.status}
      hx-get={pending ? `/documents/${d.id}/row` : undefined}
      hx-trigger={pending ? "every 1s" : undefined}
      hx-swap={pending ? "outerHTML" : undefined}
    >
      <td safe>{d.filename}</td>
      <td safe>{d.type.toLowerCase()}</td>
      <td safe>{size(d.sizeBytes)}</td>
      <td>
        <span class={badge(d.status)}>
          {d.status === "READY"
            ? `indexed · ${d.chunkCount} passages`
            : d.status === "PENDING"
              ? "indexing…"
              : "failed"}
        </span>
        {d.error ? (
          <div class="muted small" safe>
            {d.error}
          </div>
        ) : (
          ""
        )}
      </td>
      <td>
        {canManage ? (
          <div class="actions">
            <form method="post" action={`/documents/${d.id}/reindex`}>
              <CsrfField token={csrf} />
              <button type="submit" class="secondary" aria-label={`Re-index ${d.filename}`}>
                Re-index
              </button>
            </form>
            <ConfirmButton
              action={`/documents/${d.id}/delete`}
              csrf={csrf}
              confirm={`Delete ${d.filename}? The sidebar stops answering from it; this cannot be undone.`}
              label="Delete"
              danger
              ariaLabel={`Delete ${d.filename}`}
            />
          </div>
        ) : (
          ""
        )}
      </td>
    </tr>
  );
}

/** The documents tab: upload, list, replace and delete (spec §5.8). */
export function DocumentsPage(props: ProjectPageProps & { documents: DocumentRow[]; error?: string }) {
  const p = props.project;
  return (
    <Layout
      title={`${p.title}: documents`}
      viewer={props.viewer}
      csrfToken={props.csrf}
      sidebar={props.sidebar}
      flash={props.flash}
    >
      <ProjectHeader project={p} tab="documents" canAudit={props.canAudit} />
      {props.error ? (
        <div class="flash error" role="alert" safe>
          {props.error}
        </div>
      ) : (
        ""
      )}
      {props.canManage ? (
        <form class="card stack" method="post" action={`/projects/${p.id}/documents`} enctype="multipart/form-data">
          <CsrfField token={props.csrf} />
          <label>
            Upload a document
            <span class="help">
              Markdown, text, source code or PDF, up to 20 MB. It is stored encrypted and indexed for the planner and
              the assistant.
            </span>
            <input type="file" name="file" required />
          </label>
          <p>
            <button type="submit">Upload</button>
          </p>
        </form>
      ) : (
        ""
      )}
      <div class="card">
        {props.documents.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">File</th>
                <th scope="col">Type</th>
                <th scope="col">Size</th>
                <th scope="col">Status</th>
                <th scope="col">Actions</th>
              </tr>
            </thead>
            <tbody>
              {props.documents.map((d) => (
                <DocumentRowView d={d} canManage={props.canManage} csrf={props.csrf} />
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">No documents yet.</p>
        )}
      </div>
    </Layout>
  );
}
