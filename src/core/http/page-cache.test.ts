import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { brotliDecompressSync } from "node:zlib";
import { createTestApp, type TestApp } from "../../../test/support/app";
import { createOrgAs, createUser, type TestUser } from "../../../test/support/auth";
import { describeEachDb, dbKinds } from "../../../test/support/db";
import { createPageCache } from "./page-cache";

describeEachDb("page cache", (db) => {
  beforeAll(async () => {
    await db().exec("create table cache_probe (n int)");
  });

  /** A cache and a render that counts its calls and shows the probe table's rows. */
  const setup = (lifetimeMs?: number) => {
    const cache = createPageCache(db(), lifetimeMs === undefined ? {} : { lifetimeMs });
    let renders = 0;
    const render = async () => {
      renders++;
      const [row] = await db().exec<{ n: number }>("select count(*)::int as n from cache_probe");
      return new Response(`<p>${row!.n} rows, render ${renders}</p>`, { headers: { "content-type": "text/html" } });
    };
    const get = (cookie = "ds_session=alice", url = "http://x/page") =>
      cache.serve(new Request(url, { headers: { cookie } }), render).then((r) => r.text());
    return { cache, get, renders: () => renders };
  };

  test("served again while nothing was written; a committed write renders afresh", async () => {
    const c = setup();
    const first = await c.get();
    expect(await c.get()).toBe(first);
    expect(c.renders()).toBe(1);
    await db().exec("insert into cache_probe values (1)");
    const after = await c.get();
    expect(after).not.toBe(first);
    expect(after).toContain("rows, render 2");
    expect(c.cache.stats()).toMatchObject({ hits: 1, misses: 2, entries: 1 });
  });

  test("a write in a transaction still open is not shown, and its commit renders afresh", async () => {
    if (!db().url) return expect(db().kind).toBe("pglite"); // PGlite has one connection: no transaction runs beside
    const { default: postgres } = await import("postgres");
    const other = postgres(db().url!, { max: 1, onnotice: () => {} });
    let commit: (() => void) | undefined;
    try {
      const c = setup();
      const before = await c.get();
      const open = other.begin(async (tx) => {
        await tx`insert into cache_probe values (2)`;
        await new Promise<void>((r) => {
          commit = r;
        });
      });
      await Bun.sleep(100);
      // what others see has not changed while the writer runs: the kept page is still the answer
      expect(await c.get()).toBe(before);
      expect(c.renders()).toBe(1);
      commit!();
      await open;
      const rows = (page: string) => Number(/<p>(\d+) rows/.exec(page)![1]);
      expect(rows(await c.get())).toBe(rows(before) + 1);
      expect(c.renders()).toBe(2);
    } finally {
      commit?.();
      await other.end();
    }
  });

  test("each credential and URL has its own entry", async () => {
    const c = setup();
    await c.get("ds_session=alice");
    await c.get("ds_session=bob");
    await c.get("ds_session=alice", "http://x/page?tab=2");
    expect(c.renders()).toBe(3);
    await c.get("ds_session=bob");
    expect(c.renders()).toBe(3);
  });

  test("requests at the same time share one render; after the lifetime it renders again", async () => {
    const c = setup(200);
    const all = await Promise.all(Array.from({ length: 20 }, () => c.get()));
    expect(new Set(all).size).toBe(1);
    expect(c.renders()).toBe(1);
    await Bun.sleep(250);
    await c.get();
    expect(c.renders()).toBe(2);
  });

  test("errors, redirects and responses setting cookies are never kept", async () => {
    const cache = createPageCache(db());
    let n = 0;
    const kinds = [
      () => new Response("gone", { status: 404, headers: { "content-type": "text/html" } }),
      () => new Response(null, { status: 303, headers: { location: "/signin" } }),
      () => new Response("<p>hi</p>", { headers: { "content-type": "text/html", "set-cookie": "a=b" } }),
    ];
    for (const make of kinds) {
      const render = async () => {
        n++;
        return make();
      };
      const req = () => new Request("http://x/p", { headers: { cookie: "ds_session=a" } });
      await cache.serve(req(), render);
      await cache.serve(req(), render);
    }
    expect(n).toBe(6);
    expect(cache.stats().entries).toBe(0);
  });

  test("a kept page is compressed once for a client that accepts it, and decodes to the same body", async () => {
    const cache = createPageCache(db());
    const body = `<main>${"a project page with its tasks ".repeat(200)}</main>`;
    const render = async () => new Response(body, { headers: { "content-type": "text/html; charset=utf-8" } });
    const req = () => new Request("http://x/p", { headers: { cookie: "ds_session=a", "accept-encoding": "br" } });
    const r1 = await cache.serve(req(), render);
    const r2 = await cache.serve(req(), render);
    for (const r of [r1, r2]) {
      expect(r.headers.get("content-encoding")).toBe("br");
      expect(r.headers.get("vary")).toContain("Accept-Encoding");
      expect(brotliDecompressSync(new Uint8Array(await r.arrayBuffer())).toString()).toBe(body);
    }
    const plain = await cache.serve(new Request("http://x/p", { headers: { cookie: "ds_session=a" } }), render);
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(await plain.text()).toBe(body);
  });
});

// Through the app: a page read, an edit through the API, and the same page again shows the edit at once.
for (const kind of dbKinds()) {
  describe(`page cache through the app [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let outsider: TestUser;
    let projectId: string;
    beforeAll(async () => {
      t = await createTestApp(kind);
      owner = await createUser(t);
      outsider = await createUser(t);
      const orgId = await createOrgAs(owner);
      const res = await t.request("POST", `/api/orgs/${orgId}/projects`, {
        headers: owner.headers,
        body: { title: "Cache probe", description: "A project to read twice.", repoType: "PRIVATE" },
      });
      projectId = ((await res.json()) as { id: string }).id;
    }, 60_000);
    afterAll(() => t.close());

    test(`the project page and API show an edit made a moment before, and stay closed to outsiders`, async () => {
      const page = () => t.request("GET", `/projects/${projectId}`, { headers: owner.headers }).then((r) => r.text());
      const api = () =>
        t.request("GET", `/api/projects/${projectId}`, { headers: owner.headers }).then((r) => r.json() as any);
      expect(await page()).toContain("Cache probe");
      expect(await page()).toContain("Cache probe");
      expect((await api()).title).toBe("Cache probe");
      const patched = await t.request("PATCH", `/api/projects/${projectId}`, {
        headers: owner.headers,
        body: { title: "Cache probe, renamed" },
      });
      expect(patched.status).toBe(200);
      expect(await page()).toContain("Cache probe, renamed");
      expect((await api()).title).toBe("Cache probe, renamed");
      const denied = await t.request("GET", `/api/projects/${projectId}`, { headers: outsider.headers });
      expect(denied.status).toBe(404);
    });
  });
}
