// Where the sandbox images live. scripts/build-sandbox-images tags the Docker images
// devsponsor/sandbox-<role>:<content hash> and :current, and keeps the harness root filesystem (for bubblewrap)
// under <sandbox dir>/rootfs/harness-<content hash>, with a harness-current link.
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { basename, join } from "node:path";
import type { ImageRole } from "./types";

/** Directory holding the images manifest and the root filesystems. */
export function sandboxDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.DEVSPONSOR_SANDBOX_DIR || "/var/lib/devsponsor/sandbox";
}

/** Docker image reference of a role: DEVSPONSOR_SANDBOX_<ROLE>_IMAGE, or the tag the build script moves. */
export function imageRef(role: ImageRole, env: NodeJS.ProcessEnv = process.env): string {
  return env[`DEVSPONSOR_SANDBOX_${role.toUpperCase()}_IMAGE`] || `devsponsor/sandbox-${role}:current`;
}

/** A root filesystem for bubblewrap: its directory, content hash and recorded tool versions. */
export interface RootfsInfo {
  dir: string;
  hash: string;
  tools: Record<string, string>;
}

/** The harness root filesystem (DEVSPONSOR_SANDBOX_ROOTFS or the built one), or null when none was built. */
export function findRootfs(env: NodeJS.ProcessEnv = process.env): RootfsInfo | null {
  const configured = env.DEVSPONSOR_SANDBOX_ROOTFS || join(sandboxDir(env), "rootfs", "harness-current");
  if (!existsSync(join(configured, "etc", "devsponsor", "tools.env"))) return null;
  const dir = realpathSync(configured);
  const hash = /^harness-([0-9a-f]+)$/.exec(basename(dir))?.[1] ?? basename(dir);
  return { dir, hash, tools: parseToolsEnv(readFileSync(join(dir, "etc", "devsponsor", "tools.env"), "utf8")) };
}

/** Parses the `name=version` lines the build script records. */
export function parseToolsEnv(text: string): Record<string, string> {
  const tools: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) tools[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return tools;
}

/** Tool versions from the image labels org.devsponsor.tools.<name>. */
export function toolsFromLabels(labels: Record<string, string> | null | undefined): Record<string, string> {
  const tools: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels ?? {})) {
    if (k.startsWith("org.devsponsor.tools.")) tools[k.slice("org.devsponsor.tools.".length)] = v;
  }
  return tools;
}
