// Other domains keep personal data too (conversations, claims, model calls, …). They register here so that the
// GDPR export includes it and account deletion erases it, without the users domain importing them.
import type { Db } from "../core/db";

/** A domain's part of a user's data: what to export, and how to erase it inside the deletion transaction. */
export interface UserDataHook {
  /** Key of this domain's section in the export JSON. */
  name: string;
  /**
   * The columns naming a user (`table.column`) whose rows this hook exports and erases; the coverage test
   * (src/users/data-hooks.test.ts) fails for a column with a user id that no hook names, unless the users domain
   * handles it itself or it is kept on purpose (both listed there, the first checked against a real deletion).
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
