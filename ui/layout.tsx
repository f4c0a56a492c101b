import type { Children } from "@kitajs/html";
import { ASSETS } from "./assets";
import { requestScope } from "./request-scope";

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

/** One link of the main navigation, and who sees it. */
interface NavLink {
  href: string;
  label: string;
  who: "all" | "signed-in" | "signed-out" | "admin";
}

const NAV: NavLink[] = [
  { href: "/explore", label: "Explore", who: "all" },
  { href: "/me/tasks", label: "My tasks", who: "signed-in" },
  { href: "/orgs", label: "Organizations", who: "signed-in" },
  { href: "/projects", label: "Projects", who: "signed-in" },
  { href: "/status", label: "Status", who: "all" },
  // the admin console (jobs, cron, payments, fees, users, doctor, settings, audit) has its own sub-navigation
  { href: "/admin", label: "Admin", who: "admin" },
  { href: "/api/docs", label: "API", who: "signed-in" },
];

/** Whether `href` is the page at `path` or the section it belongs to (/projects for /projects/…). */
function isCurrent(href: string, path: string | undefined): boolean {
  if (!path) return false;
  return path === href || (href !== "/" && path.startsWith(`${href}/`));
}

/** The links the viewer sees, the current one marked with aria-current. */
function NavLinks({ viewer, path }: { viewer: Viewer | null | undefined; path?: string }) {
  const links = NAV.filter(
    (l) =>
      l.who === "all" ||
      (l.who === "signed-in" && viewer) ||
      (l.who === "signed-out" && !viewer) ||
      (l.who === "admin" && viewer?.isAdmin),
  );
  // the most specific match wins: /orgs/1/projects marks Organizations, never two links at once
  const current = links.filter((l) => isCurrent(l.href, path)).sort((a, b) => b.href.length - a.href.length)[0]?.href;
  return (
    <>
      {links.map((l) => (
        <a href={l.href} aria-current={l.href === current ? "page" : undefined} safe>
          {l.label}
        </a>
      ))}
    </>
  );
}

/** The viewer's own links: profile and sign out, or sign in. */
function Account({
  viewer,
  csrfToken,
  next,
}: {
  viewer: Viewer | null | undefined;
  csrfToken?: string;
  next?: string;
}) {
  if (!viewer)
    return <a href={next && next !== "/signin" ? `/signin?next=${encodeURIComponent(next)}` : "/signin"}>Sign in</a>;
  return (
    <>
      <a href="/profile" safe>
        {viewer.name}
      </a>
      <form method="post" action="/signout" class="inline">
        {csrfToken ? <input type="hidden" name="_csrf" value={csrfToken} /> : ""}
        <button class="secondary" type="submit">
          Sign out
        </button>
      </form>
    </>
  );
}

/**
 * The page shell: navigation, notification bell slot, main content, AI sidebar slot. A page that does not name
 * its viewer (error pages, the API docs) shows the signed-in header of the request's session all the same.
 */
export function Layout(props: LayoutProps): JSX.Element {
  const scope = requestScope();
  if (props.viewer === undefined && scope)
    return scope
      .viewer()
      .then((s) =>
        Shell({ ...props, viewer: s?.viewer ?? null, csrfToken: props.csrfToken ?? s?.csrfToken }, scope.path),
      );
  return Shell(props, scope?.path);
}

const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const TASK_PAGE = new RegExp(`^/tasks/(${UUID})$`);
const PROJECT_PAGE = new RegExp(`^/projects/(${UUID})(?:/tasks|/funding)?$`);

/**
 * What a page follows live (app.js reloads its content when the task or project changes): a task page its task,
 * a project's overview, task list and funding tab their project.
 */
export function liveTopics(path: string | undefined): string | undefined {
  const bare = path?.split("?")[0] ?? "";
  const task = TASK_PAGE.exec(bare)?.[1];
  if (task) return `task:${task}`;
  const project = PROJECT_PAGE.exec(bare)?.[1];
  return project ? `project:${project}` : undefined;
}

function Shell(props: LayoutProps, path: string | undefined): JSX.Element {
  const bell =
    props.bell ??
    (props.viewer ? (
      <a href="/notifications" hx-get="/notifications/bell" hx-trigger="load, every 120s" hx-target="this">
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
            <nav aria-label="Main" class="wide-only">
              <NavLinks viewer={props.viewer} path={path} />
            </nav>
            <div id="bell" class="bell" aria-live="polite">
              {bell as "safe"}
            </div>
            <div class="right wide-only">
              <Account viewer={props.viewer} csrfToken={props.csrfToken} next={path} />
            </div>
            {/* Phones: the same links behind a menu button that works without JavaScript. */}
            <details class="menu narrow-only">
              <summary>Menu</summary>
              <nav aria-label="Main">
                <NavLinks viewer={props.viewer} path={path} />
              </nav>
              <div class="account">
                <Account viewer={props.viewer} csrfToken={props.csrfToken} next={path} />
              </div>
            </details>
          </header>
          <div class={props.sidebar ? "shell with-sidebar" : "shell"}>
            <main id="main" data-live-topics={props.viewer ? liveTopics(path) : undefined}>
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
