import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { type AppContext, requireAdmin } from "../core/context";
import { pageProps, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { getOrg } from "../orgs/service";
import { OrgNav } from "../orgs/views";
import { intInRange } from "../core/http/input";
import { auditActorNames, orgAuditTrail, platformAuditTrail } from "./service";
import { verifyAudit } from "./verify";
import { AuditPage } from "./views";

const beforeOf = (q: Record<string, unknown>) => {
  const n = intInRange(1, Number.MAX_SAFE_INTEGER).safeParse(q.before);
  return n.success ? n.data : undefined;
};

/** Audit pages and API: owners read their org's trail, platform admins everything and the chain check. */
export const auditRoutes = (ctx: AppContext) =>
  new Elysia({ name: "audit" })
    .use(httpContext(ctx))
    .get(
      "/api/orgs/:id/audit",
      async ({ params, query, principal }) => {
        return {
          entries: await orgAuditTrail(ctx.db, await principal(), params.id, {
            beforeSeq: beforeOf(query),
            limit: Number(query.limit) || 50,
          }),
        };
      },
      { detail: { summary: "An org's audit trail, newest first (owners; ?before=seq)", tags: ["audit"] } },
    )
    .get(
      "/api/audit",
      async ({ query, principal }) => {
        const page = { beforeSeq: beforeOf(query), limit: Number(query.limit) || 50 };
        return { entries: await platformAuditTrail(ctx.db, await principal(), page) };
      },
      { detail: { summary: "The whole audit trail (admins; ?before=seq)", tags: ["audit"] } },
    )
    .get(
      "/api/audit/verify",
      async ({ principal }) => {
        requireAdmin(await principal());
        return verifyAudit(ctx.db);
      },
      {
        detail: {
          summary:
            "Recompute the audit hash chain and check every AI call against it; reports the first broken entry and each AI call that does not match (admins)",
          tags: ["audit"],
        },
      },
    )
    .get("/orgs/:id/audit", async ({ request, params, query, principal }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const rows = await orgAuditTrail(ctx.db, p, params.id, { beforeSeq: beforeOf(query), limit: 50 });
      const org = await getOrg(ctx.db, p, params.id);
      return html(
        <AuditPage
          {...pageProps(p)}
          title={`${org.name}: audit trail`}
          rows={rows}
          actors={await auditActorNames(ctx.db, rows)}
          nav={<OrgNav org={org} current="audit" />}
          olderHref={rows.length === 50 ? `/orgs/${params.id}/audit?before=${rows.at(-1)!.seq}` : undefined}
        />,
      );
    })
    .get("/admin/audit", async ({ request, query, principal }) => {
      const p = await signedIn(request, principal);
      if (p instanceof Response) return p;
      const rows = await platformAuditTrail(ctx.db, p, { beforeSeq: beforeOf(query), limit: 50 });
      return html(
        <AuditPage
          {...pageProps(p)}
          title="Audit trail"
          rows={rows}
          actors={await auditActorNames(ctx.db, rows)}
          chain={query.verify === "1" ? await verifyAudit(ctx.db) : undefined}
          verifyHref={query.verify === "1" ? undefined : "/admin/audit?verify=1"}
          olderHref={rows.length === 50 ? `/admin/audit?before=${rows.at(-1)!.seq}` : undefined}
        />,
      );
    });
