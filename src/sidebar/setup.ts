import type { AppContext } from "../core/context";
import { registerUserDataHook } from "../users/data-hooks";
import { eraseSidebarData, exportSidebarData } from "./service";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Registers the sidebar's part of a user's data: conversations are exported and deleted with the account. */
export async function setupSidebar(_ctx: AppContext, _on: On) {
  registerUserDataHook({
    name: "sidebarConversations",
    covers: ["sidebar_conversations.user_id"],
    export: exportSidebarData,
    erase: eraseSidebarData,
  });
}
