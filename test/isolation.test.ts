// Tenant isolation, proven over the whole route table: a user who belongs only to org B calls EVERY route of
// the real app with org A's resource ids and must get 403 or 404, never a success. New routes are covered
// without anyone remembering to add them; a route parameter with no fixture fails the test loudly.
//
// To cover a new kind of id, add an entry to FIXTURES (how to make one of org A's resources) or, when the
// parameter does not name a tenant's resource at all, to NOT_SCOPED with the reason.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { privateKeyToAccount } from "viem/accounts";
import { z } from "zod";
import { documents } from "../src/documents/schema";
import { loadTree, saveDraft } from "../src/milestones/service";
import { projects } from "../src/projects/schema";
import { createTestApp, type TestApp } from "./support/app";
import { addMember, apiKeyFor, createOrgAs, createUser, type TestUser } from "./support/auth";
import { dbKinds } from "./support/db";

/** Everything of org A the fixtures made, for them to refer to each other. */
interface World {
  t: TestApp;
  ownerA: TestUser;
  memberA: TestUser;
  orgA: string;
  marker: string;
  ids: Record<string, string>;
}

/** How to make one of org A's resources, by the key a route parameter resolves to (see `paramKey`). */
const FIXTURES: Record<string, (w: World) => Promise<string>> = {
  orgId: async (w) => w.orgA,
  userId: async (w) => w.ownerA.id,
  inviteId: async (w) => {
    const res = await w.ownerA.request("POST", `/api/orgs/${w.orgA}/invite`, {
      body: { email: "someone-else@iso.test", role: "contributor" },
    });
    return ((await res.json()) as { id: string }).id;
  },
  notificationId: async (w) => {
    const res = await w.ownerA.request("GET", "/api/notifications");
    const items = ((await res.json()) as { items: { id: string }[] }).items;
    if (!items.length) throw new Error("org A's owner has no notification to use as a fixture");
    return items[0].id;
  },
  walletId: async (w) => {
    const account = privateKeyToAccount(`0x${"ab".repeat(32)}`);
    const c = await w.ownerA.request("POST", "/api/me/wallets/challenge", {
      body: { address: account.address, chainId: 1 },
    });
    const { message } = (await c.json()) as { message: string };
    const res = await w.ownerA.request("POST", "/api/me/wallets", {
      body: { message, signature: await account.signMessage({ message }) },
    });
    return ((await res.json()) as { id: string }).id;
  },
  keyId: async (w) => {
    const res = await w.ownerA.request("GET", "/api/me/api-keys");
    return ((await res.json()) as { apiKeys: { id: string }[] }).apiKeys[0].id;
  },
  sessionId: async (w) => {
    const res = await w.ownerA.request("GET", "/api/me/sessions");
    return ((await res.json()) as { sessions: { id: string }[] }).sessions[0].id;
  },
  runId: async (w) => {
    // A background run of org A (the planner's payload names the org and the project).
    const jobs = w.t.ctx.jobs as unknown as { enqueue(name: string, payload: unknown): Promise<{ id: string }> };
    return (await jobs.enqueue("isolation.fixture", { orgId: w.orgA, projectId: w.ids.projectId ?? null })).id;
  },
  jobId: async (w) => w.ids.runId,
  cronId: async () => "isolation.no-such-entry",
  projectId: async (w) => {
    // PRIVATE: public projects are readable by every signed-in user on purpose.
    const [p] = await w.t.ctx.db
      .insert(projects)
      .values({ orgId: w.orgA, title: `${w.marker} project`, repoVisibility: "PRIVATE", createdById: w.ownerA.id })
      .returning({ id: projects.id });
    return p.id;
  },
  milestoneId: async (w) => {
    const task = {
      title: "t",
      description: "",
      points: 1,
      acceptanceCriteria: ["c"],
      verification: { minPassingTests: 1, testCommand: "", rules: [] },
    };
    await saveDraft(
      w.t.ctx.db,
      w.ids.projectId,
      { milestones: [{ title: "m", description: "", acceptanceCriteria: [], subMilestones: [task] }] },
      { source: "edit" },
    );
    return (await loadTree(w.t.ctx.db, w.ids.projectId))[0].id;
  },
  subId: async (w) => (await loadTree(w.t.ctx.db, w.ids.projectId))[0].subMilestones[0].id,
  taskId: async (w) => w.ids.subId,
  version: async () => "1", // the draft version the milestone fixture made, within org A's project
  documentId: async (w) => {
    const [d] = await w.t.ctx.db
      .insert(documents)
      .values({
        projectId: w.ids.projectId,
        filename: `${w.marker}.md`,
        type: "MARKDOWN",
        sizeBytes: 1,
        sha256: "0",
        storageKey: "none",
        status: "READY",
      })
      .returning({ id: documents.id });
    return d.id;
  },
};

/** The order fixtures are made in (later ones may use earlier ids); the rest follow in FIXTURES order. */
const FIRST = ["orgId", "projectId"];

/** Parameters that do not name a tenant's resource (routes with only these are not walked), with the reason. */
const NOT_SCOPED: Record<string, string> = {};

/** GET routes org A's own owner cannot open with the fixtures, with the reason (everything else must be < 400). */
const OWNER_GET_EXCEPTIONS: Record<string, string> = {
  "GET /orgs/:id/logo": "org A has no logo: the walk would be vacuous, so the logo is checked separately below",
};

/** The fixture key a parameter resolves to: `:inviteId` → inviteId; `/projects/:id` → projectId. */
export function paramKey(path: string, name: string): string {
  if (name !== "id") return name;
  const segments = path.split("/");
  const i = segments.indexOf(":id");
  const resource = segments[i - 1] ?? "";
  const singular = resource.endsWith("ies") ? `${resource.slice(0, -3)}y` : resource.replace(/s$/, "");
  return `${singular.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}Id`;
}

/** A body that passes a route's schema, so the request reaches the service's authorization check. */
function sampleBody(schema: unknown, ids: Record<string, string>): unknown {
  if (!schema || typeof schema !== "object") return {};
  const json =
    (schema as any)["~standard"]?.vendor === "zod"
      ? z.toJSONSchema(schema as z.ZodType, { unrepresentable: "any" })
      : schema;
  const sample = (s: any, key = ""): unknown => {
    if (!s || typeof s !== "object") return null;
    if (ids[key]) return ids[key];
    if ("const" in s) return s.const;
    if (s.enum) return s.enum[0];
    if (s.anyOf ?? s.oneOf)
      return sample((s.anyOf ?? s.oneOf).find((x: any) => x.type !== "null") ?? (s.anyOf ?? s.oneOf)[0], key);
    if (s.allOf) return Object.assign({}, ...s.allOf.map((x: any) => sample(x, key)));
    switch (Array.isArray(s.type) ? s.type.find((x: string) => x !== "null") : s.type) {
      case "object": {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(s.properties ?? {}))
          if ((s.required ?? []).includes(k)) out[k] = sample(v, k);
        return out;
      }
      case "array":
        return Array.from({ length: s.minItems ?? 0 }, () => sample(s.items, key));
      case "string":
        if (s.pattern) {
          const re = new RegExp(s.pattern);
          const hit = PATTERN_CANDIDATES.find((c) => re.test(c));
          if (hit !== undefined) return hit;
        }
        if (s.format === "email") return "b@iso.test";
        if (s.format === "uuid") return crypto.randomUUID();
        if (s.format === "uri" || s.format === "url") return "https://example.test/";
        return "x".repeat(Math.max(1, s.minLength ?? 1));
      case "integer":
      case "number":
        return s.minimum ?? s.exclusiveMinimum ?? 1;
      case "boolean":
        return false;
      default:
        return {};
    }
  };
  return sample(json);
}

// Strings tried against a schema's `pattern` (hashes, addresses, signatures, slugs, numbers).
const PATTERN_CANDIDATES = [
  `0x${"ab".repeat(32)}`,
  `0x${"ab".repeat(20)}`,
  `0x${"ab".repeat(65)}`,
  "0x1",
  "abcdef0123456789abcdef0123456789abcdef01",
  "a",
  "abc",
  "1",
  "a-b",
];

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);

for (const kind of dbKinds()) {
  describe(`isolation walk [${kind}]`, () => {
    let w: World;
    let userB: TestUser;
    let keyB: Awaited<ReturnType<typeof apiKeyFor>>;
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      const t = await createTestApp(kind);
      const marker = `Alpha-${crypto.randomUUID().slice(0, 8)}`;
      const ownerA = await createUser(t, { name: `${marker} owner` });
      const memberA = await createUser(t);
      const orgA = await createOrgAs(ownerA, marker);
      await addMember(ownerA, orgA, memberA, "maintainer"); // also gives ownerA a notification
      await apiKeyFor(t, ownerA);
      w = { t, ownerA, memberA, orgA, marker, ids };
      const order = [...FIRST, ...Object.keys(FIXTURES).filter((k) => !FIRST.includes(k))];
      for (const key of order) ids[key] = await FIXTURES[key](w);
      userB = await createUser(t);
      await createOrgAs(userB, "Beta"); // B is OWNER of its own org: the most rights anyone outside A has
      keyB = await apiKeyFor(t, userB, ["read", "write"]);
    }, 60_000);
    afterAll(() => w?.t.close());

    const walked = () =>
      w.t.app.routes.filter((r) => METHODS.has(r.method) && r.path.includes(":") && !r.path.includes("*"));

    test("every route parameter has a fixture (add one to FIXTURES or NOT_SCOPED)", () => {
      const missing = new Set<string>();
      for (const r of walked()) {
        for (const [, name] of r.path.matchAll(/:(\w+)/g)) {
          const key = paramKey(r.path, name);
          if (!FIXTURES[key] && !NOT_SCOPED[key])
            missing.add(`${r.method} ${r.path} → :${name} (fixture key "${key}")`);
        }
      }
      expect([...missing]).toEqual([]);
    });

    test("org B's user gets 403/404 on every route with org A's ids, by session and by API key", async () => {
      const results: string[] = [];
      let count = 0;
      for (const r of walked()) {
        const names = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
        const keys = names.map((n) => paramKey(r.path, n));
        if (keys.every((k) => NOT_SCOPED[k])) continue;
        if (keys.some((k) => !ids[k])) continue; // reported by the fixture test
        const url = names.reduce((p, n, i) => p.replace(`:${n}`, ids[keys[i]]), r.path);
        const body = r.method === "GET" ? undefined : sampleBody((r as any).hooks?.body, ids);
        const callers = r.path.startsWith("/api/") ? [userB.request, keyB.request] : [userB.request];
        for (const [i, send] of callers.entries()) {
          const res = await send(r.method, url, {
            body,
            headers: { accept: r.path.startsWith("/api/") ? "application/json" : "text/html" },
          });
          count++;
          if (res.status !== 403 && res.status !== 404) {
            results.push(
              `${r.method} ${r.path} as B (${i ? "api key" : "session"}) → ${res.status} ${(await res.text()).slice(0, 160)}`,
            );
          } else {
            await res.body?.cancel();
          }
        }
      }
      expect(results).toEqual([]);
      expect(count).toBeGreaterThan(30);
      console.log(
        `isolation walk [${kind}]: ${count} requests over ${walked().length} parameterized routes, all 403/404`,
      );
    }, 60_000);

    test("the fixtures are real: org A's owner opens every GET route with the same ids", async () => {
      const failures: string[] = [];
      for (const r of walked().filter((r) => r.method === "GET")) {
        if (OWNER_GET_EXCEPTIONS[`GET ${r.path}`]) continue;
        const names = [...r.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
        const keys = names.map((n) => paramKey(r.path, n));
        if (keys.some((k) => !ids[k])) continue;
        const url = names.reduce((p, n, i) => p.replace(`:${n}`, ids[keys[i]]), r.path);
        const res = await w.ownerA.request("GET", url, { headers: { accept: "text/html" } });
        if (res.status >= 400) failures.push(`GET ${r.path} as A's owner → ${res.status}`);
        await res.body?.cancel();
      }
      expect(failures).toEqual([]);
    });

    test("org A is unchanged after the walk (no write got through)", async () => {
      const org = await w.ownerA.request("GET", `/api/orgs/${w.orgA}`);
      expect(org.status).toBe(200);
      expect(((await org.json()) as { name: string }).name).toBe(w.marker);
      const members = (await (await w.ownerA.request("GET", `/api/orgs/${w.orgA}/members`)).json()) as {
        members: { userId: string; role: string }[];
      };
      expect(members.members.map((m) => `${m.userId}:${m.role}`).sort()).toEqual(
        [`${w.ownerA.id}:OWNER`, `${w.memberA.id}:MAINTAINER`].sort(),
      );
      const invites = (await (await w.ownerA.request("GET", `/api/orgs/${w.orgA}/invites`)).json()) as {
        invites: { id: string; status: string }[];
      };
      expect(invites.invites.find((i) => i.id === ids.inviteId)?.status).toBe("PENDING");
      const wallets = (await (await w.ownerA.request("GET", "/api/me/wallets")).json()) as {
        wallets: { id: string }[];
      };
      expect(wallets.wallets.map((x) => x.id)).toContain(ids.walletId);
      expect((await w.ownerA.request("GET", "/api/me")).status).toBe(200); // A's session was not revoked by B
    });

    test("lists without parameters never show org A's data to B", async () => {
      const leaks: string[] = [];
      const secrets = [w.marker, w.orgA, w.ownerA.email];
      for (const r of w.t.app.routes.filter(
        (r) => r.method === "GET" && !r.path.includes(":") && !r.path.includes("*"),
      )) {
        const res = await userB.request("GET", r.path, { headers: { accept: "text/html" } });
        if ((res.headers.get("content-type") ?? "").includes("event-stream")) {
          await res.body?.cancel();
          continue;
        }
        const text = await res.text();
        for (const s of secrets)
          if (text.includes(s))
            leaks.push(
              `GET ${r.path} shows ${s === w.marker ? "org A's name" : s === w.orgA ? "org A's id" : "A's e-mail"}`,
            );
      }
      expect(leaks).toEqual([]);
    });

    test("an org logo is served to members only", async () => {
      const png = Uint8Array.from([
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52,
      ]);
      const form = new FormData();
      form.set("logo", new File([png], "logo.png", { type: "image/png" }));
      expect((await w.ownerA.request("PUT", `/api/orgs/${w.orgA}/logo`, { body: form })).status).toBe(200);
      expect((await w.ownerA.request("GET", `/orgs/${w.orgA}/logo`)).status).toBe(200);
      expect((await userB.request("GET", `/orgs/${w.orgA}/logo`)).status).toBe(404);
    });
  });
}

test("paramKey names fixtures by the resource before :id", () => {
  expect(paramKey("/api/orgs/:id/invite/:inviteId/accept", "id")).toBe("orgId");
  expect(paramKey("/api/orgs/:id/invite/:inviteId/accept", "inviteId")).toBe("inviteId");
  expect(paramKey("/api/projects/:id", "id")).toBe("projectId");
  expect(paramKey("/api/notifications/:id/read", "id")).toBe("notificationId");
  expect(paramKey("/api/sub-milestones/:id", "id")).toBe("subMilestoneId");
  expect(paramKey("/api/categories/:id", "id")).toBe("categoryId");
});
