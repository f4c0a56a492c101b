// The input layer: what the database cannot store is refused before any SQL, as 400 INVALID_INPUT in the
// envelope (404 for a path id), on both databases. Scenarios are the 500s a hostile client found.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../../test/support/app";
import { createOrgAs, createUser, formToken, type TestUser } from "../../../test/support/auth";
import { dbKinds } from "../../../test/support/db";
import { intInRange, storableDate, unstorablePath, uuid } from "./input";

test("unstorablePath finds NUL, lone surrogates and inexact numbers at any depth, also in keys", () => {
  expect(unstorablePath({ a: [{ b: "ok" }], n: 2 ** 53 - 1, s: "Café 😀" })).toBeNull();
  expect(unstorablePath({ a: [{ b: "x\u0000" }] })).toBe("a.0.b");
  expect(unstorablePath({ a: "\ud800x" })).toBe("a");
  expect(unstorablePath({ a: "x\udc00" })).toBe("a");
  expect(unstorablePath({ "k\u0000": 1 })).toBe("_");
  expect(unstorablePath({ v: JSON.parse("1e309") })).toBe("v");
  expect(unstorablePath({ v: JSON.parse("99999999999999999999999") })).toBe("v");
  let deep: unknown = "\u0000";
  for (let i = 0; i < 20_000; i++) deep = [deep];
  expect(unstorablePath(deep)).toStartWith("0.0.0");
});

test("storableDate keeps what a timestamp column can hold", () => {
  expect(storableDate("2030-01-01T00:00:00+05:30")?.toISOString()).toBe("2029-12-31T18:30:00.000Z");
  for (const bad of ["-100000-01-01T00:00:00Z", "+295000-01-01T00:00:00Z", "soon", "", 5]) {
    expect(storableDate(bad)).toBeUndefined();
  }
});

test("the shared zod pieces: UUIDs lower-cased, integers within the column's range", () => {
  const id = crypto.randomUUID();
  expect(uuid().parse(id.toUpperCase())).toBe(id);
  expect(uuid().safeParse("not-a-uuid").success).toBe(false);
  expect(intInRange(1).parse("12")).toBe(12);
  for (const bad of ["99999999999999999999999", "1e309", "1.5", "0", 2 ** 31]) {
    expect(intInRange(1).safeParse(bad).success).toBe(false);
  }
});

for (const kind of dbKinds()) {
  describe(`input layer [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let admin: TestUser;
    let orgId: string;
    let projectId: string;
    beforeAll(async () => {
      t = await createTestApp(kind);
      admin = await createUser(t, { admin: true });
      owner = await createUser(t);
      orgId = await createOrgAs(owner);
      const res = await owner.request("POST", `/api/orgs/${orgId}/projects`, { body: { title: "P" } });
      projectId = ((await res.json()) as { id: string }).id;
    });
    afterAll(() => t.close());

    const cases: [string, () => [string, string, unknown?], number][] = [
      ["NUL in an org name", () => ["POST", "/api/orgs", { name: "a\u0000b" }], 400],
      ["NUL nested in a PATCH", () => ["PATCH", `/api/orgs/${orgId}`, { description: "x\u0000" }], 400],
      ["lone surrogate in a project title", () => ["POST", `/api/orgs/${orgId}/projects`, { title: "\ud800x" }], 400],
      ["lone surrogate in a settings value", () => ["PATCH", "/api/settings", { "ai.chatModel": "\ud800x" }], 400],
      [
        "draft version beyond integer range",
        () => ["GET", `/api/projects/${projectId}/drafts/99999999999999999999999`],
        404,
      ],
      ["draft version 1e309", () => ["POST", `/api/projects/${projectId}/drafts/1e309/restore`], 404],
      ["draft version 2^31", () => ["GET", `/api/projects/${projectId}/drafts/2147483648`], 404],
      ["non-UUID orgId in a query", () => ["GET", "/api/projects?orgId=not-a-uuid"], 400],
      ["NUL in a query", () => ["GET", "/api/projects?q=a%00b"], 400],
      ["non-UUID path id", () => ["GET", "/api/orgs/not-a-uuid"], 404],
      ["NUL path id", () => ["GET", "/api/orgs/%00"], 404],
      ["path id that is not UTF-8", () => ["GET", "/api/orgs/%ED%A0%80"], 404],
      ["settings key every object has", () => ["PATCH", "/api/settings", { constructor: 1 }], 400],
    ];
    // Query values a page parameter ignores rather than refuses: out of range, they mean "no such parameter".
    const ignored: [string, () => string][] = [
      ["an audit page before seq 1e30", () => "/api/audit?before=1e30"],
      ["an audit page before seq 2^66", () => `/api/orgs/${orgId}/audit?before=99999999999999999999`],
      [
        "AI calls before a date PostgreSQL cannot hold",
        () => `/api/orgs/${orgId}/ai-calls?before=-100000-01-01T00:00:00Z`,
      ],
      ["AI calls with a negative limit", () => `/api/orgs/${orgId}/ai-calls?limit=-5`],
      ["notifications before a date PostgreSQL cannot hold", () => "/api/notifications?before=+275000-01-01T00:00:00Z"],
    ];
    for (const [name, path] of ignored) {
      test(name, async () => {
        const res = await (path().startsWith("/api/audit") ? admin : owner).request("GET", path());
        expect(res.status).toBe(200);
      });
    }
    for (const [name, make, status] of cases) {
      test(name, async () => {
        const [method, path, body] = make();
        const as = path.includes("settings") ? admin : owner;
        const res = await as.request(method, path, body === undefined ? {} : { body });
        expect(res.status).toBe(status);
        const envelope = (await res.json()) as { error: { code: string; details: object } };
        expect(envelope.error.code).toBe(status === 404 ? "NOT_FOUND" : "INVALID_INPUT");
      });
    }

    test("an upper-case path id reaches the service lower-cased", async () => {
      const res = await owner.request("GET", `/api/orgs/${orgId.toUpperCase()}`);
      expect(res.status).toBe(200);
      expect(((await res.json()) as { id: string }).id).toBe(orgId);
    });

    test("ids in a body are compared lower-cased (reordering milestones by upper-case ids)", async () => {
      const ids: string[] = [];
      for (const title of ["One", "Two"]) {
        const res = await owner.request("POST", `/api/projects/${projectId}/milestones`, { body: { title } });
        ids.push(((await res.json()) as { id: string }).id);
      }
      const res = await owner.request("POST", `/api/projects/${projectId}/milestones/reorder`, {
        body: { ids: ids.reverse().map((id) => id.toUpperCase()) },
      });
      expect(res.status).toBe(200);
      const tree = (await res.json()) as { milestones: { id: string }[] };
      expect(tree.milestones.map((m) => m.id)).toEqual(ids);
    });

    test("an empty id filter is no filter", async () => {
      const res = await owner.request("GET", "/api/projects?orgId=");
      expect(res.status).toBe(200);
    });

    test("NUL in the sign-in form's e-mail and in a page form is a 400 page, not a 500", async () => {
      const pre = await formToken(t, "/signin");
      const signin = await t.request("POST", "/signin", {
        body: new URLSearchParams({ _csrf: pre.token, email: "a\u0000@example.test", password: "x", next: "/" }),
        headers: { cookie: pre.cookie, "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      });
      expect(signin.status).toBe(400);
      const form = await owner.request("POST", `/orgs/${orgId}`, {
        body: new URLSearchParams({ _csrf: owner.csrf, name: "x\u0000", description: "" }),
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      });
      expect(form.status).toBe(400);
      expect(form.headers.get("content-type")).toContain("text/html");
    });
  });
}
