// A bounded, seeded fuzz of the whole HTTP surface: every OpenAPI operation and every form route, signed in as an
// org owner (with a real org, project and milestone) and anonymous, with malformed values. No request may get a
// 500, every API error carries the envelope, the audit chain still verifies afterwards and RSS stays bounded.
// FUZZ_SEED and FUZZ_REQUESTS change the run (a failure prints the seed and the request to replay).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { verifyAuditChain } from "../src/audit/service";
import { createTestApp, type TestApp } from "./support/app";
import { createOrgAs, createUser, type TestUser } from "./support/auth";
import { dbKinds } from "./support/db";

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
/**
 * How much the process may grow while it answers the requests (the embedded database's heap included, which never
 * shrinks): bounded growth is what the test is after. Seen: +300 MB on PGlite, +60 MB on PostgreSQL.
 */
const RSS_GROWTH_LIMIT_MB = 400;

/** mulberry32: small, fast, and the same sequence for the same seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)],
  };
}
type Rng = ReturnType<typeof prng>;

// Operations that end the signed-in caller's account or session: fuzzing them would end the owner's run early.
const SKIP = new Set(["DELETE /api/me", "POST /profile/delete", "POST /signout"]);

const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];
const COMMON_FIELDS = [
  "name",
  "title",
  "description",
  "email",
  "role",
  "roles",
  "orgId",
  "projectId",
  "milestoneId",
  "userId",
  "ids",
  "version",
  "scopes",
  "expiresInDays",
  "repoUrl",
  "repoType",
  "tokenAddress",
  "tokenDecimals",
  "fundingMode",
  "points",
  "amount",
  "question",
  "address",
  "signature",
  "chainId",
  "password",
  "next",
  "token",
  "position",
  "limit",
  "q",
  "file",
  "logo",
  "instance.name",
  "ai.temperature",
  "chain.confirmations",
];

interface Ids {
  orgId: string;
  projectId: string;
  milestoneId: string;
  userId: string;
}

/** A malformed (or odd but valid) scalar. */
function badScalar(r: Rng, ids: Ids): unknown {
  const real = r.pick(Object.values(ids));
  switch (r.int(22)) {
    case 0:
      return "a\u0000b";
    case 1:
      return "\ud800x";
    case 2:
      return "x\udfff";
    case 3:
      return JSON.parse("99999999999999999999999");
    case 4:
      return -2147483649;
    case 5:
      return 2147483648;
    case 6:
      return "not-a-uuid";
    case 7:
      return real.toUpperCase();
    case 8:
      return real;
    case 9:
      return crypto.randomUUID();
    case 10:
      return "x".repeat(r.pick([256, 5_000, 100_000]));
    case 11:
      return "";
    case 12:
      return null;
    case 13:
      return r.pick([true, false]);
    case 14:
      return r.pick([0, -1, 1.5, 1e21, Number.MAX_SAFE_INTEGER]);
    case 15:
      return [1, "a", null];
    case 16:
      return { nested: { deep: [r.pick(["\u0000", "ok"])] } };
    case 17:
      return "Cafe\u0301 \u{1F600} \u212B";
    case 18:
      return "2030-01-01T00:00:00+05:30";
    case 19:
      return "99999999999999999999999";
    case 20:
      return r.pick(["1e309", "1e30", "-5", "-100000-01-01T00:00:00Z"]);
    default:
      return r.pick(PROTO_KEYS);
  }
}

/** A path parameter: real ids (either case), unknown ids and junk. */
function badParam(r: Rng, name: string, ids: Ids): string {
  const real = name === "id" ? r.pick([ids.orgId, ids.projectId, ids.milestoneId]) : ids[name as keyof Ids];
  if (r.next() < 0.5) return r.next() < 0.5 ? (real ?? ids.orgId) : (real ?? ids.orgId).toUpperCase();
  const choices = [
    crypto.randomUUID(),
    "not-a-uuid",
    "%00",
    "%ED%A0%80", // a surrogate's UTF-8 bytes: not valid UTF-8
    "99999999999999999999999",
    "1e309",
    "-1",
    "0",
    "1",
    "%C3%A9",
    "x".repeat(300),
  ];
  return r.pick(choices);
}

/** A JSON body as text (some shapes JSON.stringify cannot produce: 1e309, deep nesting, duplicate keys). */
function badJson(r: Rng, fields: string[], ids: Ids): string {
  switch (r.int(10)) {
    case 0:
      return "";
    case 1:
      return `{"a":${"[".repeat(3000)}${"]".repeat(3000)}}`;
    case 2:
      return `{"${r.pick(fields)}": 1e309, "version": 99999999999999999999999}`;
    case 3:
      return `{"__proto__": {"isAdmin": true}, "constructor": {"prototype": {"x": 1}}, "${r.pick(fields)}": "x"}`;
    case 4:
      return r.pick(["[]", "null", "1", '"str"', "{", '{"a":}', "\u0000"]);
    default: {
      const body: Record<string, unknown> = {};
      const n = 1 + r.int(4);
      for (let i = 0; i < n; i++) body[r.pick(fields)] = badScalar(r, ids);
      return JSON.stringify(body);
    }
  }
}

function formBody(r: Rng, fields: string[], ids: Ids, csrf: string | null): URLSearchParams {
  const form = new URLSearchParams();
  if (csrf) form.set("_csrf", csrf);
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const v = badScalar(r, ids);
    form.append(r.pick([...fields, ...PROTO_KEYS]), typeof v === "string" ? v : (JSON.stringify(v) ?? ""));
  }
  return form;
}

/** Percent-encodes `s`; a lone surrogate is sent as the UTF-8 bytes of one, which are not valid UTF-8. */
const encode = (s: string) =>
  s.isWellFormed() ? encodeURIComponent(s) : encodeURIComponent(s.toWellFormed()).replace(/%EF%BF%BD/g, "%ED%A0%80");

interface Operation {
  method: string;
  path: string;
  api: boolean;
}

for (const kind of dbKinds()) {
  describe(`fuzz [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let ids: Ids;
    let ops: Operation[];
    let fields: string[];

    beforeAll(async () => {
      // No chain: the funding routes answer without starting an embedded node.
      t = await createTestApp(kind, { DEVSPONSOR_CHAIN_MODE: "rpc" });
      await createUser(t, { admin: true });
      owner = await createUser(t);
      const orgId = await createOrgAs(owner, "Fuzz org");
      const project = await owner.request("POST", `/api/orgs/${orgId}/projects`, { body: { title: "Fuzz project" } });
      const projectId = ((await project.json()) as { id: string }).id;
      const milestone = await owner.request("POST", `/api/projects/${projectId}/milestones`, {
        body: { title: "Fuzz milestone", description: "d" },
      });
      const milestoneId = ((await milestone.json()) as { id?: string }).id ?? crypto.randomUUID();
      ids = { orgId, projectId, milestoneId, userId: owner.id };

      const spec = (await (await t.request("GET", "/api/openapi.json")).json()) as {
        paths: Record<string, Record<string, unknown>>;
      };
      ops = [];
      const names = new Set(COMMON_FIELDS);
      for (const [path, methods] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(methods)) {
          ops.push({ method: method.toUpperCase(), path: path.replace(/\{(\w+)\}/g, ":$1"), api: true });
          JSON.stringify(op, (k, v) => {
            if (k === "properties" && v && typeof v === "object") for (const f of Object.keys(v)) names.add(f);
            return v;
          });
        }
      }
      const apiCount = ops.length;
      const seen = new Set(ops.map((o) => `${o.method} ${o.path}`));
      for (const route of (t.app as unknown as { routes: { method: string; path: string }[] }).routes) {
        const key = `${route.method} ${route.path}`;
        if (route.path.startsWith("/api/") || seen.has(key) || route.path.includes("*")) continue;
        if (route.method !== "GET" && route.method !== "POST") continue;
        seen.add(key);
        ops.push({ method: route.method, path: route.path, api: false });
      }
      ops = ops.filter((o) => !SKIP.has(`${o.method} ${o.path}`));
      fields = [...names];
      console.log(`fuzz [${kind}]: ${apiCount} API operations, ${ops.length - apiCount} other routes, seed ${SEED}`);
    });
    afterAll(() => t?.close());

    // The full count on the first database; a quarter on PostgreSQL keeps the file near a minute and a half.
    const count = kind === dbKinds()[0] ? REQUESTS : Math.ceil(REQUESTS / 4);
    test(`${count} malformed requests: no 500, the envelope on every API error, the audit chain intact`, async () => {
      const r = prng(SEED);
      const failures: string[] = [];
      const statuses = new Map<number, number>();
      Bun.gc(true); // the garbage of creating the test database (initdb, dump, load) is not the app's
      let peakRss = process.memoryUsage.rss();
      const rssBeforeMb = Math.round(peakRss / 1048576);
      console.log(`fuzz [${kind}]: RSS before ${rssBeforeMb} MB`);
      const started = performance.now();

      const one = async (i: number) => {
        const op = ops[i % ops.length];
        const signedIn = r.next() < 0.75;
        const path = op.path.replace(/:(\w+)/g, (_, name: string) => badParam(r, name, ids));
        const query =
          r.next() < 0.3
            ? `?${r.pick(["orgId", "limit", "limit", "before", "before", "q", "next", "token", "state", "unread", ...PROTO_KEYS])}=${encode(String(badScalar(r, ids)))}`
            : "";
        const headers: Record<string, string> = signedIn ? { ...owner.headers } : {};
        if (!op.api) headers.accept = "text/html";
        if (r.next() < 0.1) headers["hx-request"] = "true";
        let body: BodyInit | undefined;
        if (op.method !== "GET" && op.method !== "HEAD") {
          const shape = r.int(10);
          if (shape < 5 && op.api) {
            body = badJson(r, fields, ids);
            headers["content-type"] = "application/json";
          } else if (shape < 8) {
            body = formBody(r, fields, ids, signedIn ? owner.csrf : null);
            headers["content-type"] = "application/x-www-form-urlencoded";
          } else if (shape < 9) {
            const form = new FormData();
            if (signedIn) form.set("_csrf", owner.csrf);
            form.set(r.pick(fields), new File([r.pick(["%PDF-1.4\n\u0000", "# hi\n", "\u0000\u0001"])], "f.md"));
            form.set(r.pick(fields), String(badScalar(r, ids)));
            body = form;
          } else {
            body = r.pick(["", "\u0000", "<xml/>", "a=1&a=2&__proto__[x]=1"]);
            headers["content-type"] = r.pick([
              "text/plain",
              "application/xml",
              "application/json",
              "multipart/form-data",
            ]);
          }
        }
        const url = `http://localhost${path}${query}`;
        let res: Response;
        try {
          res = await t.app.handle(new Request(url, { method: op.method, headers, body }));
        } catch (err) {
          failures.push(`#${i} ${op.method} ${url}: threw ${String(err).slice(0, 200)}`);
          return;
        }
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = res.body && res.headers.get("content-type")?.includes("event-stream") ? "" : await res.text();
        if (res.status >= 500 && res.status !== 503) {
          failures.push(
            `#${i} ${op.method} ${url} (${signedIn ? "owner" : "anonymous"}): ${res.status} ${text.slice(0, 300)}`,
          );
        } else if (path.startsWith("/api/") && res.status >= 400) {
          let ok = false;
          try {
            const e = JSON.parse(text).error;
            ok = typeof e.code === "string" && typeof e.message === "string" && typeof e.details === "object";
          } catch {}
          if (!ok)
            failures.push(`#${i} ${op.method} ${url}: ${res.status} without the envelope: ${text.slice(0, 200)}`);
        }
      };

      for (let i = 0; i < count; i++) {
        await one(i);
        if (i % 100 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
        // JSC collects late (the heap grew ~230 MB of dead request garbage before its first full collection);
        // collecting every 500 requests makes the figure what the app keeps, not when the collector woke up.
        if (i % 500 === 499) Bun.gc(true);
      }
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
      const seconds = (performance.now() - started) / 1000;
      const rssMb = Math.round(peakRss / 1048576);
      console.log(
        `fuzz [${kind}]: ${count} requests in ${seconds.toFixed(1)} s, peak RSS ${rssMb} MB, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}`,
      );
      expect(failures.slice(0, 20)).toEqual([]);
      const chain = await verifyAuditChain(t.ctx.db);
      expect(chain).toMatchObject({ ok: true });
      expect(rssMb - rssBeforeMb).toBeLessThanOrEqual(RSS_GROWTH_LIMIT_MB);
    });
  });
}
