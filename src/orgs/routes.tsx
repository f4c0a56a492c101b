import { Elysia } from "elysia";
import { formatUnits } from "viem";
import { html } from "../../ui/layout";
import { dataPaths } from "../core/boot";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { invalidInput } from "../core/errors";
import { formError, formText, pageProps, readFlash, readForm, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { listMyInvites } from "../invites/service";
import { earnings, latestVerification, myTasks } from "../tasks/service";
import { getMe } from "../users/service";
import { MemberRoleRequest } from "./model";
import type { OrgRole } from "./permissions";
import {
  MAX_LOGO_BYTES,
  changeMemberRole,
  createOrg,
  getOrg,
  listMembers,
  listOrgs,
  readOrgLogo,
  removeMember,
  setOrgLogo,
  sniffImage,
  updateOrg,
} from "./service";
import { DashboardPage, MembersPage, NewOrgPage, OrgListPage, OrgPage } from "./views";

const FLASH: Record<string, string> = {
  created: "Organization created.",
  saved: "Settings saved.",
  role: "Role changed.",
  removed: "Member removed.",
};

/** The uploaded logo of a form, when one was chosen (browsers send an empty file otherwise). */
function logoOf(body: unknown): File | null {
  const v = (body as Record<string, unknown> | null)?.logo;
  return v instanceof Blob && v.size > 0 ? (v as File) : null;
}

/** Checks a logo before anything is written, so a bad file does not leave half a change behind. */
async function precheckLogo(file: File | null) {
  if (!file) return;
  if (file.size > MAX_LOGO_BYTES) throw invalidInput({ logo: "The logo must be at most 1 MiB." });
  if (!sniffImage(new Uint8Array(await file.slice(0, 16).arrayBuffer())))
    throw invalidInput({ logo: "Use a PNG, JPEG, GIF or WebP image." });
}

/** The form state of a refused save; any other error goes on to the error page. */
const formErrors = (err: unknown) => {
  const form = formError(err);
  if (!form) throw err;
  return form;
};

/** Home dashboard, org pages and the org API (spec §5.3). */
export const orgRoutes = (ctx: AppContext) => {
  const uploads = dataPaths(ctx.config.dataDir).uploads;
  const flashOf = (q: Record<string, unknown>) => readFlash(q, FLASH);
  const orgPage = async (
    p: Principal,
    orgId: string,
    extra: Partial<Parameters<typeof OrgPage>[0]> = {},
    status = 200,
  ) => html(<OrgPage {...pageProps(p)} org={await getOrg(ctx.db, p, orgId)} {...extra} />, status);

  return (
    new Elysia({ name: "orgs" })
      .use(httpContext(ctx))
      .get("/", async ({ request, principal }) => {
        const p = await principal();
        // signed out: the public board is the front page (it says how to sign in), not a sign-in wall
        if (!p) return seeOther(request, "/explore");
        const me = await getMe(ctx.db, p);
        if (!me.onboarded) return seeOther(request, "/onboarding");
        const [orgs, invites, claims, paid] = await Promise.all([
          listOrgs(ctx.db, p),
          listMyInvites(ctx, p),
          myTasks(ctx.db, p),
          earnings(ctx.db, p),
        ]);
        const active = claims.filter((c) => c.claim.state === "ACTIVE").slice(0, 10);
        const verdicts = await Promise.all(active.map((c) => latestVerification(ctx.db, c.task.id)));
        const status = new Map(active.map((c, i) => [c.task.id, verdicts[i]?.status ?? null]));
        const totals = new Map<string, { amount: bigint; decimals: number }>();
        for (const e of paid) {
          const t = totals.get(e.token) ?? { amount: 0n, decimals: e.tokenDecimals };
          t.amount += BigInt(e.amount) - BigInt(e.fee ?? "0");
          totals.set(e.token, t);
        }
        return html(
          <DashboardPage
            {...pageProps(p)}
            orgs={orgs}
            invites={invites.length}
            roles={me.roles}
            claims={claims.map((c) => ({
              taskId: c.task.id,
              taskTitle: c.task.title,
              projectTitle: c.projectTitle,
              claimState: c.claim.state,
              taskStatus: c.task.status,
              verification: status.get(c.task.id) ?? null,
              payout: c.task.payoutAmount
                ? `${formatUnits(BigInt(c.task.payoutAmount), c.tokenDecimals)} ${c.tokenSymbol ?? "ETH"}`
                : null,
            }))}
            earnings={{
              count: paid.length,
              totals: [...totals].map(([token, t]) => ({ token, amount: formatUnits(t.amount, t.decimals) })),
            }}
          />,
        );
      })
      .get("/orgs", async ({ request, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const all = query.all === "1" && p.isAdmin;
        return html(<OrgListPage {...pageProps(p)} orgs={await listOrgs(ctx.db, p, { all })} all={all} />);
      })
      .get("/orgs/new", async ({ request, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return html(<NewOrgPage {...pageProps(p)} />);
      })
      .post("/orgs", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        const values = { name: formText(form, "name"), description: formText(form, "description") };
        try {
          const logo = logoOf(body);
          await precheckLogo(logo);
          const org = await createOrg(ctx.db, p, values);
          if (logo) await setOrgLogo(ctx, p, org.id, logo, uploads);
          return seeOther(request, `/orgs/${org.id}?done=created`);
        } catch (err) {
          const e = formErrors(err);
          return html(
            <NewOrgPage
              {...pageProps(p)}
              values={values}
              errors={e.errors}
              flash={{ kind: "error", message: e.message }}
            />,
            400,
          );
        }
      })
      .get("/orgs/:id", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return orgPage(p, params.id, { flash: flashOf(query) });
      })
      .post("/orgs/:id", async ({ request, params, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        const values = { name: formText(form, "name"), description: formText(form, "description") };
        try {
          const logo = logoOf(body);
          await precheckLogo(logo);
          await updateOrg(ctx.db, p, params.id, values);
          if (logo) await setOrgLogo(ctx, p, params.id, logo, uploads);
          return seeOther(request, `/orgs/${params.id}?done=saved`);
        } catch (err) {
          const e = formErrors(err);
          return orgPage(p, params.id, { values, errors: e.errors, flash: { kind: "error", message: e.message } }, 400);
        }
      })
      .get("/orgs/:id/logo", async ({ params, principal }) => {
        const logo = await readOrgLogo(ctx, await principal(), params.id, uploads);
        return new Response(new Uint8Array(logo.bytes), {
          headers: {
            "content-type": logo.type,
            "cache-control": "private, max-age=300",
            "content-disposition": "inline",
          },
        });
      })
      .get("/orgs/:id/members", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const [org, members] = await Promise.all([getOrg(ctx.db, p, params.id), listMembers(ctx.db, p, params.id)]);
        return html(<MembersPage {...pageProps(p)} org={org} members={members} me={p.userId} flash={flashOf(query)} />);
      })
      .post("/orgs/:id/members/:userId/role", async ({ request, params, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        await changeMemberRole(ctx.db, p, params.id, params.userId, formText(form, "role") as OrgRole);
        return seeOther(request, `/orgs/${params.id}/members?done=role`);
      })
      .post("/orgs/:id/members/:userId/remove", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        await removeMember(ctx.db, p, params.id, params.userId);
        return seeOther(request, p.userId === params.userId ? "/orgs" : `/orgs/${params.id}/members?done=removed`);
      })
      // JSON API
      .get(
        "/api/orgs",
        async ({ query, principal }) => ({
          orgs: await listOrgs(ctx.db, await principal(), { all: query.all === "true" }),
        }),
        { detail: { summary: "The caller's organizations (?all=true: every org, admins only)", tags: ["orgs"] } },
      )
      .post(
        "/api/orgs",
        async ({ body, principal, set }) => {
          const p = await principal();
          const form = readForm(body);
          const logo = logoOf(body);
          await precheckLogo(logo);
          const org = await createOrg(ctx.db, p, {
            name: formText(form, "name"),
            description: formText(form, "description") || null,
          });
          if (logo) Object.assign(org, await setOrgLogo(ctx, p, org.id, logo, uploads));
          set.status = 201;
          return org;
        },
        {
          detail: {
            summary: "Create an organization (JSON, or multipart with a logo file); the caller becomes OWNER",
            tags: ["orgs"],
          },
        },
      )
      .get("/api/orgs/:id", async ({ params, principal }) => getOrg(ctx.db, await principal(), params.id), {
        detail: { summary: "An organization (members and admins)", tags: ["orgs"] },
      })
      .patch(
        "/api/orgs/:id",
        async ({ params, body, principal }) => updateOrg(ctx.db, await principal(), params.id, body),
        {
          detail: { summary: "Change name or description (OWNER, MAINTAINER)", tags: ["orgs"] },
        },
      )
      .put(
        "/api/orgs/:id/logo",
        async ({ params, body, principal }) => setOrgLogo(ctx, await principal(), params.id, logoOf(body), uploads),
        {
          detail: {
            summary: "Upload the org logo (multipart field logo; PNG, JPEG, GIF, WebP ≤ 1 MiB)",
            tags: ["orgs"],
          },
        },
      )
      .get(
        "/api/orgs/:id/members",
        async ({ params, principal }) => ({ members: await listMembers(ctx.db, await principal(), params.id) }),
        {
          detail: { summary: "The members of an organization with their roles", tags: ["orgs"] },
        },
      )
      .patch(
        "/api/orgs/:id/members/:userId",
        async ({ params, body, principal }) =>
          changeMemberRole(ctx.db, await principal(), params.id, params.userId, body.role),
        {
          body: MemberRoleRequest,
          detail: { summary: "Change a member's role (the last owner cannot be demoted)", tags: ["orgs"] },
        },
      )
      .delete(
        "/api/orgs/:id/members/:userId",
        async ({ params, principal, set }) => {
          await removeMember(ctx.db, await principal(), params.id, params.userId);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Remove a member, or leave (the last owner cannot)", tags: ["orgs"] } },
      )
  );
};
