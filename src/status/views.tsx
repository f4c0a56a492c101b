import { Layout, type Viewer } from "../../ui/layout";
import type { instanceHealth } from "./service";

type Health = Awaited<ReturnType<typeof instanceHealth>>;

const badge = (s: string) => (s === "ok" ? "badge ok" : s === "down" ? "badge bad" : "badge warn");

/** The instance status page: version, uptime and every component's health. */
export function StatusPage({ health, name, viewer }: { health: Health; name: string; viewer?: Viewer | null }) {
  return (
    <Layout title="Status" viewer={viewer}>
      <h1 safe>{name} status</h1>
      <div class="card">
        <p>
          Overall: <span class={badge(health.status)} safe>{health.status}</span> · version{" "}
          <code safe>{health.version}</code> · up <span safe>{formatUptime(health.uptimeSeconds)}</span>
        </p>
        <table>
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col">Status</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(health.components).map(([name, c]) => (
              <tr>
                <td safe>{name}</td>
                <td>
                  <span class={badge(c.status)}>
                    {c.status}
                  </span>
                </td>
                <td class="muted" safe>
                  {c.detail ??
                    Object.entries(c)
                      .filter(([k]) => k !== "status")
                      .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
                      .join(" · ")}
                </td>
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

function formatUptime(s: number) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}
