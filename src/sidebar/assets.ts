import { createHash } from "node:crypto";
// Embedded in the binary as text, served at a content-hashed URL.
import script from "./client.js" with { type: "text" };

/** The sidebar's browser script. */
export const SIDEBAR_SCRIPT = script as unknown as string;

/** Where the script is served; the hash changes with its content, so it may be cached forever. */
export const SIDEBAR_SCRIPT_PATH = `/sidebar/sidebar.${createHash("sha256").update(SIDEBAR_SCRIPT).digest("hex").slice(0, 10)}.js`;
