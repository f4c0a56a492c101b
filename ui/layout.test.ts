// The page shell as users meet it: navigation by role with the current page marked, the signed-in header on
// every page (error pages and the API docs too), the home page of a contributor without an org, and the members
// page of an org with one owner.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../test/support/app";
import { addMember, createOrgAs, createUser, type TestUser } from "../test/support/auth";

describe("page shell", () => {
  let t: TestApp;
  let admin: TestUser;
  let owner: TestUser;
  let contributor: TestUser;
  let orgId: string;
  beforeAll(async () => {
    t = await createTestApp("pglite");
    admin = await createUser(t, { admin: true, name: "Ada Admin" });
    owner = await createUser(t, { name: "Olga Owner" });
    contributor = await createUser(t, { name: "Carl Contributor" });
    orgId = await createOrgAs(owner, "Solo Org");
  }, 180_000);
  afterAll(() => t.close());

  const page = async (path: string, who?: TestUser) => {
    const res = await t.request("GET", path, { headers: { accept: "text/html", ...who?.headers } });
    return { status: res.status, html: await res.text() };
  };
  /** The links of the header's first navigation, with the current one's href. */
  const nav = (html: string) => {
    const block = /<nav aria-label="Main"[^>]*>([\s\S]*?)<\/nav>/.exec(html)?.[1] ?? "";
    const links = [...block.matchAll(/<a href="([^"]+)"/g)].map((m) => m[1]);
    const current = [...block.matchAll(/<a href="([^"]+)" aria-current="page"/g)].map((m) => m[1]);
    return { links, current };
  };

  test("signed out: explore and status, sign in; the explore board is marked current", async () => {
    const { status, html } = await page("/explore");
    expect(status).toBe(200);
    expect(nav(html)).toEqual({ links: ["/explore", "/status"], current: ["/explore"] });
    expect(html).toContain('href="/signin?next=%2Fexplore"');
  });

  test("a contributor sees their links, the current section marked; no admin pages", async () => {
    const { html } = await page("/orgs/new", contributor);
    const n = nav(html);
    expect(n.links).toEqual(["/explore", "/me/tasks", "/orgs", "/projects", "/status", "/api/docs"]);
    expect(n.current).toEqual(["/orgs"]);
    expect(html).not.toContain('href="/admin/audit"');
  });

  test("admins get the admin console in the nav, marked on its pages (settings and audit too)", async () => {
    for (const path of ["/admin/audit", "/admin/settings", "/admin/users"]) {
      const { html } = await page(path, admin);
      const n = nav(html);
      expect(n.links).toContain("/admin");
      expect(n.current).toEqual(["/admin"]);
    }
    expect(nav((await page("/projects", contributor)).html).links).not.toContain("/admin");
  });

  test("error pages and the API docs show the signed-in header, not Sign in", async () => {
    for (const path of ["/projects/00000000-0000-4000-8000-000000000000", "/no-such-page", "/api/docs"]) {
      const { html } = await page(path, contributor);
      expect(html).toContain("Carl Contributor");
      expect(html).toContain('action="/signout"');
      expect(html).not.toContain(">Sign in<");
      const anonymous = await page(path);
      if (anonymous.status === 303) continue; // signed-out visitors of a project page are sent to sign in
      expect(anonymous.html).toContain(">Sign in<");
      expect(anonymous.html).not.toContain("Carl Contributor");
    }
  });

  test("the phone menu carries the same links without JavaScript", async () => {
    const { html } = await page("/projects", contributor);
    const menu = /<details class="menu narrow-only">([\s\S]*?)<\/details>/.exec(html)?.[1] ?? "";
    expect(menu).toContain("<summary>Menu</summary>");
    expect(menu).toContain('href="/projects" aria-current="page"');
    expect(menu).toContain('action="/signout"');
  });

  test("a contributor without orgs lands on their work and the explore board, not on creating an org", async () => {
    const { html } = await page("/", contributor);
    expect(html).toContain("Your work");
    expect(html).toContain("You have no open claim.");
    expect(html).toContain("Nothing paid to you yet.");
    expect(html).toContain('href="/explore"');
    expect(html.indexOf("Your work")).toBeLessThan(html.indexOf("Your organizations"));
    expect(html).toContain('class="button secondary" href="/orgs/new"');
  });

  test("the sole owner is not offered Leave; with a second owner both are", async () => {
    let members = (await page(`/orgs/${orgId}/members`, owner)).html;
    expect(members).not.toMatch(/>\s*Leave\s*</);
    expect(members).toContain("You are the only owner");
    const second = await createUser(t, { name: "Second Owner" });
    await addMember(owner, orgId, second, "OWNER");
    members = (await page(`/orgs/${orgId}/members`, owner)).html;
    expect(members).toMatch(/>\s*Leave\s*</);
    expect(members).not.toContain("You are the only owner");
  });
});
