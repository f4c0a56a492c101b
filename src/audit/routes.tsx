import { inArray } from "drizzle-orm";
import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { seeOther, viewerOf } from "../auth/web";
import { type AppContext, requireAdmin } from "../core/context";
import type { Db } from "../core/db";
import { httpContext } from "../core/http/plugin";
import { OrgNav } from "../orgs/views";
import { requireOrgRole } from "../orgs/permissions";
import { getOrg } from "../orgs/service";
import { users } from "../users/schema";
import { type AuditRow, listAudit, verifyAuditChain } from "./service";
import { AuditPage } from "./views";

async function actorNames(db: Db, rows: AuditRow[]) {
  const ids = [...new Set(rows.map((r) => r.actorId).filter((x): x is string => !!x))];
  if (!ids.length) return new Map<string, string>();
  const found = await db.select({ id: users.id, name: users.name }).from(users).where(inArray(users.id, ids));
  return new Map(found.map((u) => [u.id, u.name]));
}

const beforeOf = (q: Record<string, unknown>) => {
  const n = Number(q.before);
  return Number.isInteger(n) && n > 0 ? n : undefined;
};

/** Audit pages and API: owners read their org's trail, platform admins everything and the chain check. */
export const auditRoutes = (ctx: AppContext) =>
  new Elysia({ name: "audit" })
    .use(httpContext(ctx))
    .get(
      "/api/orgs/:id/audit",
      async ({ params, query, principal }) => {
        await requireOrgRole(ctx.db, await principal(), params.id, "audit.view");
        return {
          entries: await listAudit(ctx.db, {
            orgId: params.id,
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
        requireAdmin(await principal());
        return { entries: await listAudit(ctx.db, { beforeSeq: beforeOf(query), limit: Number(query.limit) || 50 }) };
      },
      { detail: { summary: "The whole audit trail (admins; ?before=seq)", tags: ["audit"] } },
    )
    .get(
      "/api/audit/verify",
      async ({ principal }) => {
        requireAdmin(await principal());
        return verifyAuditChain(ctx.db);
      },
      {
        detail: {
          summary: "Recompute the audit hash chain and report the first broken entry (admins)",
          tags: ["audit"],
        },
      },
    )
    .get("/orgs/:id/audit", async ({ request, params, query, principal }) => {
      const p = await principal();
      if (!p) return seeOther(request, `/signin?next=${encodeURIComponent(new URL(request.url).pathname)}`);
      await requireOrgRole(ctx.db, p, params.id, "audit.view");
      const org = await getOrg(ctx.db, p, params.id);
      const rows = await listAudit(ctx.db, { orgId: params.id, beforeSeq: beforeOf(query), limit: 50 });
      return html(
        <AuditPage
          viewer={viewerOf(p)!}
          csrf={p.csrfToken}
          title={`${org.name}: audit trail`}
          rows={rows}
          actors={await actorNames(ctx.db, rows)}
          nav={<OrgNav org={org} current="audit" />}
          olderHref={rows.length === 50 ? `/orgs/${params.id}/audit?before=${rows.at(-1)!.seq}` : undefined}
        />,
      );
    })
    .get("/admin/audit", async ({ request, query, principal }) => {
      const p = await principal();
      if (!p) return seeOther(request, "/signin?next=/admin/audit");
      requireAdmin(p);
      const rows = await listAudit(ctx.db, { beforeSeq: beforeOf(query), limit: 50 });
      return html(
        <AuditPage
          viewer={viewerOf(p)!}
          csrf={p.csrfToken}
          title="Audit trail"
          rows={rows}
          actors={await actorNames(ctx.db, rows)}
          chain={query.verify === "1" ? await verifyAuditChain(ctx.db) : undefined}
          olderHref={rows.length === 50 ? `/admin/audit?before=${rows.at(-1)!.seq}` : undefined}
        />,
      );
    });
