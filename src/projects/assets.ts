import { createHash } from "node:crypto";
// Embedded in the binary as text, served at a content-hashed URL.
import css from "./projects.css" with { type: "text" };

/** The stylesheet of the project, milestone, document and assistant pages. */
export const PROJECT_CSS = css as unknown as string;

/** Where it is served; the hash changes with its content, so it may be cached forever. */
export const PROJECT_CSS_PATH = `/assets/projects.${createHash("sha256").update(PROJECT_CSS).digest("hex").slice(0, 10)}.css`;
