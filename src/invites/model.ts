import { z } from "zod";

const GITHUB_LOGIN = /^[a-z\d](?:[a-z\d]|-(?=[a-z\d])){0,38}$/i;

/** An invite's body: an e-mail or a GitHub username (exactly one), one of `roles`, an optional message. */
function inviteRequest<const R extends readonly [string, ...string[]]>(roles: R, roleMessage: string) {
  return z
    .object({
      email: z.string().trim().email("Enter a valid e-mail address.").max(254).nullish(),
      githubUsername: z
        .string()
        .trim()
        .transform((s) => s.replace(/^@/, ""))
        .pipe(z.string().regex(GITHUB_LOGIN, "Not a GitHub username."))
        .nullish(),
      role: z
        .string()
        .transform((s) => s.trim().toUpperCase())
        .pipe(z.enum(roles, { message: roleMessage })),
      message: z.string().trim().max(1000, "Use at most 1000 characters.").nullish(),
    })
    .refine((v) => !!v.email !== !!v.githubUsername, {
      message: "Give either an e-mail address or a GitHub username.",
      path: ["email"],
    });
}

/** Body of POST /api/orgs/:id/invite: an e-mail or a GitHub username, a role, an optional message. */
export const InviteCreateRequest = inviteRequest(["OWNER", "MAINTAINER", "SPONSOR", "CONTRIBUTOR"], "Choose a role.");
export type InviteCreateRequest = z.infer<typeof InviteCreateRequest>;

/** Optional body of accept/decline: the token from the e-mailed link. */
export const InviteAnswerRequest = z.object({ token: z.string().max(100).optional() }).optional();

/** Body of POST /api/projects/:id/invite: like an org invite, with a project role (no owners: they are the org's). */
export const ProjectInviteCreateRequest = inviteRequest(
  ["MAINTAINER", "SPONSOR", "CONTRIBUTOR"],
  "Choose maintainer, sponsor or contributor.",
);
export type ProjectInviteCreateRequest = z.infer<typeof ProjectInviteCreateRequest>;
