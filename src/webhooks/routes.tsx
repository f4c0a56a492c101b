import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { formError, formText, pageProps, readFlash, readForm, seeOther, signedIn, withError } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { getOrg } from "../orgs/service";
import { WebhookCreateRequest, WebhookUpdateRequest } from "./model";
import {
  createEndpoint,
  deleteEndpoint,
  enableEndpoint,
  getDelivery,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  redeliver,
  rotateSecret,
  sendTestEvent,
  updateEndpoint,
} from "./service";
import { DeliveryPage, WebhookPage, WebhooksPage } from "./views";

const FLASH: Record<string, string> = {
  saved: "Webhook saved.",
  deleted: "Webhook deleted.",
  test: "Test event queued: it shows in the delivery log below.",
  enabled: "Webhook turned on again.",
  redeliver: "Delivery queued again.",
};

/** The form's fields as the service takes them: events split on spaces and commas, the checkbox as a boolean. */
function endpointInput(form: Record<string, string>) {
  return {
    name: formText(form, "name"),
    url: formText(form, "url"),
    format: formText(form, "format") || "generic",
    events: formText(form, "events")
      .split(/[\s,]+/)
      .filter(Boolean),
    enabled: form.enabled === "on",
  };
}

/** The org's webhook pages and API (OWNER, MAINTAINER). */
export const webhookRoutes = (ctx: AppContext) => {
  const flashOf = (q: Record<string, unknown>) => readFlash(q, FLASH, { errors: true });
  const listPage = async (
    p: Principal,
    orgId: string,
    extra: Partial<Parameters<typeof WebhooksPage>[0]> = {},
    status = 200,
  ) => {
    const [org, endpoints] = await Promise.all([getOrg(ctx.db, p, orgId), listEndpoints(ctx, p, orgId)]);
    return html(<WebhooksPage {...pageProps(p)} org={org} endpoints={endpoints} {...extra} />, status);
  };
  const endpointPage = async (
    p: Principal,
    orgId: string,
    id: string,
    extra: Partial<Parameters<typeof WebhookPage>[0]> = {},
    status = 200,
  ) => {
    const [org, endpoint, deliveries] = await Promise.all([
      getOrg(ctx.db, p, orgId),
      getEndpoint(ctx, p, orgId, id),
      listDeliveries(ctx, p, orgId, id),
    ]);
    return html(
      <WebhookPage {...pageProps(p)} org={org} endpoint={endpoint} deliveries={deliveries} {...extra} />,
      status,
    );
  };
  const tag = { tags: ["webhooks"] };

  return (
    new Elysia({ name: "webhooks" })
      .use(httpContext(ctx))
      .get("/orgs/:id/webhooks", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return listPage(p, params.id, { flash: flashOf(query) });
      })
      .post("/orgs/:id/webhooks", async ({ params, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        try {
          const created = await createEndpoint(ctx, p, params.id, endpointInput(form));
          // not a redirect: the secret is shown on this answer only
          return listPage(p, params.id, { created });
        } catch (err) {
          const e = formError(err, form);
          if (!e) throw err;
          return listPage(
            p,
            params.id,
            {
              values: { ...form, enabled: form.enabled ?? "off" },
              errors: e.errors,
              flash: { kind: "error", message: e.message },
            },
            400,
          );
        }
      })
      .get("/orgs/:id/webhooks/:webhookId", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return endpointPage(p, params.id, params.webhookId, { flash: flashOf(query) });
      })
      .post("/orgs/:id/webhooks/:webhookId", async ({ request, params, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        try {
          await updateEndpoint(ctx, p, params.id, params.webhookId, endpointInput(form));
          return seeOther(request, `/orgs/${params.id}/webhooks/${params.webhookId}?done=saved`);
        } catch (err) {
          const e = formError(err, form);
          if (!e) throw err;
          return endpointPage(
            p,
            params.id,
            params.webhookId,
            {
              values: { ...form, enabled: form.enabled ?? "off" },
              errors: e.errors,
              flash: { kind: "error", message: e.message },
            },
            400,
          );
        }
      })
      .post("/orgs/:id/webhooks/:webhookId/delete", async ({ request, params, principal }) => {
        await deleteEndpoint(ctx, requireUser(await principal()), params.id, params.webhookId);
        return seeOther(request, `/orgs/${params.id}/webhooks?done=deleted`);
      })
      .post("/orgs/:id/webhooks/:webhookId/test", async ({ request, params, principal }) => {
        await sendTestEvent(ctx, requireUser(await principal()), params.id, params.webhookId);
        return seeOther(request, `/orgs/${params.id}/webhooks/${params.webhookId}?done=test`);
      })
      .post("/orgs/:id/webhooks/:webhookId/secret", async ({ params, principal }) => {
        const p = requireUser(await principal());
        const { secret } = await rotateSecret(ctx, p, params.id, params.webhookId);
        // not a redirect: the new secret is shown on this answer only
        return endpointPage(p, params.id, params.webhookId, { secret });
      })
      .post("/orgs/:id/webhooks/:webhookId/enable", async ({ request, params, principal }) => {
        await enableEndpoint(ctx, requireUser(await principal()), params.id, params.webhookId);
        return seeOther(request, `/orgs/${params.id}/webhooks/${params.webhookId}?done=enabled`);
      })
      .get("/orgs/:id/webhooks/:webhookId/deliveries/:deliveryId", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const [org, endpoint, delivery] = await Promise.all([
          getOrg(ctx.db, p, params.id),
          getEndpoint(ctx, p, params.id, params.webhookId),
          getDelivery(ctx, p, params.id, params.webhookId, params.deliveryId),
        ]);
        return html(
          <DeliveryPage {...pageProps(p)} org={org} endpoint={endpoint} delivery={delivery} flash={flashOf(query)} />,
        );
      })
      .post(
        "/orgs/:id/webhooks/:webhookId/deliveries/:deliveryId/redeliver",
        async ({ request, params, principal }) => {
          const back = `/orgs/${params.id}/webhooks/${params.webhookId}`;
          try {
            await redeliver(ctx, requireUser(await principal()), params.id, params.webhookId, params.deliveryId);
          } catch (err) {
            // a delivery that is still pending: say so on the page instead of an error page
            if ((err as { code?: string }).code === "CONFLICT")
              return seeOther(request, withError(back, (err as Error).message));
            throw err;
          }
          return seeOther(request, `${back}?done=redeliver`);
        },
      )
      // JSON API
      .get(
        "/api/orgs/:id/webhooks",
        async ({ params, principal }) => ({ webhooks: await listEndpoints(ctx, await principal(), params.id) }),
        { detail: { summary: "The organization's outgoing webhooks (OWNER, MAINTAINER)", ...tag } },
      )
      .post(
        "/api/orgs/:id/webhooks",
        async ({ params, body, principal, set }) => {
          const created = await createEndpoint(ctx, await principal(), params.id, body);
          set.status = 201;
          return { ...created.endpoint, secret: created.secret };
        },
        {
          body: WebhookCreateRequest,
          detail: {
            summary: "Add a webhook; the answer carries its signing secret, shown this once",
            description:
              "Generic deliveries are signed: X-DevSponsor-Signature: t=<unix>,v1=<hex HMAC-SHA256 of <t>.<raw body> with the secret>.",
            ...tag,
          },
        },
      )
      .get(
        "/api/orgs/:id/webhooks/:webhookId",
        async ({ params, principal }) => getEndpoint(ctx, await principal(), params.id, params.webhookId),
        { detail: { summary: "One webhook", ...tag } },
      )
      .patch(
        "/api/orgs/:id/webhooks/:webhookId",
        async ({ params, body, principal }) =>
          updateEndpoint(ctx, await principal(), params.id, params.webhookId, body),
        {
          body: WebhookUpdateRequest,
          detail: { summary: "Change a webhook (enabled: true turns it on again)", ...tag },
        },
      )
      .delete(
        "/api/orgs/:id/webhooks/:webhookId",
        async ({ params, principal, set }) => {
          await deleteEndpoint(ctx, await principal(), params.id, params.webhookId);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Delete a webhook and its delivery log", ...tag } },
      )
      .post(
        "/api/orgs/:id/webhooks/:webhookId/test",
        async ({ params, principal, set }) => {
          const r = await sendTestEvent(ctx, await principal(), params.id, params.webhookId);
          set.status = 202;
          return r;
        },
        { detail: { summary: "Queue a test event (webhook.test) to a webhook", ...tag } },
      )
      .post(
        "/api/orgs/:id/webhooks/:webhookId/secret",
        async ({ params, principal }) => {
          const r = await rotateSecret(ctx, await principal(), params.id, params.webhookId);
          return { ...r.endpoint, secret: r.secret };
        },
        {
          detail: {
            summary: "Give a webhook a new signing secret (shown this once; the old one stops working)",
            ...tag,
          },
        },
      )
      .post(
        "/api/orgs/:id/webhooks/:webhookId/enable",
        async ({ params, principal }) => enableEndpoint(ctx, await principal(), params.id, params.webhookId),
        { detail: { summary: "Turn a disabled webhook on again (its failure count starts over)", ...tag } },
      )
      .get(
        "/api/orgs/:id/webhooks/:webhookId/deliveries",
        async ({ params, query, principal }) => ({
          deliveries: await listDeliveries(
            ctx,
            await principal(),
            params.id,
            params.webhookId,
            Number(query.limit) || 50,
          ),
        }),
        { detail: { summary: "A webhook's delivery log, newest first (?limit=, at most 200)", ...tag } },
      )
      .get(
        "/api/orgs/:id/webhooks/:webhookId/deliveries/:deliveryId",
        async ({ params, principal }) =>
          getDelivery(ctx, await principal(), params.id, params.webhookId, params.deliveryId),
        {
          detail: { summary: "One delivery with its body and every attempt (status code, duration, response)", ...tag },
        },
      )
      .post(
        "/api/orgs/:id/webhooks/:webhookId/deliveries/:deliveryId/redeliver",
        async ({ params, principal, set }) => {
          const r = await redeliver(ctx, await principal(), params.id, params.webhookId, params.deliveryId);
          set.status = 202;
          return r;
        },
        { detail: { summary: "Send a finished delivery again (a new 24 h retry window)", ...tag } },
      )
  );
};
