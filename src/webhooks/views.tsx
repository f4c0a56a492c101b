import { escapeHtml } from "@kitajs/html";
import {
  ConfirmButton,
  CsrfField,
  ErrorSummary,
  FieldError,
  type FormProps,
  invalid,
  TableHead,
  typed,
} from "../../ui/components";
import { Layout, type Viewer } from "../../ui/layout";
import { OrgNav, type OrgView } from "../orgs/views";
import { WEBHOOK_FORMATS } from "./schema";
import type { DeliveryView, EndpointView } from "./service";

type Flash = { kind: "error" | "success"; message: string };
const when = (d: Date | string | null) => (d ? new Date(d).toISOString().replace("T", " ").slice(0, 19) : "—");
const FORMAT_LABEL: Record<string, string> = {
  generic: "Generic JSON (signed)",
  slack: "Slack (incoming webhook)",
  discord: "Discord (webhook)",
};
/** Event names the appliance emits today, offered as examples. */
const KNOWN_EVENTS = [
  "task.claimed",
  "task.work_linked",
  "task.verified",
  "task.verification_failed",
  "task.paid",
  "project.funded",
  "payment.completed",
  "invite.accepted",
];

function EndpointFields(props: FormProps & { submit: string }) {
  const v = props.values ?? {};
  return (
    <>
      <div class="grid2">
        <label>
          Name
          <input name="name" value={typed(v, "name")} maxlength="100" required {...invalid(props.errors, "name")} />
          <FieldError errors={props.errors} name="name" />
        </label>
        <label>
          Format
          <select name="format" {...invalid(props.errors, "format")}>
            {WEBHOOK_FORMATS.map((f) => (
              <option value={f} selected={(typed(v, "format") || "generic") === f} safe>
                {FORMAT_LABEL[f]}
              </option>
            ))}
          </select>
          <FieldError errors={props.errors} name="format" />
        </label>
      </div>
      <label>
        URL <span class="help">Where events are posted (https://…). Local and private addresses are refused.</span>
        <input
          name="url"
          type="url"
          value={typed(v, "url")}
          maxlength="2000"
          required
          autocomplete="off"
          {...invalid(props.errors, "url")}
        />
        <FieldError errors={props.errors} name="url" />
      </label>
      <label>
        Events{" "}
        <span class="help" safe>
          {`Names or prefixes, separated by spaces or commas (for example ${KNOWN_EVENTS.slice(0, 3).join(", ")}, task.*). Empty: every event of the organization.`}
        </span>
        <input name="events" value={typed(v, "events")} maxlength="2000" {...invalid(props.errors, "events")} />
        <FieldError errors={props.errors} name="events" />
      </label>
      <label class="check">
        <input type="checkbox" name="enabled" value="on" checked={typed(v, "enabled") !== "off"} />
        <span>Enabled: events are sent (a disabled webhook gets test events only)</span>
      </label>
      <div>
        <button type="submit" safe>
          {props.submit}
        </button>
      </div>
    </>
  );
}

function StateBadge({ e }: { e: EndpointView }) {
  if (!e.enabled) return <span class="badge bad">{e.disabledAt ? "disabled after failures" : "off"}</span>;
  if (e.failingSince) return <span class="badge warn">failing</span>;
  return <span class="badge ok">on</span>;
}

/** The org's webhooks, the form to add one, and the new secret once. */
export function WebhooksPage(props: {
  viewer: Viewer;
  csrf?: string;
  org: OrgView;
  endpoints: EndpointView[];
  values?: Record<string, string>;
  errors?: Record<string, string>;
  flash?: Flash;
  created?: { endpoint: EndpointView; secret: string };
}) {
  const { org } = props;
  return (
    <Layout title={`${org.name}: webhooks`} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <OrgNav org={org} current="webhooks" />
      <h1 safe>{org.name}: outgoing webhooks</h1>
      <p class="muted">
        Events of this organization (tasks, payments, funding, invites) are posted to these addresses: Slack and Discord
        get a one-line message with a link; the generic format gets JSON signed with the endpoint's secret.
      </p>
      {props.created ? <SecretCard {...props.created} orgId={org.id} /> : ""}
      <div class="card">
        <h2>Endpoints</h2>
        {props.endpoints.length === 0 ? <p class="muted">No webhooks yet.</p> : ""}
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Format</th>
              <th scope="col">Events</th>
              <th scope="col">State</th>
              <th scope="col">Last success</th>
            </tr>
          </thead>
          <tbody>
            {props.endpoints.map((e) => (
              <tr>
                <td>
                  <a href={`/orgs/${org.id}/webhooks/${e.id}`} safe>
                    {e.name}
                  </a>
                </td>
                <td>{escapeHtml(e.format)}</td>
                <td>{escapeHtml(e.events.length ? e.events.join(", ") : "all")}</td>
                <td>
                  <StateBadge e={e} />
                </td>
                <td safe>{when(e.lastSuccessAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form method="post" action={`/orgs/${org.id}/webhooks`} class="card stack">
        <h2>Add a webhook</h2>
        <CsrfField token={props.csrf} />
        <ErrorSummary errors={props.errors} message="No webhook was added. Correct the fields below." />
        <EndpointFields values={props.values} errors={props.errors} submit="Add webhook" />
      </form>
    </Layout>
  );
}

function SecretCard(props: { endpoint: EndpointView; secret: string; orgId: string; fresh?: boolean }) {
  const { endpoint, secret, orgId } = props;
  return (
    <div class="card stack" role="status">
      <h2 safe>{props.fresh ? "New signing secret" : `Webhook added: ${endpoint.name}`}</h2>
      <p>
        Its signing secret is shown this once. Generic deliveries carry{" "}
        <code>{escapeHtml("X-DevSponsor-Signature: t=<unix time>,v1=<hex>")}</code>, the HMAC-SHA256 of{" "}
        <code>{escapeHtml("<t>.<raw body>")}</code> with this secret.
      </p>
      <p>
        <code id="webhook-secret" safe>
          {secret}
        </code>
      </p>
      {props.fresh ? (
        ""
      ) : (
        <p>
          <a href={`/orgs/${orgId}/webhooks/${endpoint.id}`}>Open the webhook</a>
        </p>
      )}
    </div>
  );
}

/** One webhook: its settings, its actions and its delivery log. */
export function WebhookPage(props: {
  viewer: Viewer;
  csrf?: string;
  org: OrgView;
  endpoint: EndpointView;
  deliveries: DeliveryView[];
  /** A new signing secret, shown this once. */
  secret?: string;
  values?: Record<string, string>;
  errors?: Record<string, string>;
  flash?: Flash;
}) {
  const { org, endpoint: e } = props;
  const base = `/orgs/${org.id}/webhooks/${e.id}`;
  const values = props.values ?? {
    name: e.name,
    url: e.url,
    format: e.format,
    events: e.events.join(", "),
    enabled: e.enabled ? "on" : "off",
  };
  return (
    <Layout title={`${org.name}: webhook ${e.name}`} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <OrgNav org={org} current="webhooks" />
      <p>
        <a href={`/orgs/${org.id}/webhooks`}>All webhooks</a>
      </p>
      <h1 safe>{`Webhook: ${e.name}`}</h1>
      {props.secret ? <SecretCard endpoint={e} secret={props.secret} orgId={org.id} fresh /> : ""}
      {!e.enabled && e.disabledAt ? (
        <div class="card stack" role="status">
          <p>
            <span class="badge bad">disabled</span>{" "}
            <span safe>{`${when(e.disabledAt)}: ${e.disabledReason ?? ""}`}</span>
          </p>
          <form method="post" action={`${base}/enable`}>
            <CsrfField token={props.csrf} />
            <button type="submit">Re-enable</button>
          </form>
        </div>
      ) : (
        ""
      )}
      <div class="card row">
        <span>
          State: <StateBadge e={e} />
        </span>
        <span safe>{`Failed deliveries in a row: ${e.consecutiveFailures}`}</span>
        <span safe>{`Failing since: ${when(e.failingSince)}`}</span>
        <span safe>{`Last success: ${when(e.lastSuccessAt)}`}</span>
        <form method="post" action={`${base}/test`} class="inline">
          <CsrfField token={props.csrf} />
          <button type="submit" class="secondary">
            Send test event
          </button>
        </form>
      </div>
      <div class="card">
        <h2>Delivery log</h2>
        {props.deliveries.length === 0 ? <p class="muted">Nothing delivered yet.</p> : ""}
        <table>
          <TableHead cols={["Event", "Status", "Response", "Attempts", "Last attempt", "Next attempt"]} actions />
          <tbody>
            {props.deliveries.map((d) => (
              <tr>
                <td>
                  <a href={`${base}/deliveries/${d.id}`} safe>
                    {d.eventType}
                  </a>
                </td>
                <td>
                  <DeliveryBadge status={d.status} />
                </td>
                <td safe>{d.lastStatusCode ? String(d.lastStatusCode) : (d.lastError ?? "—")}</td>
                <td safe>{String(d.attempts)}</td>
                <td safe>{when(d.lastAttemptAt)}</td>
                <td safe>{when(d.nextAttemptAt)}</td>
                <td>
                  {d.status === "pending" ? (
                    ""
                  ) : (
                    <RedeliverButton action={`${base}/deliveries/${d.id}/redeliver`} csrf={props.csrf} />
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form method="post" action={base} class="card stack">
        <h2>Settings</h2>
        <CsrfField token={props.csrf} />
        <ErrorSummary errors={props.errors} message="Nothing was saved. Correct the fields below." />
        <EndpointFields values={values} errors={props.errors} submit="Save" />
      </form>
      <ConfirmButton
        action={`${base}/secret`}
        csrf={props.csrf}
        confirm="Make a new signing secret? The current one stops working at once."
        label="New signing secret"
        class="card"
      />
      <ConfirmButton
        action={`${base}/delete`}
        csrf={props.csrf}
        confirm="Delete this webhook and its delivery log? Pending deliveries are dropped."
        label="Delete webhook"
        danger
        class="card"
      />
    </Layout>
  );
}

const DeliveryBadge = ({ status }: { status: string }) => (
  <span class={`badge ${status === "succeeded" ? "ok" : status === "failed" ? "bad" : "warn"}`} safe>
    {status}
  </span>
);

const RedeliverButton = ({ action, csrf }: { action: string; csrf?: string }) => (
  <form method="post" action={action}>
    <CsrfField token={csrf} />
    <button type="submit" class="secondary">
      Redeliver
    </button>
  </form>
);

/** One delivery: the body it sends and every attempt with its response. */
export function DeliveryPage(props: {
  viewer: Viewer;
  csrf?: string;
  org: OrgView;
  endpoint: EndpointView;
  delivery: DeliveryView & {
    payload: Record<string, unknown>;
    log: {
      attempt: number;
      statusCode: number | null;
      durationMs: number;
      responseBody: string | null;
      error: string | null;
      createdAt: Date;
    }[];
  };
  flash?: Flash;
}) {
  const { org, endpoint: e, delivery: d } = props;
  const base = `/orgs/${org.id}/webhooks/${e.id}`;
  return (
    <Layout title={`${org.name}: delivery`} viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <OrgNav org={org} current="webhooks" />
      <p>
        <a href={base} safe>{`Webhook: ${e.name}`}</a>
      </p>
      <h1 safe>{`Delivery of ${d.eventType}`}</h1>
      <div class="card row">
        <DeliveryBadge status={d.status} />
        <span safe>{`Event ${d.eventId}`}</span>
        <span safe>{`First attempt: ${when(d.firstAttemptAt)}`}</span>
        <span safe>{`Next attempt: ${when(d.nextAttemptAt)}`}</span>
        {d.status === "pending" ? (
          ""
        ) : (
          <RedeliverButton action={`${base}/deliveries/${d.id}/redeliver`} csrf={props.csrf} />
        )}
      </div>
      <div class="card">
        <h2>Attempts</h2>
        {d.log.length === 0 ? <p class="muted">No attempt yet.</p> : ""}
        <table>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">At</th>
              <th scope="col">Status code</th>
              <th scope="col">Duration</th>
              <th scope="col">Response (start) or error</th>
            </tr>
          </thead>
          <tbody>
            {d.log.map((a) => (
              <tr>
                <td safe>{String(a.attempt)}</td>
                <td safe>{when(a.createdAt)}</td>
                <td safe>{a.statusCode === null ? "—" : String(a.statusCode)}</td>
                <td safe>{`${a.durationMs} ms`}</td>
                <td>
                  <code safe>{a.error ?? a.responseBody ?? ""}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="card">
        <h2>Body (generic format)</h2>
        <pre safe>{JSON.stringify(d.payload, null, 2)}</pre>
      </div>
    </Layout>
  );
}
