import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { formText, pageProps, readFlash, readForm, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { createRateLimiter } from "../core/http/rate-limit";
import { getOrg } from "../orgs/service";
import { answerInviteForm, answerInviteJson } from "./http";
import { InviteAnswerRequest } from "./model";
import {
  acceptInvite,
  createInvite,
  declineInvite,
  inviteByToken,
  listMyInvites,
  listOrgInvites,
  revokeInvite,
} from "./service";
import { MyInvitesPage, OrgInvitesPage } from "./views";

const FLASH: Record<string, string> = {
  sent: "Invite created.",
  withdrawn: "Invite withdrawn.",
  declined: "Invite declined.",
};

/** Org invites: the managers' page and API, the invitee's page, accept/decline (spec §3.3.1, §5.3). */
export const inviteRoutes = (ctx: AppContext) => {
  // Per inviter: a burst of 20, then one every 2 minutes (30 an hour).
  const invitesByUser = createRateLimiter({ capacity: 20, refillPerSecond: 1 / 120 });
  // Answering (and probing tokens): a burst of 20 per user, then one every 6 s.
  const answersByUser = createRateLimiter({ capacity: 20, refillPerSecond: 1 / 6 });
  const flashOf = (q: Record<string, unknown>) => readFlash(q, FLASH);
  const orgInvitesPage = async (
    p: Principal,
    orgId: string,
    extra: Partial<Parameters<typeof OrgInvitesPage>[0]> = {},
    status = 200,
  ) => {
    const [org, invites] = await Promise.all([getOrg(ctx.db, p, orgId), listOrgInvites(ctx, p, orgId)]);
    return html(<OrgInvitesPage {...pageProps(p)} org={org} invites={invites} {...extra} />, status);
  };

  return (
    new Elysia({ name: "invites" })
      .use(httpContext(ctx))
      .get("/orgs/:id/invites", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return orgInvitesPage(p, params.id, { flash: flashOf(query) });
      })
      .post("/orgs/:id/invites", async ({ request, params, body, principal }) => {
        const p = requireUser(await principal());
        invitesByUser.take(p.userId);
        return answerInviteForm(
          ctx,
          request,
          body,
          (input) => createInvite(ctx, p, params.id, input),
          `/orgs/${params.id}/invites?done=sent`,
          (state, status) => orgInvitesPage(p, params.id, state, status),
        );
      })
      .post("/orgs/:id/invites/:inviteId/revoke", async ({ request, params, principal }) => {
        await revokeInvite(ctx, await principal(), params.id, params.inviteId);
        return seeOther(request, `/orgs/${params.id}/invites?done=withdrawn`);
      })
      .get("/invites", async ({ request, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return html(<MyInvitesPage {...pageProps(p)} invites={await listMyInvites(ctx, p)} flash={flashOf(query)} />);
      })
      .get("/invites/accept", async ({ request, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        const token = typeof query.token === "string" ? query.token : "";
        const invite = await inviteByToken(ctx, p, token);
        return html(<MyInvitesPage {...pageProps(p)} invites={[invite]} token={token} />);
      })
      .post("/invites/accept", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        answersByUser.take(p.userId);
        const r = await acceptInvite(ctx, p, { token: formText(form, "token") });
        return seeOther(request, r.projectId ? `/projects/${r.projectId}` : `/orgs/${r.orgId}`);
      })
      .post("/invites/decline", async ({ request, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        answersByUser.take(p.userId);
        await declineInvite(ctx, p, { token: formText(form, "token") });
        return seeOther(request, "/invites?done=declined");
      })
      .post("/invites/:inviteId/accept", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        answersByUser.take(p.userId);
        const r = await acceptInvite(ctx, p, { inviteId: params.inviteId });
        return seeOther(request, r.projectId ? `/projects/${r.projectId}` : `/orgs/${r.orgId}`);
      })
      .post("/invites/:inviteId/decline", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        answersByUser.take(p.userId);
        await declineInvite(ctx, p, { inviteId: params.inviteId });
        return seeOther(request, "/invites?done=declined");
      })
      // JSON API
      .get("/api/invites", async ({ principal }) => ({ invites: await listMyInvites(ctx, await principal()) }), {
        detail: { summary: "The caller's pending invites", tags: ["invites"] },
      })
      .get(
        "/api/orgs/:id/invites",
        async ({ params, principal }) => ({ invites: await listOrgInvites(ctx, await principal(), params.id) }),
        {
          detail: { summary: "An organization's invites (OWNER, MAINTAINER)", tags: ["invites"] },
        },
      )
      .post(
        "/api/orgs/:id/invite",
        async ({ request, params, body, principal, set }) => {
          const p = requireUser(await principal());
          invitesByUser.take(p.userId);
          return answerInviteJson(ctx, request, set, await createInvite(ctx, p, params.id, body));
        },
        {
          detail: {
            summary:
              "Invite someone by email or githubUsername with a role (sponsor, maintainer, contributor) and message; without a mail server an e-mail invite's answer carries the link to pass on",
            tags: ["invites"],
          },
        },
      )
      .post(
        "/api/orgs/:id/invite/:inviteId/accept",
        async ({ params, body, principal }) => {
          const p = requireUser(await principal());
          answersByUser.take(p.userId);
          return acceptInvite(ctx, p, { orgId: params.id, inviteId: params.inviteId, token: body?.token });
        },
        {
          body: InviteAnswerRequest,
          detail: {
            summary: "Accept an invite addressed to the caller (or with its e-mailed token)",
            tags: ["invites"],
          },
        },
      )
      .post(
        "/api/orgs/:id/invite/:inviteId/decline",
        async ({ params, body, principal }) => {
          const p = requireUser(await principal());
          answersByUser.take(p.userId);
          return declineInvite(ctx, p, { orgId: params.id, inviteId: params.inviteId, token: body?.token });
        },
        {
          body: InviteAnswerRequest,
          detail: { summary: "Decline an invite addressed to the caller", tags: ["invites"] },
        },
      )
      .delete(
        "/api/orgs/:id/invite/:inviteId",
        async ({ params, principal, set }) => {
          await revokeInvite(ctx, await principal(), params.id, params.inviteId);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Withdraw a pending invite (OWNER, MAINTAINER)", tags: ["invites"] } },
      )
  );
};
