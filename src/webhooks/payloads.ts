// What an endpoint receives: the generic JSON body (`{id, type, occurredAt, org, data}`) built once per delivery,
// the Slack and Discord messages rendered from it, and the generic format's signature headers.
import { createHmac } from "node:crypto";
import type { WebhookFormat } from "./schema";

/** The generic body of one delivery, as stored with it. */
export interface WebhookBody {
  id: string;
  type: string;
  occurredAt: string;
  org: { id: string; name: string };
  data: Record<string, string | number | boolean | null>;
  /** The page the event is about, on this instance (absent without a public URL). */
  url?: string;
}

// Who did something stays out of payloads: user ids, wallet addresses and e-mail addresses are personal data the
// receiver has no use for. Ids of the org's own records and plain facts go through.
const PERSONAL = /^(actorId|claimerId|userId|invitedById|createdById|payee|payer|email|.*Email|.*Address|name)$/;
const MAX_STRING = 500;

/** The event's payload without personal data: scalar fields only, long strings cut. */
export function minimalData(payload: Record<string, unknown>): WebhookBody["data"] {
  const out: WebhookBody["data"] = {};
  for (const [k, v] of Object.entries(payload)) {
    if (PERSONAL.test(k) || k === "orgId") continue;
    if (typeof v === "string") out[k] = v.length > MAX_STRING ? `${v.slice(0, MAX_STRING)}…` : v;
    else if (typeof v === "number" || typeof v === "boolean" || v === null) out[k] = v;
  }
  return out;
}

/** The same-site path of the page an event is about. */
export function pagePath(orgId: string, data: WebhookBody["data"]): string {
  if (typeof data.taskId === "string") return `/tasks/${data.taskId}`;
  if (typeof data.projectId === "string") return `/projects/${data.projectId}`;
  return `/orgs/${orgId}`;
}

const words = (type: string) => type.replace(/[._]/g, " ");

/** A readable one-line summary of the event ("Task claimed: Add CSV export"). */
export function summary(body: WebhookBody): string {
  const d = body.data;
  const title = typeof d.title === "string" ? d.title : null;
  const what =
    body.type === "webhook.test"
      ? "Test event from DevSponsor"
      : `${words(body.type).charAt(0).toUpperCase()}${words(body.type).slice(1)}`;
  const amount = typeof d.amount === "string" || typeof d.amount === "number" ? ` (amount ${d.amount})` : "";
  return `[${body.org.name}] ${what}${title ? `: ${title}` : ""}${amount}`;
}

/** The JSON an endpoint of `format` gets for `body`. */
export function render(format: WebhookFormat, body: WebhookBody): unknown {
  const line = summary(body);
  if (format === "slack") {
    const text = slackEscape(line) + (body.url ? ` <${body.url}|Open>` : "");
    return { text, blocks: [{ type: "section", text: { type: "mrkdwn", text } }] };
  }
  if (format === "discord") {
    return {
      content: (body.url ? `${line} ${body.url}` : line).slice(0, 2000),
      embeds: [{ title: line.slice(0, 256), ...(body.url ? { url: body.url } : {}), timestamp: body.occurredAt }],
      allowed_mentions: { parse: [] },
    };
  }
  return body;
}

// Slack reads <…> as links and mentions: the text we did not write is escaped.
const slackEscape = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** The `X-DevSponsor-Signature` value: HMAC-SHA256 of `${timestamp}.${body}` with the endpoint's secret. */
export function signature(secret: string, timestamp: number, body: string): string {
  const v1 = createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
  return `t=${timestamp},v1=${v1}`;
}
