import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { siteOrigin } from "../auth/http";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { AppError } from "../core/errors";
import { formText, pageProps, readFlash, readForm, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { createRateLimiter } from "../core/http/rate-limit";
import { getOrg } from "../orgs/service";
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

/** What an invite form's page shows again: the values sent, their errors, or the link no mail server sent. */
export interface InviteFormState {
  values?: Record<string, string>;
  errors?: Record<string, string>;
  flash?: { kind: "error" | "success"; message: string };
  created?: { email: string; link: string };
}

/**
 * The invite form's POST, for the org's invites page and a project's members page: sends the invite through
 * `create`, then redirects to `sent`, or shows the link once (no mail server could send it), or shows the form
 * again with its errors.
 */
export async function answerInviteForm(
  ctx: AppContext,
  request: Request,
  body: unknown,
  create: (input: {
    email: string | null;
    githubUsername: string | null;
    role: string;
    message: string;
  }) => Promise<{ token: string; mailed: boolean }>,
  sent: string,
  page: (state: InviteFormState, status?: number) => Promise<Response>,
): Promise<Response> {
  const form = readForm(body);
  const values = {
    email: formText(form, "email").trim(),
    githubUsername: formText(form, "githubUsername").trim(),
    role: formText(form, "role"),
    message: formText(form, "message"),
  };
  try {
    const { token, mailed } = await create({
      ...values,
      email: values.email || null,
      githubUsername: values.githubUsername || null,
    });
    if (!values.email || mailed) return seeOther(request, sent);
    // No mail server: the link is shown once, to its creator, in this response (never in a URL or a flash).
    const link = `${siteOrigin(ctx, request)}/invites/accept?token=${encodeURIComponent(token)}`;
    const res = await page({ created: { email: values.email, link } });
    res.headers.set("cache-control", "no-store");
    return res;
  } catch (err) {
    if (!(err instanceof AppError) || !["INVALID_INPUT", "INVITE_PENDING", "ALREADY_MEMBER"].includes(err.code))
      throw err;
    const errors = (err.details.fields ?? {}) as Record<string, string>;
    return page({ values, errors, flash: { kind: "error", message: err.message } }, err.status);
  }
}

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
          const { invite, token, mailed } = await createInvite(ctx, p, params.id, body);
          set.status = 201;
          set.headers["cache-control"] = "no-store";
          // Without a mail server the caller is the only one who can pass the link on.
          return invite.email && !mailed
            ? { ...invite, link: `${siteOrigin(ctx, request)}/invites/accept?token=${encodeURIComponent(token)}` }
            : invite;
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
