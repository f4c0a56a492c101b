// The browser the end-to-end tests drive: Debian's Chromium (or CHROMIUM_PATH). A missing browser fails the test
// file with what to install; `bun run test` installs it as root and leaves test/e2e/ out only with SKIP_BROWSER=1.
import { existsSync } from "node:fs";

/** The Chromium executable; throws with the fix when it is not installed. */
export function chromiumPath(): string {
  const path = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
  if (!existsSync(path)) {
    throw new Error(
      `Chromium is not installed at ${path}: apt-get install chromium (or set CHROMIUM_PATH); or leave the browser tests out: SKIP_BROWSER=1 bun run test`,
    );
  }
  return path;
}

/** Headless flags for a closed network: without the networking ones Chromium keeps reaching for outside hosts. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
