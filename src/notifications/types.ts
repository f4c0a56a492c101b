// Every kind of notification, in one table: its group on the preferences page, what it is in words, and which
// channels it uses when the person has not chosen (money and verification in the app and by e-mail, the noisy ones
// in the app only). Mandatory kinds (invites, security messages) ignore preferences.

/** A channel a notification is delivered on. */
export type Channel = "inApp" | "email";

/** Groups of kinds, in the order the preferences page shows them. */
export const NOTIFICATION_GROUPS = {
  tasks: "Claims and work",
  verification: "Verification",
  money: "Money",
  access: "Repository access",
  organization: "Organizations and invites",
  ai: "AI planning",
  account: "Account and security",
} as const;

/** A group's key (`tasks`, `money`, …). */
export type NotificationGroup = keyof typeof NOTIFICATION_GROUPS;

/** One kind of notification. */
export interface NotificationKind {
  type: string;
  group: NotificationGroup;
  /** When a person gets it, for the preferences page. */
  label: string;
  /** The channels used while the person has not chosen. */
  defaults: Record<Channel, boolean>;
  /** Always delivered on both channels, whatever the preferences say (invites, security). */
  mandatory?: boolean;
}

const both = { inApp: true, email: true };
const appOnly = { inApp: true, email: false };

/** Every kind, in page order. */
export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  { type: "TASK_CLAIMED", group: "tasks", label: "Someone claims a task of your project", defaults: appOnly },
  { type: "TASK_UNCLAIMED", group: "tasks", label: "A claimer gives a task of your project up", defaults: appOnly },
  { type: "PR_LINKED", group: "tasks", label: "Work is linked to a task of your project", defaults: appOnly },
  { type: "CLAIM_EXPIRING", group: "tasks", label: "Your claim expires in two days", defaults: both },
  { type: "CLAIM_EXPIRED", group: "tasks", label: "A claim expired", defaults: appOnly },
  { type: "TASK_RELEASED", group: "tasks", label: "A reviewer released your claim", defaults: both },
  { type: "TASK_REJECTED", group: "tasks", label: "A reviewer asks for changes to your work", defaults: both },
  {
    type: "VERIFICATION_PENDING",
    group: "verification",
    label: "Verification of your work started",
    defaults: appOnly,
  },
  { type: "VERIFICATION_SUCCESS", group: "verification", label: "Verification passed", defaults: both },
  {
    type: "VERIFICATION_FAILED",
    group: "verification",
    label: "Verification failed (the failing tests named)",
    defaults: both,
  },
  {
    type: "VERIFICATION_FLAKY",
    group: "verification",
    label: "Tests changed verdict between runs",
    defaults: both,
  },
  { type: "PAYMENT_PENDING", group: "money", label: "A payment for your work is on its way", defaults: appOnly },
  { type: "PAYMENT", group: "money", label: "You received a payment", defaults: both },
  { type: "PAYMENT_SENT", group: "money", label: "Your project paid a contributor", defaults: both },
  { type: "PAYMENT_FAILED", group: "money", label: "A payment failed", defaults: both },
  { type: "PROJECT_FUNDED", group: "money", label: "A project of your organization is funded", defaults: both },
  { type: "YIELD_HARVESTED", group: "money", label: "Yield of a project was harvested", defaults: both },
  {
    type: "REPO_ACCESS_GRANTED",
    group: "access",
    label: "You were given access to a private repository",
    defaults: both,
  },
  {
    type: "INVITE",
    group: "organization",
    label: "You are invited to an organization",
    defaults: both,
    mandatory: true,
  },
  { type: "INVITE_ACCEPTED", group: "organization", label: "Someone accepted your invite", defaults: appOnly },
  { type: "AI_MILESTONE_READY", group: "ai", label: "Drafted milestones are ready", defaults: appOnly },
  { type: "AI_GENERATION_FAILED", group: "ai", label: "Drafting milestones failed", defaults: appOnly },
  {
    type: "SECURITY",
    group: "account",
    label: "Your password, e-mail or wallets changed",
    defaults: both,
    mandatory: true,
  },
];

const BY_TYPE = new Map(NOTIFICATION_KINDS.map((k) => [k.type, k]));

/** Kinds nobody listed: in the app, no e-mail. */
const UNLISTED: Omit<NotificationKind, "type"> = { group: "account", label: "Other", defaults: appOnly };

/** The kind of `type` (an unlisted type gets in-app only). */
export function kindOf(type: string): NotificationKind {
  return BY_TYPE.get(type) ?? { type, ...UNLISTED };
}

/** Whether `type` is a listed kind. */
export const isNotificationType = (type: string) => BY_TYPE.has(type);

/** Whether `key` names a group. */
export const isNotificationGroup = (key: string): key is NotificationGroup => key in NOTIFICATION_GROUPS;

/** A person's stored choices: per type, per channel; anything missing follows the kind's default. */
export type StoredNotificationPrefs = Record<string, Partial<Record<Channel, boolean>>>;

/**
 * The channels a notification of `type` goes out on for a person with `stored` choices. `emailsOn` is the
 * person's switch for all optional e-mails (off: only mandatory kinds are e-mailed).
 */
export function channelsFor(type: string, stored: StoredNotificationPrefs | undefined, emailsOn = true) {
  const kind = kindOf(type);
  if (kind.mandatory) return { inApp: true, email: true };
  const mine = stored?.[type] ?? {};
  return {
    inApp: mine.inApp ?? kind.defaults.inApp,
    email: emailsOn && (mine.email ?? kind.defaults.email),
  };
}
