// A person's notification preferences: per type and channel, stored with their other preferences on the user row
// (`preferences.notifications`); whatever they have not chosen follows the type's default (src/notifications/types.ts).
import { eq } from "drizzle-orm";
import type { Principal } from "../core/context";
import type { Db } from "../core/db";
import { forbidden, invalidInput, unauthorized, zodFieldErrors } from "../core/errors";
import { users } from "../users/schema";
import { NotificationPreferencesUpdate } from "./model";
import {
  type Channel,
  channelsFor,
  isNotificationGroup,
  isNotificationType,
  kindOf,
  NOTIFICATION_GROUPS,
  NOTIFICATION_KINDS,
  type NotificationGroup,
  type StoredNotificationPrefs,
} from "./types";

/** One type as the preferences page and the API show it. */
export interface NotificationPreference {
  type: string;
  group: NotificationGroup;
  label: string;
  /** Always delivered on both channels; its choices cannot be changed. */
  mandatory: boolean;
  inApp: boolean;
  email: boolean;
  defaults: Record<Channel, boolean>;
}

/** A person's preferences: the switch for optional e-mails and every type's channels. */
export interface NotificationPreferences {
  emailNotifications: boolean;
  /** Whether the person has an address to e-mail. */
  hasEmail: boolean;
  groups: { key: NotificationGroup; label: string }[];
  types: NotificationPreference[];
}

function describe(prefs: { emailNotifications?: boolean; notifications?: StoredNotificationPrefs }, hasEmail: boolean) {
  const emailsOn = prefs.emailNotifications !== false;
  return {
    emailNotifications: emailsOn,
    hasEmail,
    groups: Object.entries(NOTIFICATION_GROUPS).map(([key, label]) => ({ key: key as NotificationGroup, label })),
    types: NOTIFICATION_KINDS.map((k) => {
      // The page shows the type's own choice; the e-mail switch is shown (and applied) on its own.
      const c = channelsFor(k.type, prefs.notifications, true);
      return {
        type: k.type,
        group: k.group,
        label: k.label,
        mandatory: !!k.mandatory,
        inApp: c.inApp,
        email: c.email,
        defaults: { ...k.defaults },
      };
    }),
  } satisfies NotificationPreferences;
}

async function loadUser(db: Db, p: Principal | null) {
  if (!p) throw unauthorized();
  const [u] = await db
    .select({ id: users.id, email: users.email, preferences: users.preferences, deletedAt: users.deletedAt })
    .from(users)
    .where(eq(users.id, p.userId));
  if (!u || u.deletedAt) throw unauthorized();
  return u;
}

/** The caller's notification preferences. */
export async function getNotificationPreferences(
  db: Db,
  principal: Principal | null,
): Promise<NotificationPreferences> {
  const u = await loadUser(db, principal);
  return describe(u.preferences ?? {}, !!u.email);
}

/**
 * Changes the caller's preferences: `preferences` keyed by type or group (a group sets each of its types that can
 * be changed); mandatory types are refused by name. Returns the preferences as they now are.
 */
export async function updateNotificationPreferences(
  db: Db,
  principal: Principal | null,
  input: unknown,
): Promise<NotificationPreferences> {
  if (principal?.via === "api-key" && !principal.scopes?.includes("write")) {
    throw forbidden("This API key lacks the write scope.");
  }
  const r = NotificationPreferencesUpdate.safeParse(input);
  if (!r.success) throw invalidInput(zodFieldErrors(r.error.issues));
  const errors: Record<string, string> = {};
  const changes: [string, Partial<Record<Channel, boolean>>][] = [];
  for (const [key, choice] of Object.entries(r.data.preferences ?? {})) {
    if (isNotificationGroup(key)) {
      for (const k of NOTIFICATION_KINDS) if (k.group === key && !k.mandatory) changes.push([k.type, choice]);
    } else if (!isNotificationType(key)) {
      errors[`preferences.${key}`] = "Not a notification type or group.";
    } else if (kindOf(key).mandatory) {
      errors[`preferences.${key}`] = "This notification is always delivered.";
    } else {
      changes.push([key, choice]);
    }
  }
  if (Object.keys(errors).length > 0) throw invalidInput(errors);
  return db.transaction(async (tx) => {
    // Locked: two saves at once must not drop each other's choices (the row holds other preferences too).
    const [u] = await tx
      .select({ preferences: users.preferences, email: users.email, deletedAt: users.deletedAt })
      .from(users)
      .where(eq(users.id, principal!.userId))
      .for("update");
    if (!u || u.deletedAt) throw unauthorized();
    const current = u.preferences ?? {};
    const stored: StoredNotificationPrefs = { ...(current.notifications ?? {}) };
    for (const [type, choice] of changes) stored[type] = { ...stored[type], ...choice };
    const next = {
      ...current,
      notifications: stored,
      ...(r.data.emailNotifications === undefined ? {} : { emailNotifications: r.data.emailNotifications }),
    };
    await tx.update(users).set({ preferences: next, updatedAt: new Date() }).where(eq(users.id, principal!.userId));
    return describe(next, !!u.email);
  });
}
