// Other domains keep personal data too (conversations, claims, model calls, …). They register here so that the
// GDPR export includes it and account deletion erases it, without the users domain importing them.
import type { Db } from "../core/db";

/** A domain's part of a user's data: what to export, and how to erase it inside the deletion transaction. */
export interface UserDataHook {
  /** Key of this domain's section in the export JSON. */
  name: string;
  /**
   * The columns naming a user (`table.column`) whose rows this hook exports and erases; the coverage test
   * (src/users/data-hooks.test.ts) fails for a column with a user id that no hook names.
   */
  covers: string[];
  export(db: Db, userId: string): Promise<unknown>;
  erase(tx: Db, userId: string): Promise<unknown>;
}

const hooks = new Map<string, UserDataHook>();

/** Registers (or replaces, by name) a domain's export and erase functions; call it at boot from setupX. */
export function registerUserDataHook(hook: UserDataHook) {
  hooks.set(hook.name, hook);
}

/** Every registered hook, in registration order. */
export const userDataHooks = () => [...hooks.values()];

/** The columns naming a user that `exportUserData` and `deleteAccount` (./service.ts) handle themselves. */
export const ACCOUNT_COLUMNS = [
  "users.id",
  "wallets.user_id",
  "wallet_nonces.user_id",
  "sessions.user_id",
  "api_keys.user_id",
  "account_tokens.user_id",
  "notifications.user_id",
  "email_outbox.user_id",
  "org_members.user_id",
  "org_invites.invited_by_id",
  "org_invites.invitee_id",
];

/**
 * Columns that keep naming a user after account deletion, and why. They hold an id only: it then points at the
 * tombstone row (name "Deleted user", no e-mail), so nothing personal remains, and the record they belong to
 * (an org, a project, a money decision, a paid task) is not the user's to erase.
 */
export const KEPT_USER_REFERENCES: Record<string, string> = {
  "orgs.created_by_id": "who created an org the others keep using",
  "org_members.added_by_id": "who added another member",
  "project_members.added_by_id": "who added another person to a project",
  "projects.created_by_id": "who created a project of the org",
  "projects.structure_approved_by_id": "who approved the structure that was funded (a money decision)",
  "funding_quotes.created_by_id": "who asked for the quote a deposit was made against",
  "milestone_drafts.created_by_id": "who asked for a draft of the project's plan",
  "tasks.claimed_by_id": "the payee of a paid task (eraseTaskData reopens unpaid ones)",
  "task_test_bundles.uploaded_by_id": "who uploaded the acceptance tests a task is paid against",
  "audit_log.actor_id": "the audit chain keeps ids; the payloads by or about the user are redacted",
};
