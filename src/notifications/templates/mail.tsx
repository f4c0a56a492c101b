// The e-mails' HTML and plain-text bodies, one template per kind of message. Every value that comes from a user
// (titles, names, messages) is escaped in the HTML part (`safe`); links are made absolute with the public URL.

/** What a stored outbox row gives the template. */
export interface MailInput {
  kind: string;
  subject: string;
  text: string;
  /** A same-site path (`/invites/accept?token=…`), or null. */
  link: string | null;
}

/** Where the message comes from: the instance's name and its public URL (no trailing slash). */
export interface MailSite {
  name: string;
  baseUrl: string;
}

/** A rendered message. */
export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  /** The absolute link of the message's button, if any. */
  url: string | null;
}

interface Template {
  /** The button's label. */
  action: string;
  /** Why the reader got this message, under the button. */
  note: (site: MailSite) => string;
  /** Whether the message is a notification the reader can turn off on their preferences page. */
  optional?: boolean;
}

const NOTIFICATION: Template = {
  action: "Open in DevSponsor",
  note: () => "You get this e-mail because of your notification preferences.",
  optional: true,
};

const task = (action: string): Template => ({ ...NOTIFICATION, action });

/** One template per outbox kind; kinds not listed use the notification template. */
export const TEMPLATES: Record<string, Template> = {
  INVITE: {
    action: "Open the invite",
    note: (s) => `Someone invited this address to an organization on ${s.name}. If you do not know them, ignore it.`,
  },
  VERIFY_EMAIL: {
    action: "Confirm my address",
    note: () => "The link works once, for 24 hours. If you did not sign up, ignore this e-mail.",
  },
  PASSWORD_RESET: {
    action: "Choose a new password",
    note: () =>
      "The link works once, for one hour. If you did not ask for it, ignore this e-mail: your password stays as it is.",
  },
  SECURITY: {
    action: "Review your account",
    note: () => "Security messages are always sent, whatever your notification settings.",
  },
  TASK_CLAIMED: task("Open the task"),
  TASK_UNCLAIMED: task("Open the task"),
  TASK_RELEASED: task("Open the task"),
  TASK_REJECTED: task("Open the task"),
  CLAIM_EXPIRING: task("Open the task"),
  CLAIM_EXPIRED: task("Open the task"),
  PR_LINKED: task("Open the task"),
  VERIFICATION_PENDING: task("See the verification"),
  VERIFICATION_SUCCESS: task("See the verdict"),
  VERIFICATION_FAILED: task("See what failed"),
  PAYMENT_PENDING: task("Open the task"),
  VERIFICATION_FLAKY: task("See the verdict"),
  PAYMENT: task("See your earnings"),
  PAYMENT_SENT: task("See the payment"),
  PAYMENT_FAILED: task("Open the task"),
  PROJECT_FUNDED: task("Open the project"),
  YIELD_HARVESTED: task("Open the project"),
  REPO_ACCESS_GRANTED: task("Open the task"),
};

/** The absolute URL of a same-site path. */
export const absoluteUrl = (site: MailSite, path: string) => `${site.baseUrl}${path.startsWith("/") ? "" : "/"}${path}`;

/** Renders one outbox message as a subject, a plain-text part and an HTML part. */
export function renderMail(input: MailInput, site: MailSite): RenderedMail {
  const t = TEMPLATES[input.kind] ?? NOTIFICATION;
  const url = input.link ? absoluteUrl(site, input.link) : null;
  const note = t.note(site);
  // Optional notifications link to their own row of the preferences page, where they can be turned off.
  const settings = t.optional
    ? absoluteUrl(site, `/notifications/preferences#type-${encodeURIComponent(input.kind)}`)
    : null;
  // Subjects are single lines: a newline in a title must not start a new header.
  const subject =
    input.subject
      .replace(/[\r\n]+/g, " ")
      .trim()
      .slice(0, 200) || site.name;
  const text = [
    subject,
    "",
    input.text.trim(),
    ...(url ? ["", `${t.action}: ${url}`] : []),
    "",
    "-- ",
    note,
    ...(settings ? [`Unsubscribe or choose what you get: ${settings}`] : []),
    `${site.name} · ${site.baseUrl}`,
  ]
    .join("\n")
    .replace(/\n{3,}/g, "\n\n");
  const html = String(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title safe>{subject}</title>
      </head>
      <body style="margin:0;padding:24px;background:#f5f6f8;font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1f2328">
        <div style="max-width:560px;margin:0 auto;background:#ffffff;border:1px solid #d0d7de;border-radius:8px;padding:24px">
          <h1 style="font-size:20px;margin:0 0 16px" safe>
            {subject}
          </h1>
          {input.text
            .trim()
            .split(/\n{2,}/)
            .filter((p) => p.trim())
            .map((p) => (
              <p style="margin:0 0 12px;white-space:pre-line;line-height:1.5" safe>
                {p}
              </p>
            ))}
          {url ? (
            <p style="margin:20px 0">
              <a
                href={url}
                style="display:inline-block;background:#1f6feb;color:#ffffff;text-decoration:none;padding:10px 16px;border-radius:6px"
                safe
              >
                {t.action}
              </a>
            </p>
          ) : (
            ""
          )}
          {url ? (
            <p style="font-size:12px;color:#57606a;word-break:break-all">
              Or paste this address in your browser: <span safe>{url}</span>
            </p>
          ) : (
            ""
          )}
          <hr style="border:none;border-top:1px solid #d0d7de;margin:20px 0" />
          <p style="font-size:12px;color:#57606a;margin:0 0 4px" safe>
            {note}
          </p>
          {settings ? (
            <p style="font-size:12px;color:#57606a;margin:0 0 4px">
              <a href={settings} style="color:#57606a">
                Unsubscribe or choose what you get
              </a>
            </p>
          ) : (
            ""
          )}
          <p style="font-size:12px;color:#57606a;margin:0">
            <a href={site.baseUrl} style="color:#57606a" safe>
              {site.name}
            </a>
          </p>
        </div>
      </body>
    </html>,
  );
  return { subject, text, html: `<!doctype html>${html}`, url };
}
