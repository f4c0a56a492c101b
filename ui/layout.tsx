import type { Children } from "@kitajs/html";
import { ASSETS } from "./assets";

/** Who is looking at the page, as far as the layout needs to know. */
export interface Viewer {
  name: string;
  isAdmin: boolean;
  /** A local account whose address is not confirmed yet: a banner offers a new link. */
  emailUnverified?: boolean;
}

export interface LayoutProps {
  title: string;
  viewer?: Viewer | null;
  csrfToken?: string;
  /** The AI sidebar's content; the page grows a second column when present. */
  sidebar?: JSX.Element;
  /** The notification bell's content; by default it loads itself with htmx for signed-in viewers. */
  bell?: JSX.Element;
  flash?: { kind: "error" | "success"; message: string };
  children?: Children;
}

/** The page shell: navigation, notification bell slot, main content, AI sidebar slot. */
export function Layout(props: LayoutProps): JSX.Element {
  const bell =
    props.bell ??
    (props.viewer ? (
      <a href="/notifications" hx-get="/notifications/bell" hx-trigger="load, every 30s" hx-target="this">
        Notifications
      </a>
    ) : (
      ""
    ));
  const headers = props.csrfToken ? JSON.stringify({ "x-csrf-token": props.csrfToken }) : undefined;
  return (
    <>
      {"<!doctype html>"}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}' />
          {props.csrfToken ? <meta name="csrf-token" content={props.csrfToken} /> : ""}
          <title safe>{props.title} · DevSponsor</title>
          <link rel="stylesheet" href={ASSETS.css.path} />
          <script src={ASSETS.htmx.path} defer></script>
          <script src={ASSETS.js.path} defer></script>
        </head>
        <body hx-headers={headers}>
          <a class="skip" href="#main">
            Skip to content
          </a>
          <header class="top">
            <a class="brand" href="/">
              DevSponsor
            </a>
            <nav aria-label="Main">
              {props.viewer ? (
                <>
                  <a href="/orgs">Organizations</a>
                  <a href="/projects">Projects</a>
                  {props.viewer.isAdmin ? <a href="/admin/settings">Settings</a> : ""}
                  <a href="/status">Status</a>
                </>
              ) : (
                <a href="/status">Status</a>
              )}
            </nav>
            <div class="right">
              <div id="bell" class="bell" aria-live="polite">
                {bell as "safe"}
              </div>
              {props.viewer ? (
                <>
                  <a href="/profile" safe>
                    {props.viewer.name}
                  </a>
                  <form method="post" action="/signout" class="inline">
                    {props.csrfToken ? <input type="hidden" name="_csrf" value={props.csrfToken} /> : ""}
                    <button class="secondary" type="submit">
                      Sign out
                    </button>
                  </form>
                </>
              ) : (
                <a href="/signin">Sign in</a>
              )}
            </div>
          </header>
          <div class={props.sidebar ? "shell with-sidebar" : "shell"}>
            <main id="main">
              {props.viewer?.emailUnverified ? (
                <form method="post" action="/verify-email/resend" class="flash warning inline" role="status">
                  {props.csrfToken ? <input type="hidden" name="_csrf" value={props.csrfToken} /> : ""}
                  Your e-mail address is not confirmed yet: open the link of the confirmation e-mail.{" "}
                  <button class="secondary" type="submit">
                    Send a new link
                  </button>
                </form>
              ) : (
                ""
              )}
              {props.flash ? (
                <div class={`flash ${props.flash.kind}`} role={props.flash.kind === "error" ? "alert" : "status"} safe>
                  {props.flash.message}
                </div>
              ) : (
                ""
              )}
              {props.children as "safe"}
            </main>
            {props.sidebar ? (
              <aside class="ai-sidebar" id="ai-sidebar" aria-label="AI assistant">
                {props.sidebar as "safe"}
              </aside>
            ) : (
              ""
            )}
          </div>
        </body>
      </html>
    </>
  );
}

/** An HTML response from rendered JSX. */
export async function html(body: JSX.Element, status = 200, headers: Record<string, string> = {}): Promise<Response> {
  return new Response(await body, { status, headers: { "content-type": "text/html; charset=utf-8", ...headers } });
}
