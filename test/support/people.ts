// The people of the two-browser end-to-end tests: the first run's setup that makes the sponsor the instance's admin,
// an organization created from the home page, a contributor's sign-up, the watch on page errors, and polling.
import { join } from "node:path";
import type { Page } from "playwright-core";

/** The sponsor's password in these tests. */
export const SPONSOR_PASSWORD = "correct horse battery";

/** Polls `fn` every `every` ms until it returns something truthy. */
export async function until<T>(
  fn: () => Promise<T | undefined | null | false>,
  what: string,
  ms: number,
  every = 100,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await Bun.sleep(every);
  }
}

/** Collects a page's script errors and console errors (not the favicon the browser asks for on its own). */
export function watchPageErrors(page: Page, errors: string[], quiet: () => boolean = () => false) {
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !quiet() && !m.location().url.endsWith("/favicon.ico"))
      errors.push(`${m.text()} (${m.location().url})`);
  });
}

/**
 * First run: the operator's setup token (in the server's data dir) makes Sam Sponsor the instance's admin; the
 * onboarding picks the sponsor role and lands on the home page.
 */
export async function setUpAsSponsor(page: Page, base: string, dataDir: string) {
  await page.goto(`${base}/`);
  const token = (await Bun.file(join(dataDir, "setup-token")).text()).trim();
  await page.getByLabel(/Setup token/).fill(token);
  await page.getByLabel("Your name").fill("Sam Sponsor");
  await page.getByLabel("E-mail").fill("sam@example.test");
  await page.getByLabel(/^Password/).fill(SPONSOR_PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/onboarding/);
  await page.getByLabel(/Sponsor/).check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${base}/`);
}

/** Creates an organization from the home page's link; returns its id. */
export async function createOrgFromHome(page: Page, name: string): Promise<string> {
  await page.getByRole("link", { name: "Create an organization" }).first().click();
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create organization" }).click();
  await page.waitForURL(/\/orgs\/[0-9a-f-]{36}/);
  return new URL(page.url()).pathname.split("/")[2]!;
}

/** Cleo Contributor signs up (cleo@example.test) and picks the contributor role; lands on the home page. */
export async function signUpAsContributor(page: Page, base: string) {
  await page.goto(`${base}/signup`);
  await page.getByLabel("Your name").fill("Cleo Contributor");
  await page.getByLabel("E-mail").fill("cleo@example.test");
  await page.getByLabel(/^Password/).fill("another good password");
  await page.getByRole("button", { name: "Create account" }).click();
  await page.waitForURL(/\/onboarding/);
  await page.getByLabel(/Contributor/).check();
  await page.getByRole("button", { name: "Continue" }).click();
  await page.waitForURL(`${base}/`);
}
