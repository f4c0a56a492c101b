import { Layout, type Viewer } from "../../ui/layout";
import { CsrfField } from "../../ui/components";
import type { notifications } from "./schema";

type Item = typeof notifications.$inferSelect;

/** The bell's content (swapped into the layout's bell link by htmx). */
export function BellFragment({ unread }: { unread: number }) {
  return (
    <>
      Notifications
      {unread > 0 ? (
        <span class="count">
          <span safe>{unread > 99 ? "99+" : String(unread)}</span>
          <span class="sr-only"> unread</span>
        </span>
      ) : (
        ""
      )}
    </>
  );
}

const when = (d: Date) => d.toISOString().slice(0, 16).replace("T", " ");

/** The list of a user's notifications, newest first, with read buttons. */
export function NotificationsPage(props: { viewer: Viewer; csrf?: string; items: Item[]; unread: number }) {
  return (
    <Layout
      title="Notifications"
      viewer={props.viewer}
      csrfToken={props.csrf}
      bell={
        <a href="/notifications">
          <BellFragment unread={props.unread} />
        </a>
      }
    >
      <h1>Notifications</h1>
      {props.unread > 0 ? (
        <form method="post" action="/notifications/read-all">
          <CsrfField token={props.csrf} />
          <button class="secondary" type="submit">
            Mark all read
          </button>
        </form>
      ) : (
        ""
      )}
      {props.items.length === 0 ? <p class="muted">Nothing yet.</p> : ""}
      <ul class="notifications plain">
        {props.items.map((n) => (
          <li class={n.readAt ? "card is-read" : "card"}>
            <strong safe>{n.title}</strong> {n.readAt ? "" : <span class="badge warn">new</span>}
            <div class="muted">
              <small safe>{when(n.createdAt)}</small>
            </div>
            {n.body ? (
              <p safe class="pre-line">
                {n.body}
              </p>
            ) : (
              ""
            )}
            <form method="post" action={`/notifications/${n.id}/read`}>
              <CsrfField token={props.csrf} />
              <button type="submit" class="secondary">
                {n.link ? "Open" : "Mark read"}
              </button>
            </form>
          </li>
        ))}
      </ul>
    </Layout>
  );
}
