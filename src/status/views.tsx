import { Layout, type Viewer } from "../../ui/layout";
import type { VisibleHealth } from "./service";

const badge = (s: string) => (s === "ok" ? "badge ok" : s === "down" ? "badge bad" : "badge warn");

/** The instance status page: every component's state; version, uptime and details when the viewer may see them. */
export function StatusPage({ health, name, viewer }: { health: VisibleHealth; name: string; viewer?: Viewer | null }) {
  const full = "version" in health ? health : null;
  return (
    <Layout title="Status" viewer={viewer}>
      <h1 safe>{name} status</h1>
      <div class="card">
        <p>
          Overall:{" "}
          <span class={badge(health.status)} safe>
            {health.status}
          </span>
          {full ? (
            <>
              {" "}
              · version <code safe>{full.version}</code> · up <span safe>{formatUptime(full.uptimeSeconds)}</span>
            </>
          ) : (
            ""
          )}
        </p>
        <table>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">Status</th>
              {full ? <th scope="col">Detail</th> : ""}
            </tr>
          </thead>
          <tbody>
            {Object.entries(health.components).map(([name, c]) => (
              <tr>
                <td safe>{name}</td>
                <td>
                  <span class={badge(c.status)}>{c.status}</span>
                </td>
                {full ? (
                  <td class="muted" safe>
                    {detailOf(c)}
                  </td>
                ) : (
                  ""
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p class="muted">
        Machine-readable: <a href="/health">/health</a> · API: <a href="/api/docs">/api/docs</a>
      </p>
    </Layout>
  );
}

function detailOf(c: Record<string, unknown>) {
  if (typeof c.detail === "string") return c.detail;
  return Object.entries(c)
    .filter(([k]) => k !== "status")
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}

function formatUptime(s: number) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
