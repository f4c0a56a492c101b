import { z } from "zod";

const GITHUB_LOGIN = /^[a-z\d](?:[a-z\d]|-(?=[a-z\d])){0,38}$/i;

/** Body of POST /api/orgs/:id/invite: an e-mail or a GitHub username, a role, an optional message. */
export const InviteCreateRequest = z
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
      .pipe(z.enum(["OWNER", "MAINTAINER", "SPONSOR", "CONTRIBUTOR"], { message: "Choose a role." })),
    message: z.string().trim().max(1000, "Use at most 1000 characters.").nullish(),
  })
  .refine((v) => !!v.email !== !!v.githubUsername, {
    message: "Give either an e-mail address or a GitHub username.",
    path: ["email"],
  });
export type InviteCreateRequest = z.infer<typeof InviteCreateRequest>;

/** Optional body of accept/decline: the token from the e-mailed link. */
export const InviteAnswerRequest = z.object({ token: z.string().max(100).optional() }).optional();

/** Body of POST /api/projects/:id/invite: like an org invite, with a project role (no owners: they are the org's). */
export const ProjectInviteCreateRequest = z
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
      .pipe(
        z.enum(["MAINTAINER", "SPONSOR", "CONTRIBUTOR"], { message: "Choose maintainer, sponsor or contributor." }),
      ),
    message: z.string().trim().max(1000, "Use at most 1000 characters.").nullish(),
  })
  .refine((v) => !!v.email !== !!v.githubUsername, {
    message: "Give either an e-mail address or a GitHub username.",
    path: ["email"],
  });
export type ProjectInviteCreateRequest = z.infer<typeof ProjectInviteCreateRequest>;
