import { Layout } from "../../ui/layout";
import { ProjectHeader, type ProjectPageProps } from "../projects/views";
import type { AiCall } from "./schema";

/** The AI audit of a project (org owners): every model call with prompt, output, tokens, latency and checksum. */
export function AiCallsPage(props: ProjectPageProps & { calls: (AiCall & { verified: boolean })[] }) {
  return (
    <Layout title={`${props.project.title}: AI audit`} viewer={props.viewer} csrfToken={props.csrf}>
      <ProjectHeader project={props.project} tab="ai" canAudit={props.canAudit} />
      <p class="muted">
        Every call to a model made for this project, newest first. The checksum covers prompt, model, settings and
        output.
      </p>
      <div class="card">
        {props.calls.length ? (
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Purpose</th>
                <th scope="col">Model</th>
                <th scope="col">Status</th>
                <th scope="col">Tokens in / out</th>
                <th scope="col">Latency</th>
                <th scope="col">Checksum</th>
              </tr>
            </thead>
            <tbody>
              {props.calls.map((c) => (
                <tr>
                  <td safe>{c.createdAt.toISOString().replace("T", " ").slice(0, 19)}</td>
                  <td>
                    <details>
                      <summary>{c.purpose}</summary>
                      <p class="muted" safe>{`temperature ${c.temperature ?? "—"}`}</p>
                      <pre safe class="audit">
                        {`${c.system ? `[system]\n${c.system}\n\n` : ""}${c.prompt.map((m) => `[${m.role}]\n${m.content}`).join("\n\n")}`}
                      </pre>
                      <pre safe class="audit">
                        {`[output]\n${c.output}${c.error ? `\n\n[error]\n${c.error}` : ""}`}
                      </pre>
                    </details>
                  </td>
                  <td safe>{`${c.provider}: ${c.model}`}</td>
                  <td>
                    <span class={c.status === "ok" ? "badge ok" : c.status === "invalid" ? "badge warn" : "badge bad"}>
                      {c.status}
                    </span>
                  </td>
                  <td safe>{`${c.inputTokens ?? "—"} / ${c.outputTokens ?? "—"}`}</td>
                  <td safe>{`${c.latencyMs} ms`}</td>
                  <td>
                    <code safe title={c.checksum}>
                      {c.checksum.slice(0, 12)}
                    </code>{" "}
                    <span class={c.verified ? "ok" : "bad"}>{c.verified ? "✓ intact" : "✗ altered"}</span>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p class="muted">No model calls yet.</p>
        )}
      </div>
    </Layout>
  );
}
