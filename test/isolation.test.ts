// Tenant isolation and the permission table, proven over the whole route table. Every route the app lists is
// walked with a request its rightful caller succeeds with (test/support/isolation-routes.ts); before that, every
// other caller sends the very same request: anonymous, each role of org A below the one the route needs, A's
// owner through a read-only API key and without the CSRF token, org B's owner by session and by API key, and a
// platform admin. Each must be refused (401/403/404, or a redirect to sign-in for anonymous pages) and leave
// the database as it was; then the rightful caller succeeds, so a refusal is never a bad sample's 404. Routes of
// a project are walked on a private and on a public project. A route with no entry in the table fails the walk.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { tasks } from "../src/milestones/schema";
import { adminCan, can, isReadAction } from "../src/orgs/permissions";
import { projects } from "../src/projects/schema";
import { dbKinds } from "./support/db";
import { type Access, PUBLIC_ACTIONS, type Req, ROUTES, type Sample } from "./support/isolation-routes";
import {
  CLAIMER,
  type Persona,
  type PersonaName,
  seedWorld,
  snapshot,
  type Visibility,
  type World,
} from "./support/isolation-world";

const METHODS = new Set(["GET", "POST", "PUT", "PATCH", "DELETE"]);
const STATE_CHANGING = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const ROLE_ORDER: PersonaName[] = ["owner", "maintainer", "sponsor", "contributor"];

/** Whether `p` may send `method` to a route with this sample (the permission table, in one function). */
export function allowed(p: Persona, s: Sample, method: string, vis: Visibility | null): boolean {
  const a: Access = s.access;
  if (a.kind === "public") return true;
  if (a.kind === "org" && a.anonOnPublic && p.via === "anon") return vis === "public" && method === "GET";
  if (a.kind === "closed" || p.via === "anon") return false;
  if (STATE_CHANGING.has(method)) {
    if (p.via === "session" && !p.csrf) return false;
    if (p.via === "api-key" && (s.sessionOnly || !p.scopes.includes("write"))) return false;
  }
  switch (a.kind) {
    case "signed-in":
      return true;
    case "self":
      return p.user === "owner";
    case "admin":
      return p.user === "admin";
    case "invitee":
      return false; // the invitee is never one of the personas
    case "claimer":
      return p.user === CLAIMER;
    case "org":
      // an API key without the write scope does only `.view` actions, whatever the method
      if (p.via === "api-key" && !p.scopes.includes("write") && !isReadAction(a.action)) return false;
      if (a.orClaimer && p.user === CLAIMER) return true;
      if (vis === "public" && !a.membersOnly && (a.openOnPublic || PUBLIC_ACTIONS.includes(a.action))) return true;
      if (p.role) return can(p.role, a.action);
      return p.user === "admin" && adminCan(a.action);
  }
}

/** The persona that must succeed with the sample's request (unless the request names its own caller). */
function rightful(s: Sample): PersonaName | null {
  if (s.rightful) return s.rightful;
  const a = s.access;
  switch (a.kind) {
    case "public":
      return "anonymous";
    case "closed":
    case "invitee":
      return null;
    case "admin":
      return "admin";
    case "claimer":
      return CLAIMER;
    case "org":
      return ROLE_ORDER.find((r) => can(r.toUpperCase() as never, a.action)) ?? null;
    default:
      return "owner";
  }
}

const isRefusal = (res: Response, p: Persona, s: Sample) => {
  if ([401, 403, 404, ...(s.refusedAlso?.statuses ?? [])].includes(res.status)) return true;
  const to = res.headers.get("location") ?? "";
  return (
    res.status >= 300 &&
    res.status < 400 &&
    to.startsWith("/signin") &&
    (p.via === "anon" || s.access.kind === "closed")
  );
};

const isSuccess = (res: Response, s?: Sample) => {
  if (res.status >= 400) return false;
  const to = res.headers.get("location") ?? "";
  if (s?.doneAt && to.startsWith(s.doneAt)) return true;
  // a form that redirects back with an error message did not do what was asked
  return !(res.status >= 300 && (to.startsWith("/signin") || /[?&](error|sidebar)=/.test(to)));
};

const accept = (path: string) => (path.startsWith("/api/") ? "application/json" : "text/html");

async function summary(res: Response) {
  const type = res.headers.get("content-type") ?? "";
  const text = type.includes("event-stream") ? "(stream)" : (await res.text()).slice(0, 200).replace(/\s+/g, " ");
  if (type.includes("event-stream")) await res.body?.cancel();
  return `${res.status}${res.headers.get("location") ? ` → ${res.headers.get("location")}` : ""} ${text}`;
}

/** What org A keeps to itself: ids and names of the private project, the owner's e-mail. */
const privateMarks = (w: World) => {
  const p = w.projects.private;
  const f = w.funded.private;
  return [
    p.id,
    p.milestoneId,
    p.taskId,
    p.documentId,
    f.id,
    f.taskId,
    f.paidTaskId,
    `${w.marker} private project`,
    w.users.owner.email,
  ];
};

/** Reads a response to its end (at most 1.5 s), so work finished while streaming lands before the next snapshot. */
async function drain(res: Response) {
  const timer = new Promise((r) => setTimeout(r, 1500));
  await Promise.race([res.arrayBuffer().catch(() => undefined), timer]);
  await res.body?.cancel().catch(() => undefined);
}

const routeKey = (r: { method: string; path: string }) => `${r.method} ${r.path}`;

/** Waits until the tables stop changing (two equal snapshots 50 ms apart, at most 5 s). */
async function settled(w: World): Promise<void> {
  let last = JSON.stringify(await snapshot(w));
  for (const end = Date.now() + 5_000; Date.now() < end; ) {
    await Bun.sleep(50);
    const now = JSON.stringify(await snapshot(w));
    if (now === last) return;
    last = now;
  }
  throw new Error("the tables did not settle within 5 s");
}

for (const kind of dbKinds()) {
  describe(`isolation walk [${kind}]`, () => {
    let w: World;

    beforeAll(async () => {
      w = await seedWorld(kind);
    }, 120_000);
    afterAll(async () => {
      await w?.t.ctx.jobs.stop?.();
      await w?.t.close();
      await w?.gitHost.stop();
    });

    const routes = () => w.t.app.routes.filter((r) => METHODS.has(r.method));

    test("every route of the app has an entry in the walk's table, and every entry a route", () => {
      const listed = new Set(routes().map(routeKey));
      expect(
        routes()
          .map(routeKey)
          .filter((k) => !ROUTES[k]),
      ).toEqual([]);
      expect(Object.keys(ROUTES).filter((k) => !listed.has(k))).toEqual([]);
    });

    test("every caller gets what the permission table gives it, and refused calls change nothing", async () => {
      const failures: string[] = [];
      const counts = { routes: 0, requests: 0, refusals: 0, successes: 0 };
      const marks = privateMarks(w);
      for (const r of routes()) {
        const s = ROUTES[routeKey(r)];
        if (!s) continue; // reported by the test above
        counts.routes++;
        for (const vis of s.projects ? (["private", "public"] as const) : [null]) {
          const label = `${r.method} ${r.path}${vis ? ` [${vis}]` : ""}`;
          let req: Req;
          try {
            req = await s.build(w, vis ?? "private");
          } catch (err) {
            failures.push(`${label}: the sample could not be built: ${(err as Error).message}`);
            continue;
          }
          const send = (p: Persona) => {
            counts.requests++;
            return p.send(r.method, req.path, req.body, { accept: accept(req.path), ...req.headers });
          };
          // 1. everyone who may not: refused, nothing changed
          const before = await snapshot(w);
          for (const p of w.personas) {
            if (allowed(p, s, r.method, vis)) continue;
            const res = await send(p);
            counts.refusals++;
            if (!isRefusal(res, p, s)) failures.push(`${label} as ${p.name} → ${await summary(res)}`);
            else await res.body?.cancel();
          }
          const after = await snapshot(w);
          const changed = Object.keys(before).filter((t) => before[t] !== after[t]);
          if (changed.length) failures.push(`${label}: refused calls changed ${changed.join(", ")}`);
          // 2. everyone who may read: succeeds, and outsiders see nothing private of org A
          if (!STATE_CHANGING.has(r.method)) {
            for (const p of w.personas) {
              if (!allowed(p, s, r.method, vis) || p.name === rightful(s)) continue;
              const res = await send(p);
              if (!isSuccess(res)) failures.push(`${label} as ${p.name} (allowed) → ${await summary(res)}`);
              else if (
                p.role === null &&
                p.user !== "admin" &&
                !(res.headers.get("content-type") ?? "").includes("event-stream")
              ) {
                const text = await res.text();
                const leak = marks.find((m) => text.includes(m));
                if (leak) failures.push(`${label} as ${p.name} shows org A's private "${leak}"`);
              } else await drain(res);
            }
          }
          // 3. the rightful caller succeeds with the very same request
          const who = rightful(s);
          if (s.access.kind === "closed") continue;
          const res = req.as
            ? await req.as.request(r.method, req.path, {
                body: req.body,
                headers: { accept: accept(req.path), ...req.headers },
              })
            : who
              ? await send(w.personas.find((p) => p.name === who)!)
              : null;
          if (!res) failures.push(`${label}: nobody to succeed with the sample`);
          else if (!isSuccess(res, s))
            failures.push(
              `${label}: the rightful caller (${req.as ? "the request's user" : who}) → ${await summary(res)}`,
            );
          else {
            counts.successes++;
            await drain(res); // the sidebar saves its answer when the stream ends
            if (s.writesAfterAnswer) await settled(w);
          }
        }
      }
      expect(failures).toEqual([]);
      expect(counts.refusals).toBeGreaterThan(800);
      console.log(
        `isolation walk [${kind}]: ${counts.routes} routes, ${w.personas.length} personas, ${counts.requests} requests, ` +
          `${counts.refusals} refused as expected, ${counts.successes} rightful successes`,
      );
    }, 900_000);

    test("org B's user cannot reach org A through B's own paths with A's ids in the path, body or query", async () => {
      const b = w.users.outsider;
      const a = w.projects.private;
      const invite = await w.fresh.invite();
      const toB = await w.users.owner.request("POST", `/api/orgs/${w.orgA}/invite`, {
        body: { email: b.email, role: "contributor" },
      });
      expect(toB.status).toBe(201);
      const inviteToB = ((await toB.json()) as { id: string }).id;
      const bTree = (await (await b.request("GET", `/api/projects/${w.projectB.id}/milestones`)).json()) as {
        milestones: { id: string }[];
      };
      const aTree = (await (await w.users.owner.request("GET", `/api/projects/${a.id}/milestones`)).json()) as {
        milestones: { id: string }[];
      };
      const cases: [string, string, unknown][] = [
        ["PATCH", `/api/orgs/${w.orgB}/members/${w.users.maintainer.id}`, { role: "CONTRIBUTOR" }],
        ["DELETE", `/api/orgs/${w.orgB}/members/${w.users.maintainer.id}`, undefined],
        ["POST", `/orgs/${w.orgB}/members/${w.users.maintainer.id}/role`, new URLSearchParams({ role: "SPONSOR" })],
        ["POST", `/orgs/${w.orgB}/members/${w.users.maintainer.id}/remove`, undefined],
        ["DELETE", `/api/orgs/${w.orgB}/invite/${invite.id}`, undefined],
        ["POST", `/orgs/${w.orgB}/invites/${invite.id}/revoke`, undefined],
        ["POST", `/api/orgs/${w.orgB}/invite/${inviteToB}/accept`, {}],
        ["POST", `/api/orgs/${w.orgB}/invite/${inviteToB}/decline`, {}],
        ["POST", `/api/projects/${w.projectB.id}/milestones/reorder`, { ids: aTree.milestones.map((m) => m.id) }],
        [
          "POST",
          `/api/projects/${w.projectB.id}/milestones/reorder`,
          { ids: [bTree.milestones[0]!.id, aTree.milestones[0]!.id] },
        ],
        ["POST", "/api/ai/sidebar", { message: "hi", projectId: w.projectB.id, taskId: a.taskId }],
        ["POST", "/api/ai/sidebar", { message: "hi", projectId: w.projectB.id, milestoneId: a.milestoneId }],
        ["GET", "/api/orgs?all=true", undefined],
        [
          "POST",
          "/sidebar/ask",
          new URLSearchParams({ message: "hi", projectId: w.projectB.id, milestoneId: a.milestoneId }),
        ],
      ];
      const failures: string[] = [];
      const before = await snapshot(w);
      for (const [method, path, body] of cases) {
        const res = await b.request(method, path, { body, headers: { accept: accept(path) } });
        const to = res.headers.get("location") ?? "";
        const redirectedWithError = res.status >= 300 && res.status < 400 && /[?&](error|sidebar)=/.test(to);
        if (![400, 403, 404, 409, 422].includes(res.status) && !redirectedWithError)
          failures.push(`${method} ${path} as B → ${await summary(res)}`);
        else await res.body?.cancel();
      }
      const after = await snapshot(w);
      expect(failures).toEqual([]);
      expect(Object.keys(before).filter((t) => before[t] !== after[t])).toEqual([]);
      // the same shapes with B's own ids work, so the refusals above are about A's ids
      const own = await b.request("POST", `/api/projects/${w.projectB.id}/milestones/reorder`, {
        body: { ids: bTree.milestones.map((m) => m.id).reverse() },
      });
      expect(own.status).toBe(200);
      const accepted = await b.request("POST", `/api/orgs/${w.orgA}/invite/${inviteToB}/decline`, { body: {} });
      expect(accepted.status).toBe(200);
    }, 120_000);

    test("reviewers decide only where the project reviews payouts: elsewhere the verdict pays", async () => {
      const projectId = w.funded.public.id;
      const taskId = await w.fresh.task("public", "verified");
      const reject = { comment: "The README needs an example." };
      const db = w.t.ctx.db;
      await db.update(projects).set({ payoutReview: false }).where(eq(projects.id, projectId));
      try {
        for (const [action, body] of [
          ["approve", undefined],
          ["reject", reject],
        ] as const) {
          const res = await w.users.owner.request("POST", `/api/tasks/${taskId}/${action}`, { body });
          expect(`${action} ${res.status}`).toBe(`${action} 409`);
        }
      } finally {
        await db.update(projects).set({ payoutReview: true }).where(eq(projects.id, projectId));
      }
      const [task] = await db.select().from(tasks).where(eq(tasks.id, taskId));
      expect(task!.status).toBe("VERIFIED");
      // with review on, the same reviewer's same request goes through
      expect((await w.users.owner.request("POST", `/api/tasks/${taskId}/reject`, { body: reject })).status).toBe(200);
    });

    test("org A is intact after the walk", async () => {
      const org = await w.users.owner.request("GET", `/api/orgs/${w.orgA}`);
      expect(org.status).toBe(200);
      expect(((await org.json()) as { name: string }).name).toBe(w.marker);
      const members = (await (await w.users.owner.request("GET", `/api/orgs/${w.orgA}/members`)).json()) as {
        members: { userId: string; role: string }[];
      };
      const roles = Object.fromEntries(members.members.map((m) => [m.userId, m.role]));
      expect(roles[w.users.owner.id]).toBe("OWNER");
      expect(roles[w.users.maintainer.id]).toBe("MAINTAINER");
      expect(roles[w.users.sponsor.id]).toBe("SPONSOR");
      expect(roles[w.users.contributor.id]).toBe("CONTRIBUTOR");
      expect(roles[w.users.outsider.id]).toBeUndefined();
      expect((await w.users.owner.request("GET", "/api/me")).status).toBe(200); // A's session survived
    });
  });
}

test("the permission function follows the table: a contributor may not manage, a read key may not write", () => {
  const persona = (over: Partial<Persona>): Persona =>
    ({
      name: "owner",
      role: "OWNER",
      via: "session",
      user: "owner",
      scopes: [],
      csrf: true,
      send: async () => new Response(),
      ...over,
    }) as Persona;
  const manage: Sample = {
    access: { kind: "org", action: "project.manageMilestones" },
    build: async () => ({ path: "/" }),
  };
  expect(allowed(persona({ role: "CONTRIBUTOR", user: "contributor" }), manage, "POST", "private")).toBe(false);
  expect(allowed(persona({ role: "SPONSOR", user: "sponsor" }), manage, "POST", "private")).toBe(true);
  expect(allowed(persona({ via: "api-key", scopes: ["read"] }), manage, "POST", "private")).toBe(false);
  expect(allowed(persona({ csrf: false }), manage, "POST", "private")).toBe(false);
  const view: Sample = { access: { kind: "org", action: "project.view" }, build: async () => ({ path: "/" }) };
  expect(allowed(persona({ role: null, user: "outsider" }), view, "GET", "public")).toBe(true);
  expect(allowed(persona({ role: null, user: "outsider" }), view, "GET", "private")).toBe(false);
  expect(allowed(persona({ role: null, user: "admin" }), view, "GET", "private")).toBe(true);
  expect(allowed(persona({ role: null, user: "admin" }), manage, "POST", "private")).toBe(false);
  const anon = persona({ role: null, user: "anon", via: "anon" });
  const page: Sample = { ...view, access: { kind: "org", action: "project.view", anonOnPublic: true } };
  expect(allowed(anon, page, "GET", "public")).toBe(true);
  expect(allowed(anon, page, "GET", "private")).toBe(false);
  expect(allowed(anon, view, "GET", "public")).toBe(false);
  const sample = (access: Access): Sample => ({ access, build: async () => ({ path: "/" }) });
  const outsider = persona({ role: null, user: "outsider" });
  const contributor = persona({ role: "CONTRIBUTOR", user: "contributor" });
  const claim = sample({ kind: "org", action: "task.claim", openOnPublic: true });
  expect(allowed(outsider, claim, "POST", "public")).toBe(true);
  expect(allowed(outsider, claim, "POST", "private")).toBe(false);
  expect(allowed(persona({}), claim, "POST", "private")).toBe(false); // an owner reviews, never claims
  expect(allowed(contributor, claim, "POST", "private")).toBe(true);
  expect(allowed(persona({ via: "api-key", scopes: ["read"] }), claim, "POST", "public")).toBe(false);
  const verify = sample({ kind: "org", action: "task.review", orClaimer: true });
  expect(allowed(contributor, verify, "POST", "private")).toBe(true);
  expect(allowed(persona({ role: "CONTRIBUTOR", user: "maintainer" }), verify, "POST", "private")).toBe(false);
  expect(allowed(outsider, verify, "POST", "public")).toBe(false);
  const unclaim = sample({ kind: "claimer" });
  expect(allowed(persona({}), unclaim, "POST", "private")).toBe(false);
  expect(allowed(contributor, unclaim, "POST", "public")).toBe(true);
  expect(allowed(persona({ role: "CONTRIBUTOR", user: "contributor", csrf: false }), unclaim, "POST", "public")).toBe(
    false,
  );
});
