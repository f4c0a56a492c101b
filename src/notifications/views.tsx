import { Layout, type Viewer } from "../../ui/layout";
import { CsrfField, type Flash } from "../../ui/components";
import type { NotificationPreferences } from "./preferences";
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
      <p>
        <a href="/notifications/preferences">Notification preferences</a>
        <span class="muted"> · which notifications reach you in the app and by e-mail</span>
      </p>
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

/** The preferences page: the switch for optional e-mails and, per group, each type's in-app and e-mail boxes. */
export function PreferencesPage(props: {
  viewer: Viewer;
  csrf?: string;
  prefs: NotificationPreferences;
  flash?: Flash;
}) {
  const { prefs } = props;
  return (
    <Layout title="Notification preferences" viewer={props.viewer} csrfToken={props.csrf} flash={props.flash}>
      <h1>Notification preferences</h1>
      <p class="muted">
        Choose where each kind of notification reaches you. Invites and security messages always arrive, in the app and
        by e-mail. <a href="/notifications">Back to your notifications</a>
      </p>
      {prefs.hasEmail ? (
        ""
      ) : (
        <p role="note">
          Your account has no e-mail address, so nothing is e-mailed. <a href="/profile">Open your profile</a>
        </p>
      )}
      <form method="post" action="/notifications/preferences" class="stack">
        <CsrfField token={props.csrf} />
        <label class="check">
          <input type="checkbox" name="emailNotifications" value="true" checked={prefs.emailNotifications} />
          Send me e-mails for the notifications ticked below (off: only invites and security messages)
        </label>
        {prefs.groups.map((g) => {
          const rows = prefs.types.filter((t) => t.group === g.key);
          return rows.length === 0 ? (
            ""
          ) : (
            <section class="card" id={`group-${g.key}`} aria-labelledby={`h-${g.key}`}>
              <h2 id={`h-${g.key}`} safe>
                {g.label}
              </h2>
              <table>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">In the app</th>
                    <th scope="col">By e-mail</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((t) => (
                    <tr id={`type-${t.type}`}>
                      <td safe>{t.label}</td>
                      <td>
                        <input
                          type="checkbox"
                          name={`inApp.${t.type}`}
                          value="true"
                          checked={t.inApp}
                          disabled={t.mandatory}
                          aria-label={`${t.label}: in the app`}
                        />
                      </td>
                      <td>
                        <input
                          type="checkbox"
                          name={`email.${t.type}`}
                          value="true"
                          checked={t.email}
                          disabled={t.mandatory}
                          aria-label={`${t.label}: by e-mail`}
                        />
                        {t.mandatory ? <span class="muted"> always</span> : ""}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          );
        })}
        <div>
          <button type="submit">Save preferences</button>
        </div>
      </form>
    </Layout>
  );
}
