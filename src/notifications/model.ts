import { z } from "zod";

/** One type's (or group's) channels; a channel left out keeps its current choice. */
export const ChannelChoice = z
  .object({
    inApp: z.boolean(),
    email: z.boolean(),
  })
  .partial()
  .strict();

/**
 * Body of PUT /api/me/notification-preferences: `preferences` keyed by a type (`PAYMENT`) or a group (`money`,
 * which sets every type in it); `emailNotifications` is the switch for all optional e-mails (as in PATCH /api/me).
 */
export const NotificationPreferencesUpdate = z
  .object({
    emailNotifications: z.boolean(),
    preferences: z.record(z.string().max(64), ChannelChoice),
  })
  .partial()
  .strict();
export type NotificationPreferencesUpdate = z.infer<typeof NotificationPreferencesUpdate>;
