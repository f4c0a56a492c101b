import { siteOrigin } from "../auth/http";
import type { AppContext } from "../core/context";
import { AppError } from "../core/errors";
import { formText, readForm, seeOther } from "../core/http/form";
import type { InviteFormState } from "./views";

/** A created invite as the service returns it: the invite, its single-use token, and whether an e-mail went out. */
interface CreatedInvite<I extends { email: string | null }> {
  invite: I;
  token: string;
  mailed: boolean;
}

/** The page an invite's token opens, on this site. */
const acceptLink = (ctx: AppContext, request: Request, token: string) =>
  `${siteOrigin(ctx, request)}/invites/accept?token=${encodeURIComponent(token)}`;

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
    const res = await page({ created: { email: values.email, link: acceptLink(ctx, request, token) } });
    res.headers.set("cache-control", "no-store");
    return res;
  } catch (err) {
    if (!(err instanceof AppError) || !["INVALID_INPUT", "INVITE_PENDING", "ALREADY_MEMBER"].includes(err.code))
      throw err;
    const errors = (err.details.fields ?? {}) as Record<string, string>;
    return page({ values, errors, flash: { kind: "error", message: err.message } }, err.status);
  }
}

/**
 * The JSON API's answer to a created invite, for the org's and a project's invite routes: 201, never cached, and
 * for an e-mail invite no mail server sent, the link to pass on.
 */
export function answerInviteJson<I extends { email: string | null }>(
  ctx: AppContext,
  request: Request,
  set: { status?: number | string; headers: Record<string, string | number> },
  { invite, token, mailed }: CreatedInvite<I>,
): I | (I & { link: string }) {
  set.status = 201;
  set.headers["cache-control"] = "no-store";
  // Without a mail server the caller is the only one who can pass the link on.
  return invite.email && !mailed ? { ...invite, link: acceptLink(ctx, request, token) } : invite;
}
