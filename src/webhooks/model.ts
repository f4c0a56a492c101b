import { z } from "zod";
import { WEBHOOK_FORMATS } from "./schema";

/** An event name or prefix an endpoint listens to: `task.claimed`, `task.*`, or `*`. */
export const EVENT_PATTERN = /^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*(\.\*)?)$/;

const events = z
  .array(
    z
      .string()
      .trim()
      .regex(EVENT_PATTERN, "Use event names such as task.claimed, prefixes such as task.*, or * for every event."),
  )
  .max(50, "Choose at most 50 event names.");

/** Body of POST /api/orgs/:id/webhooks (and the add form). */
export const WebhookCreateRequest = z.object({
  name: z.string().trim().min(1, "Enter a name.").max(100, "Use at most 100 characters."),
  url: z
    .string()
    .trim()
    .max(2000, "Use at most 2000 characters.")
    .refine((s) => /^https?:\/\/[^/]/i.test(s) && URL.canParse(s), "Enter a full http:// or https:// URL."),
  format: z.enum(WEBHOOK_FORMATS),
  /** Empty or absent: every event of the org. */
  events: events.optional(),
  /** Default true. */
  enabled: z.boolean().optional(),
});
export type WebhookCreateRequest = z.infer<typeof WebhookCreateRequest>;

/** Body of PATCH /api/orgs/:id/webhooks/:webhookId: any of the fields. */
export const WebhookUpdateRequest = z.object({
  name: WebhookCreateRequest.shape.name.optional(),
  url: WebhookCreateRequest.shape.url.optional(),
  format: WebhookCreateRequest.shape.format.optional(),
  events: events.optional(),
  enabled: z.boolean().optional(),
});
export type WebhookUpdateRequest = z.infer<typeof WebhookUpdateRequest>;
