import { Elysia } from "elysia";
import { html } from "../../ui/layout";
import { type AppContext, type Principal, requireUser } from "../core/context";
import { formText, pageProps, readFlash, readForm, seeOther, signedIn } from "../core/http/form";
import { httpContext } from "../core/http/plugin";
import { createRateLimiter } from "../core/http/rate-limit";
import { answerInviteForm, answerInviteJson } from "../invites/http";
import { createProjectInvite, listProjectInvites, revokeProjectInvite } from "../invites/service";
import { loadProject } from "./access";
import {
  changeProjectMemberRole,
  listProjectMembers,
  ProjectMemberRoleRequest,
  removeProjectMember,
} from "./members-service";
import { ProjectMembersPage } from "./members-views";
import { projectRights } from "./service";

const FLASH: Record<string, string> = {
  sent: "Invite created.",
  withdrawn: "Invite withdrawn.",
  role: "Role changed.",
  removed: "Member removed: their open claims here are open again and their repository access is being removed.",
};

/** A project's members and invites: the managers' page and the JSON API (spec §3.3.2). */
export const projectMemberRoutes = (ctx: AppContext) => {
  // Per inviter, as for org invites: a burst of 20, then one every 2 minutes.
  const invitesByUser = createRateLimiter({ capacity: 20, refillPerSecond: 1 / 120 });
  const membersPage = async (
    p: Principal,
    projectId: string,
    extra: Partial<Parameters<typeof ProjectMembersPage>[0]> = {},
    status = 200,
  ) => {
    const project = await loadProject(ctx.db, p, projectId, "project.invite");
    const [members, invites, rights] = await Promise.all([
      listProjectMembers(ctx, p, projectId),
      listProjectInvites(ctx, p, projectId),
      projectRights(ctx.db, p, project),
    ]);
    return html(
      <ProjectMembersPage
        {...pageProps(p)}
        project={project}
        canAudit={rights.canAudit}
        members={members}
        invites={invites}
        {...extra}
      />,
      status,
    );
  };

  return (
    new Elysia({ name: "project-members" })
      .use(httpContext(ctx))
      .get("/projects/:id/members", async ({ request, params, query, principal }) => {
        const p = await signedIn(request, principal);
        if (p instanceof Response) return p;
        return membersPage(p, params.id, { flash: readFlash(query, FLASH) });
      })
      .post("/projects/:id/invites", async ({ request, params, body, principal }) => {
        const p = requireUser(await principal());
        invitesByUser.take(p.userId);
        return answerInviteForm(
          ctx,
          request,
          body,
          (input) => createProjectInvite(ctx, p, params.id, input),
          `/projects/${params.id}/members?done=sent`,
          (state, status) => membersPage(p, params.id, state, status),
        );
      })
      .post("/projects/:id/invites/:inviteId/revoke", async ({ request, params, principal }) => {
        await revokeProjectInvite(ctx, await principal(), params.id, params.inviteId);
        return seeOther(request, `/projects/${params.id}/members?done=withdrawn`);
      })
      .post("/projects/:id/members/:userId/role", async ({ request, params, body, principal }) => {
        const p = requireUser(await principal());
        const form = readForm(body);
        await changeProjectMemberRole(ctx, p, params.id, params.userId, { role: formText(form, "role") });
        return seeOther(request, `/projects/${params.id}/members?done=role`);
      })
      .post("/projects/:id/members/:userId/remove", async ({ request, params, principal }) => {
        const p = requireUser(await principal());
        await removeProjectMember(ctx, p, params.id, params.userId);
        return seeOther(request, p.userId === params.userId ? "/" : `/projects/${params.id}/members?done=removed`);
      })
      // JSON API
      .get(
        "/api/projects/:id/members",
        async ({ params, principal }) => ({ members: await listProjectMembers(ctx, await principal(), params.id) }),
        {
          detail: {
            summary:
              "A project's invited members with role and repository access (PENDING_INVITE, COLLABORATOR, NONE); owners, maintainers",
            tags: ["projects"],
          },
        },
      )
      .patch(
        "/api/projects/:id/members/:userId",
        async ({ params, body, principal }) =>
          changeProjectMemberRole(ctx, await principal(), params.id, params.userId, body),
        {
          body: ProjectMemberRoleRequest,
          detail: {
            summary:
              "Change a project member's role (maintainer, sponsor, contributor); the repository permission follows",
            tags: ["projects"],
          },
        },
      )
      .delete(
        "/api/projects/:id/members/:userId",
        async ({ params, principal }) => removeProjectMember(ctx, await principal(), params.id, params.userId),
        {
          detail: {
            summary:
              "Remove a project member, or leave: their open claims there go back to OPEN ({released}) and their repository access is removed",
            tags: ["projects"],
          },
        },
      )
      .get(
        "/api/projects/:id/invites",
        async ({ params, principal }) => ({ invites: await listProjectInvites(ctx, await principal(), params.id) }),
        { detail: { summary: "A project's invites (owners, maintainers)", tags: ["invites"] } },
      )
      .post(
        "/api/projects/:id/invite",
        async ({ request, params, body, principal, set }) => {
          const p = requireUser(await principal());
          invitesByUser.take(p.userId);
          return answerInviteJson(ctx, request, set, await createProjectInvite(ctx, p, params.id, body));
        },
        {
          detail: {
            summary:
              "Invite someone to this project only, by email or githubUsername, with a role (maintainer, sponsor, contributor); a GitHub username is accepted by the account linked to it",
            tags: ["invites"],
          },
        },
      )
      .delete(
        "/api/projects/:id/invite/:inviteId",
        async ({ params, principal, set }) => {
          await revokeProjectInvite(ctx, await principal(), params.id, params.inviteId);
          set.status = 204;
          return null;
        },
        { detail: { summary: "Withdraw a pending project invite (owners, maintainers)", tags: ["invites"] } },
      )
  );
};
