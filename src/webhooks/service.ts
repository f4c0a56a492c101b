// Outgoing webhooks: an org's endpoints (owners and maintainers manage them), the bus subscriber that turns each
// event an endpoint wants into a stored delivery with its job, and the job's attempts: SSRF check at every attempt,
// signed POST, delivery log, retries with backoff for 24 h, and disabling an endpoint that keeps failing.
import { randomBytes } from "node:crypto";
import { and, desc, eq, inArray, lt, sql } from "drizzle-orm";
import type { AppContext, Principal } from "../core/context";
import type { Db } from "../core/db";
import { decrypt, encrypt } from "../core/crypto";
import { invalidInput, conflict, notFound, zodFieldErrors } from "../core/errors";
import type { RunContext } from "../core/jobs";
import { jobs } from "../core/jobs/schema";
import { checkHost, type HostResolver, type HostVerdict } from "../core/net/ssrf";
import type { DomainEvent } from "../events/service";
import { notify } from "../notifications/service";
import { isUuid, requireOrgRole } from "../orgs/permissions";
import { orgMembers, orgs } from "../orgs/schema";
import { WebhookCreateRequest, WebhookUpdateRequest } from "./model";
import { minimalData, pagePath, render, signature, type WebhookBody } from "./payloads";
import { type DeliveryState, type WebhookFormat, webhookAttempts, webhookDeliveries, webhookEndpoints } from "./schema";
import { send } from "./send";

/** The job that makes the attempts of one delivery. */
export const DELIVER_JOB = "webhooks.deliver";
/** The bus subscriber's id. */
export const SUBSCRIBER = "webhooks";
/** The event type of "send test event". */
export const TEST_EVENT = "webhook.test";
/** How long a delivery is retried after its first attempt. */
export const RETRY_WINDOW_MS = 24 * 3_600_000;
/** Attempts one job may make: more than the window needs at the longest backoff (the window ends it first). */
export const MAX_ATTEMPTS = 60;

/** What the webhooks domain needs of the context. */
export type WebhookDeps = Pick<AppContext, "db" | "masterKey" | "settings" | "jobs" | "config" | "log"> & {
  /** The resolver of the SSRF check (the system's by default). */
  resolveHost?: HostResolver;
};

type Endpoint = typeof webhookEndpoints.$inferSelect;

/** An endpoint as its managers see it (never the secret). */
export interface EndpointView {
  id: string;
  orgId: string;
  name: string;
  url: string;
  format: WebhookFormat;
  events: string[];
  enabled: boolean;
  consecutiveFailures: number;
  failingSince: Date | null;
  lastSuccessAt: Date | null;
  disabledAt: Date | null;
  disabledReason: string | null;
  createdAt: Date;
}

/** A delivery in the log, with the time of its next attempt while it waits for one. */
export interface DeliveryView {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  status: DeliveryState;
  attempts: number;
  lastStatusCode: number | null;
  lastError: string | null;
  firstAttemptAt: Date | null;
  lastAttemptAt: Date | null;
  nextAttemptAt: Date | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

const newSecret = () => `whsec_${randomBytes(24).toString("base64url")}`;
const urlAad = (id: string) => `webhook_endpoints.url:${id}`;
const secretAad = (id: string) => `webhook_endpoints.secret:${id}`;

function view(deps: Pick<WebhookDeps, "masterKey">, e: Endpoint): EndpointView {
  return {
    id: e.id,
    orgId: e.orgId,
    name: e.name,
    url: decrypt(deps.masterKey, e.urlSealed, urlAad(e.id)),
    format: e.format,
    events: e.events,
    enabled: e.enabled,
    consecutiveFailures: e.consecutiveFailures,
    failingSince: e.failingSince,
    lastSuccessAt: e.lastSuccessAt,
    disabledAt: e.disabledAt,
    disabledReason: e.disabledReason,
    createdAt: e.createdAt,
  };
}

/** Whether event `name` is one of `patterns` (empty: every event). */
export function wants(patterns: readonly string[], name: string): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) => p === "*" || p === name || (p.endsWith(".*") && name.startsWith(p.slice(0, -1))));
}

/**
 * The SSRF check of a webhook URL, with the rules of repository URLs: public addresses only, unless the admin
 * allowed the host or network (security.allowedRepoHosts). `unresolved: "pass"` when saving (the name is checked
 * again before every attempt).
 */
export async function checkWebhookUrl(
  deps: Pick<WebhookDeps, "settings" | "resolveHost">,
  url: string,
  unresolved: "refuse" | "pass",
): Promise<HostVerdict> {
  let host: string;
  try {
    const u = new URL(url);
    if (u.protocol !== "https:" && u.protocol !== "http:")
      return { ok: false, reason: "only http and https are allowed" };
    host = u.hostname;
  } catch {
    return { ok: false, reason: "it is not a URL" };
  }
  return checkHost(host, {
    allow: deps.settings.get("security.allowedRepoHosts") ?? [],
    resolve: deps.resolveHost,
    unresolved,
  });
}

async function refuseForbiddenUrl(deps: WebhookDeps, url: string) {
  const verdict = await checkWebhookUrl(deps, url, "pass");
  if (!verdict.ok) {
    throw invalidInput(
      { url: `This address is not allowed: ${verdict.reason}.` },
      `This webhook address is not allowed: ${verdict.reason}. An admin can allow a host or network in Settings (security.allowedRepoHosts).`,
    );
  }
}

async function loadEndpoint(db: Db, orgId: string, id: string): Promise<Endpoint> {
  if (!isUuid(id)) throw notFound("Webhook");
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.orgId, orgId)));
  if (!row) throw notFound("Webhook");
  return row;
}

/** The org's endpoints (OWNER, MAINTAINER). */
export async function listEndpoints(deps: WebhookDeps, principal: Principal | null, orgId: string) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.view");
  const rows = await deps.db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.orgId, orgId))
    .orderBy(webhookEndpoints.createdAt);
  return rows.map((r) => view(deps, r));
}

/** One endpoint of the org. */
export async function getEndpoint(deps: WebhookDeps, principal: Principal | null, orgId: string, id: string) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.view");
  return view(deps, await loadEndpoint(deps.db, orgId, id));
}

/** Adds an endpoint; returns it with its signing secret, which is shown this once. */
export async function createEndpoint(deps: WebhookDeps, principal: Principal | null, orgId: string, input: unknown) {
  const access = await requireOrgRole(deps.db, principal, orgId, "webhooks.manage");
  const parsed = WebhookCreateRequest.safeParse(input);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  const data = parsed.data;
  await refuseForbiddenUrl(deps, data.url);
  const id = Bun.randomUUIDv7();
  const secret = newSecret();
  const [row] = await deps.db
    .insert(webhookEndpoints)
    .values({
      id,
      orgId,
      name: data.name,
      urlSealed: encrypt(deps.masterKey, data.url, urlAad(id)),
      format: data.format,
      events: [...new Set(data.events ?? [])],
      enabled: data.enabled ?? true,
      secretSealed: encrypt(deps.masterKey, secret, secretAad(id)),
      createdById: access.userId,
    })
    .returning();
  return { endpoint: view(deps, row!), secret };
}

/** Changes an endpoint; turning it on again clears its failure count. */
export async function updateEndpoint(
  deps: WebhookDeps,
  principal: Principal | null,
  orgId: string,
  id: string,
  input: unknown,
) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.manage");
  const current = await loadEndpoint(deps.db, orgId, id);
  const parsed = WebhookUpdateRequest.safeParse(input);
  if (!parsed.success) throw invalidInput(zodFieldErrors(parsed.error.issues));
  const data = parsed.data;
  if (data.url !== undefined) await refuseForbiddenUrl(deps, data.url);
  const reenabled = data.enabled === true && !current.enabled;
  const [row] = await deps.db
    .update(webhookEndpoints)
    .set({
      ...(data.name !== undefined ? { name: data.name } : {}),
      ...(data.url !== undefined ? { urlSealed: encrypt(deps.masterKey, data.url, urlAad(id)) } : {}),
      ...(data.format !== undefined ? { format: data.format } : {}),
      ...(data.events !== undefined ? { events: [...new Set(data.events)] } : {}),
      ...(data.enabled !== undefined ? { enabled: data.enabled } : {}),
      ...(reenabled ? { consecutiveFailures: 0, failingSince: null, disabledAt: null, disabledReason: null } : {}),
      updatedAt: new Date(),
    })
    .where(eq(webhookEndpoints.id, id))
    .returning();
  return view(deps, row!);
}

/** Gives an endpoint a new signing secret (the old one stops working at once); returns it, shown this once. */
export async function rotateSecret(deps: WebhookDeps, principal: Principal | null, orgId: string, id: string) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.manage");
  await loadEndpoint(deps.db, orgId, id);
  const secret = newSecret();
  const [row] = await deps.db
    .update(webhookEndpoints)
    .set({ secretSealed: encrypt(deps.masterKey, secret, secretAad(id)), updatedAt: new Date() })
    .where(eq(webhookEndpoints.id, id))
    .returning();
  return { endpoint: view(deps, row!), secret };
}

/** Turns a disabled endpoint on again, with a clean failure count. */
export function enableEndpoint(deps: WebhookDeps, principal: Principal | null, orgId: string, id: string) {
  return updateEndpoint(deps, principal, orgId, id, { enabled: true });
}

/** Deletes an endpoint with its delivery log. */
export async function deleteEndpoint(deps: WebhookDeps, principal: Principal | null, orgId: string, id: string) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.manage");
  await loadEndpoint(deps.db, orgId, id);
  await deps.db.delete(webhookEndpoints).where(eq(webhookEndpoints.id, id));
}

/** The public origin links in payloads point to: the admin's setting, the configured URL, else the listener. */
function siteUrl(deps: Pick<WebhookDeps, "settings" | "config">): string {
  const configured = deps.settings.get("instance.publicUrl") || deps.config.publicUrl;
  if (configured) return configured.replace(/\/+$/, "");
  const host = ["0.0.0.0", "::", ""].includes(deps.config.host) ? "localhost" : deps.config.host;
  return `http://${host}:${deps.config.port}`;
}

/** Stores a delivery of `body` to endpoint `endpointId` with its job, in `tx`; null when it exists already. */
async function addDelivery(deps: WebhookDeps, tx: Db, endpointId: string, orgId: string, body: WebhookBody) {
  const id = Bun.randomUUIDv7();
  const [row] = await tx
    .insert(webhookDeliveries)
    .values({ id, endpointId, orgId, eventId: body.id, eventType: body.type, payload: { ...body } })
    .onConflictDoNothing()
    .returning({ id: webhookDeliveries.id });
  if (!row) return null; // this event reached this endpoint before (a redelivered event)
  const job = await deps.jobs.enqueueIn(tx, DELIVER_JOB, { deliveryId: id }, { maxAttempts: MAX_ATTEMPTS });
  await tx.update(webhookDeliveries).set({ jobId: job.id }).where(eq(webhookDeliveries.id, id));
  return id;
}

/**
 * The bus subscriber: one delivery (and its job) per enabled endpoint of the event's org that wants the event, in the
 * transaction that records the event as handed over, so a redelivered event adds nothing.
 */
export function eventSubscriber(deps: WebhookDeps) {
  return async (event: DomainEvent, tx: Db) => {
    if (!event.orgId) return;
    const endpoints = await tx
      .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
      .from(webhookEndpoints)
      .where(and(eq(webhookEndpoints.orgId, event.orgId), eq(webhookEndpoints.enabled, true)));
    const targets = endpoints.filter((e) => wants(e.events, event.name));
    if (targets.length === 0) return;
    const [org] = await tx.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, event.orgId));
    if (!org) return;
    const data = minimalData(event.payload);
    const body: WebhookBody = {
      id: event.id,
      type: event.name,
      occurredAt: event.createdAt.toISOString(),
      org: { id: event.orgId, name: org.name },
      data,
      url: `${siteUrl(deps)}${pagePath(event.orgId, data)}`,
    };
    for (const e of targets) await addDelivery(deps, tx, e.id, event.orgId, body);
  };
}

/** Queues a test event to one endpoint (also while it is disabled, to check it before turning it on). */
export async function sendTestEvent(deps: WebhookDeps, principal: Principal | null, orgId: string, id: string) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.manage");
  const endpoint = await loadEndpoint(deps.db, orgId, id);
  const [org] = await deps.db.select({ name: orgs.name }).from(orgs).where(eq(orgs.id, orgId));
  const body: WebhookBody = {
    id: crypto.randomUUID(),
    type: TEST_EVENT,
    occurredAt: new Date().toISOString(),
    org: { id: orgId, name: org?.name ?? "" },
    data: { webhookId: endpoint.id },
    url: `${siteUrl(deps)}/orgs/${orgId}/webhooks/${endpoint.id}`,
  };
  const deliveryId = await deps.db.transaction((tx) => addDelivery(deps, tx as unknown as Db, id, orgId, body));
  return { deliveryId: deliveryId! };
}

const deliveryColumns = {
  id: webhookDeliveries.id,
  endpointId: webhookDeliveries.endpointId,
  eventId: webhookDeliveries.eventId,
  eventType: webhookDeliveries.eventType,
  status: webhookDeliveries.status,
  attempts: webhookDeliveries.attempts,
  lastStatusCode: webhookDeliveries.lastStatusCode,
  lastError: webhookDeliveries.lastError,
  firstAttemptAt: webhookDeliveries.firstAttemptAt,
  lastAttemptAt: webhookDeliveries.lastAttemptAt,
  deliveredAt: webhookDeliveries.deliveredAt,
  createdAt: webhookDeliveries.createdAt,
  // a pending delivery's job waits in `failed` until its backoff ends (or is queued to run now)
  nextAttemptAt: sql<Date | null>`case when ${webhookDeliveries.status} = 'pending' then ${jobs.runAt} end`,
};

/** The delivery log of one endpoint, newest first. */
export async function listDeliveries(
  deps: WebhookDeps,
  principal: Principal | null,
  orgId: string,
  id: string,
  limit = 50,
): Promise<DeliveryView[]> {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.view");
  await loadEndpoint(deps.db, orgId, id);
  const rows = await deps.db
    .select(deliveryColumns)
    .from(webhookDeliveries)
    .leftJoin(jobs, eq(jobs.id, webhookDeliveries.jobId))
    .where(eq(webhookDeliveries.endpointId, id))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(Math.min(Math.max(1, limit), 200));
  return rows.map(fixDates);
}

// A date read through a raw `sql` column comes back as text on some drivers.
const fixDates = (r: DeliveryView): DeliveryView => ({
  ...r,
  nextAttemptAt: r.nextAttemptAt ? new Date(r.nextAttemptAt) : null,
});

/** One delivery with the body it sends and its attempts (`log`). */
export async function getDelivery(
  deps: WebhookDeps,
  principal: Principal | null,
  orgId: string,
  id: string,
  deliveryId: string,
) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.view");
  await loadEndpoint(deps.db, orgId, id);
  if (!isUuid(deliveryId)) throw notFound("Delivery");
  const [row] = await deps.db
    .select({ ...deliveryColumns, payload: webhookDeliveries.payload })
    .from(webhookDeliveries)
    .leftJoin(jobs, eq(jobs.id, webhookDeliveries.jobId))
    .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, id)));
  if (!row) throw notFound("Delivery");
  const log = await deps.db
    .select({
      attempt: webhookAttempts.attempt,
      statusCode: webhookAttempts.statusCode,
      durationMs: webhookAttempts.durationMs,
      responseBody: webhookAttempts.responseBody,
      error: webhookAttempts.error,
      createdAt: webhookAttempts.createdAt,
    })
    .from(webhookAttempts)
    .where(eq(webhookAttempts.deliveryId, deliveryId))
    .orderBy(webhookAttempts.id);
  const { payload, ...rest } = row;
  return { ...fixDates(rest), payload, log };
}

/** Sends a delivery that is not waiting for an attempt again, with a new 24 h window. */
export async function redeliver(
  deps: WebhookDeps,
  principal: Principal | null,
  orgId: string,
  id: string,
  deliveryId: string,
) {
  await requireOrgRole(deps.db, principal, orgId, "webhooks.manage");
  await loadEndpoint(deps.db, orgId, id);
  if (!isUuid(deliveryId)) throw notFound("Delivery");
  return deps.db.transaction(async (tx) => {
    const [row] = await tx
      .select({ status: webhookDeliveries.status })
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, id)))
      .for("update");
    if (!row) throw notFound("Delivery");
    if (row.status === "pending") throw conflict("This delivery is still being attempted.");
    const job = await deps.jobs.enqueueIn(
      tx as unknown as Db,
      DELIVER_JOB,
      { deliveryId },
      { maxAttempts: MAX_ATTEMPTS },
    );
    await tx
      .update(webhookDeliveries)
      .set({ status: "pending", firstAttemptAt: null, deliveredAt: null, jobId: job.id })
      .where(eq(webhookDeliveries.id, deliveryId));
    return { deliveryId, status: "pending" as const };
  });
}

/** Whether a failed attempt's answer means trying again cannot help. */
function permanentFailure(statusCode: number | null): boolean {
  if (statusCode === null) return false;
  if (statusCode >= 300 && statusCode < 400) return true; // redirects are not followed
  return statusCode >= 400 && statusCode < 500 && ![408, 409, 425, 429].includes(statusCode);
}

/** Thrown for a failed attempt that will be retried: the queue waits its backoff, then runs the job again. */
class AttemptFailed extends Error {}

/**
 * Makes one attempt of delivery `deliveryId` (the `webhooks.deliver` job). A failed attempt throws while the 24 h
 * window and the job's attempts last; after that the delivery is failed, and its endpoint may be disabled.
 */
export async function attemptDelivery(
  deps: WebhookDeps,
  deliveryId: string,
  run?: Pick<RunContext, "attempt" | "maxAttempts">,
) {
  const [row] = await deps.db
    .select({ d: webhookDeliveries, e: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, deliveryId));
  if (row?.d.status !== "pending") return { skipped: true };
  const { d, e } = row;
  const now = new Date();
  if (!e.enabled && d.eventType !== TEST_EVENT) {
    await deps.db
      .update(webhookDeliveries)
      .set({ status: "failed", lastError: "The endpoint is disabled." })
      .where(eq(webhookDeliveries.id, d.id));
    return { status: "failed", reason: "endpoint disabled" };
  }
  const attempt = d.attempts + 1;
  const url = decrypt(deps.masterKey, e.urlSealed, urlAad(e.id));
  const verdict = await checkWebhookUrl(deps, url, "refuse");
  let result: Awaited<ReturnType<typeof send>>;
  let permanent = false;
  if (!verdict.ok) {
    result = { statusCode: null, durationMs: 0, responseBody: null, error: `address not allowed: ${verdict.reason}` };
    permanent = true;
  } else {
    const body = JSON.stringify(render(e.format, d.payload as unknown as WebhookBody));
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "DevSponsor-Webhooks/1",
      "x-devsponsor-event": d.eventType,
      "x-devsponsor-delivery": d.id,
    };
    if (e.format === "generic") {
      const secret = decrypt(deps.masterKey, e.secretSealed, secretAad(e.id));
      headers["x-devsponsor-signature"] = signature(secret, Math.floor(Date.now() / 1000), body);
    }
    result = await send(url, body, headers, verdict.addresses);
    permanent = permanentFailure(result.statusCode);
  }
  const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
  const first = d.firstAttemptAt ?? now;
  const last =
    ok ||
    permanent ||
    now.getTime() - first.getTime() >= RETRY_WINDOW_MS ||
    (run ? run.attempt >= run.maxAttempts : true);
  const status: DeliveryState = ok ? "succeeded" : last ? "failed" : "pending";
  const disabled = await deps.db.transaction(async (tx) => {
    await tx.insert(webhookAttempts).values({
      deliveryId: d.id,
      attempt,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      responseBody: result.responseBody,
      error: result.error,
    });
    await tx
      .update(webhookDeliveries)
      .set({
        status,
        attempts: attempt,
        firstAttemptAt: first,
        lastAttemptAt: now,
        lastStatusCode: result.statusCode,
        lastError: ok ? null : (result.error ?? `HTTP ${result.statusCode}`),
        deliveredAt: ok ? now : null,
      })
      .where(eq(webhookDeliveries.id, d.id));
    if (d.eventType === TEST_EVENT) return null; // a test says how the endpoint answers; it does not count
    if (ok) {
      await tx
        .update(webhookEndpoints)
        .set({ consecutiveFailures: 0, failingSince: null, lastSuccessAt: now })
        .where(eq(webhookEndpoints.id, e.id));
      return null;
    }
    const [counted] = await tx
      .update(webhookEndpoints)
      .set({
        failingSince: sql`coalesce(${webhookEndpoints.failingSince}, ${now.toISOString()}::timestamptz)`,
        ...(last ? { consecutiveFailures: sql`${webhookEndpoints.consecutiveFailures} + 1` } : {}),
      })
      .where(eq(webhookEndpoints.id, e.id))
      .returning({
        enabled: webhookEndpoints.enabled,
        consecutiveFailures: webhookEndpoints.consecutiveFailures,
        failingSince: webhookEndpoints.failingSince,
      });
    return counted?.enabled ? disableIfFailing(deps, tx as unknown as Db, e, counted, now) : null;
  });
  if (disabled) deps.log.warn("webhook endpoint disabled", { endpointId: e.id, orgId: e.orgId, reason: disabled });
  if (!last) throw new AttemptFailed(`attempt ${attempt}: ${result.error ?? `HTTP ${result.statusCode}`}`);
  return { status, statusCode: result.statusCode };
}

/**
 * Disables an endpoint whose deliveries failed `webhooks.disableAfterFailures` times in a row, or that has failed
 * for `webhooks.disableAfterHours` without a success, and tells the org's owners. Returns the reason, or null.
 */
async function disableIfFailing(
  deps: WebhookDeps,
  tx: Db,
  e: Endpoint,
  counted: { consecutiveFailures: number; failingSince: Date | string | null },
  now: Date,
): Promise<string | null> {
  const maxFailures = deps.settings.get("webhooks.disableAfterFailures");
  const maxHours = deps.settings.get("webhooks.disableAfterHours");
  const since = counted.failingSince ? new Date(counted.failingSince) : null;
  let reason: string | null = null;
  if (counted.consecutiveFailures >= maxFailures) {
    reason = `${counted.consecutiveFailures} deliveries in a row failed.`;
  } else if (since && now.getTime() - since.getTime() >= maxHours * 3_600_000) {
    reason = `Every attempt failed for ${maxHours} hours (since ${since.toISOString()}).`;
  }
  if (!reason) return null;
  const [changed] = await tx
    .update(webhookEndpoints)
    .set({ enabled: false, disabledAt: now, disabledReason: reason, updatedAt: now })
    .where(and(eq(webhookEndpoints.id, e.id), eq(webhookEndpoints.enabled, true)))
    .returning({ id: webhookEndpoints.id });
  if (!changed) return null; // another attempt disabled it first: one notice
  const owners = await tx
    .select({ userId: orgMembers.userId })
    .from(orgMembers)
    .where(and(eq(orgMembers.orgId, e.orgId), inArray(orgMembers.role, ["OWNER"])));
  for (const o of owners) {
    await notify(tx, o.userId, {
      type: "WEBHOOK_DISABLED",
      title: `Webhook disabled: ${e.name}`,
      body: `${reason} Check the endpoint and turn it on again on its page.`,
      link: `/orgs/${e.orgId}/webhooks/${e.id}`,
      metadata: { webhookId: e.id, orgId: e.orgId },
    });
  }
  return reason;
}

/** Drops deliveries (with their attempts) created more than `olderThanMs` ago that are no longer pending. */
export async function pruneDeliveries(deps: Pick<WebhookDeps, "db">, olderThanMs = 30 * 86_400_000) {
  const rows = await deps.db
    .delete(webhookDeliveries)
    .where(
      and(
        lt(webhookDeliveries.createdAt, new Date(Date.now() - olderThanMs)),
        inArray(webhookDeliveries.status, ["succeeded", "failed"]),
      ),
    )
    .returning({ id: webhookDeliveries.id });
  return rows.length;
}
