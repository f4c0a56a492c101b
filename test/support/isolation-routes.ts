// The isolation walk's table: for every route of the app, who may call it (from the permission table of
// src/orgs/permissions.ts) and a request its rightful caller succeeds with, built against the seeded world.
// A route missing here fails the walk, so a new route cannot go unwalked.

import { eq } from "drizzle-orm";
import { zeroAddress } from "viem";
import { requireChain } from "../../src/chain/service";
import { githubRepositories } from "../../src/github/schema";
import { createQuote, devChainDeposit } from "../../src/funding/service";
import { projectFunding } from "../../src/funding/schema";
import { setYieldMode } from "../../src/funding/yield";
import { projects } from "../../src/projects/schema";
import { onChainProjectId } from "../../src/zk/attestation";
import { payments } from "../../src/payments/schema";
import { zkProofs } from "../../src/zk/schema";
import type { OrgAction } from "../../src/orgs/permissions";
import { createProjectInvite } from "../../src/invites/service";
import { PROJECT_CSS_PATH } from "../../src/projects/assets";
import { projectMembers } from "../../src/projects/members-schema";
import { SIDEBAR_SCRIPT_PATH } from "../../src/sidebar/assets";
import { ASSETS_BY_PATH } from "../../ui/assets";
import type { TestUser } from "./auth";
import { formToken } from "./auth";
import { accrueNativeFees } from "./fees";
import {
  type Body,
  markdownFile,
  multipart,
  PNG,
  type TaskStage,
  type Visibility,
  type World,
} from "./isolation-world";

/** Who may call a route. */
export type Access =
  /** anyone, signed in or not */
  | { kind: "public" }
  /** nobody with this request (pre-session routes whose own token or state is missing) */
  | { kind: "closed"; why: string }
  /** any signed-in user, on their own account */
  | { kind: "signed-in" }
  /** only the user the ids in the request belong to (A's owner) */
  | { kind: "self" }
  /** platform admins */
  | { kind: "admin" }
  /** only the user an invite is addressed to */
  | { kind: "invitee" }
  /** only the user holding the task's claim (org A's contributor for every task of the world) */
  | { kind: "claimer" }
  /**
   * org A's members whose role may do `action`; on a public project also everyone PUBLIC_ACTIONS lets in,
   * unless `membersOnly` (background runs belong to the org even when the project is public), and anyone
   * signed in when `openOnPublic` (claims: src/tasks/service.ts). `orClaimer`: the task's claimer as well.
   * `anonOnPublic`: a page a signed-out visitor may read on a public project (its overview, a task).
   */
  | {
      kind: "org";
      action: OrgAction;
      membersOnly?: boolean;
      openOnPublic?: boolean;
      orClaimer?: boolean;
      anonOnPublic?: boolean;
    };

/** A request of the walk; `as` is its rightful caller when that is not one of the personas. */
export interface Req {
  path: string;
  body?: Body;
  headers?: Record<string, string>;
  as?: TestUser;
}

/** One route's entry. */
export interface Sample {
  access: Access;
  /** Walk it once on the private and once on the public project (`build` gets the visibility). */
  projects?: boolean;
  /** Browser sessions only: API keys are refused even with the write scope. */
  sessionOnly?: boolean;
  /** The rightful caller when not the default (the most powerful persona allowed). */
  rightful?: "owner" | "maintainer" | "sponsor" | "contributor" | "admin" | "anonymous";
  /** Where a successful redirect may go when that is the sign-in page (signing out, deleting the account). */
  doneAt?: string;
  /**
   * Further statuses that count as a refusal, with the reason: the request carries something issued to the
   * rightful caller alone (a signed wallet challenge), so anyone else's attempt is invalid input.
   */
  refusedAlso?: { statuses: number[]; why: string };
  /**
   * The route keeps writing after it answers (a password-reset request queues its e-mail after answering, so the
   * answer takes as long for an unknown address): the walk waits for the tables to settle before the next route.
   */
  writesAfterAnswer?: boolean;
  build(w: World, vis: Visibility): Promise<Req>;
}

/** What anyone signed in may do on a PUBLIC project (src/projects/access.ts). */
export const PUBLIC_ACTIONS: OrgAction[] = ["project.view", "documents.view", "ai.use"];

const form = (o: Record<string, string | string[]>) => {
  const f = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) for (const x of [v].flat()) f.append(k, x);
  return f;
};
const at = (path: string, extra: Omit<Req, "path"> = {}) => Promise.resolve({ path, ...extra });
/** A paid task's payment turned FAILED with a proof to release with: what the admin's retry takes. */
async function failedPayment(w: World): Promise<string> {
  const taskId = await w.fresh.task("private", "paid");
  const db = w.t.ctx.db;
  const [proof] = await db
    .insert(zkProofs)
    .values({ taskId, chainTaskId: "1", proofData: {} as never, root: "0", digest: "0", status: "FAILED" })
    .returning();
  const [p] = await db
    .update(payments)
    .set({ status: "FAILED", proofId: proof!.id, txHash: null, lastError: "INSUFFICIENT_FUNDS: walk" })
    .where(eq(payments.taskId, taskId))
    .returning();
  return p!.id;
}

/** Fees the escrow owes in the native coin (one payment released on the dev chain); returns the token (address 0). */
async function owedFees(w: World): Promise<string> {
  const rt = await requireChain(w.t.ctx);
  const chain = { name: "walk", conn: rt.conn, keys: rt.dev!.genesis.keys, stop: async () => {} };
  await accrueNativeFees(chain, rt.deployment!, 10n ** 15n);
  return zeroAddress;
}
/** A fresh member invited to project `projectId` only; returns their user id. */
async function projectMember(w: World, projectId: string): Promise<string> {
  const u = await w.fresh.user();
  await w.t.ctx.db.insert(projectMembers).values({ projectId, userId: u.id, role: "CONTRIBUTOR" });
  return u.id;
}

/** A fresh pending invite to project `projectId` (sent by org A's owner); returns its id. */
async function projectInvite(w: World, projectId: string): Promise<string> {
  const owner = { userId: w.users.owner.id, name: w.users.owner.name, isAdmin: false, via: "session" as const };
  const { invite } = await createProjectInvite(w.t.ctx, owner, projectId, {
    githubUsername: `walk-${crypto.randomUUID().slice(0, 8)}`,
    role: "CONTRIBUTOR",
  });
  return invite.id;
}
/** Org A's owner as a service principal (for setting up funded projects through the services). */
const ownerOf = (w: World) => ({
  userId: w.users.owner.id,
  name: w.users.owner.name,
  isAdmin: false,
  via: "session" as const,
});
/**
 * A fresh project funded on the dev chain through the services (quote, one-click deposit); with `token`, in the
 * dev chain's dUSD (which has a vault); with `yieldMode`, switched to yield mode. Returns its id.
 */
async function fundedOnChain(w: World, v: Visibility, opts: { token?: boolean; yieldMode?: boolean } = {}) {
  const p = await w.fresh.project(v, { approved: true });
  const rt = await requireChain(w.t.ctx);
  if (opts.token) {
    await w.t.ctx.db
      .update(projects)
      .set({ tokenAddress: rt.deployment!.dev!.token, tokenSymbol: "dUSD", tokenDecimals: 6 })
      .where(eq(projects.id, p.id));
  }
  await createQuote(w.t.ctx, ownerOf(w), p.id);
  await devChainDeposit(w.t.ctx, ownerOf(w), p.id);
  if (opts.yieldMode) await setYieldMode(w.t.ctx, ownerOf(w), p.id, "YIELD");
  return p.id;
}
/** A fresh funded project whose expiry date has passed, so its refund can be sent at once. */
async function expiredOnChain(w: World, v: Visibility) {
  const id = await fundedOnChain(w, v);
  await w.t.ctx.db
    .insert(projectFunding)
    .values({ projectId: id, projectKey: onChainProjectId(id), expiresAt: new Date(Date.now() - 1000) })
    .onConflictDoUpdate({ target: projectFunding.projectId, set: { expiresAt: new Date(Date.now() - 1000) } });
  return id;
}
/** A fresh project set ACTIVE in the database (no deposit): enough for the expiry date and raising points. */
async function activeProject(w: World, v: Visibility) {
  const p = await w.fresh.project(v, { approved: true });
  await w.t.ctx.db.update(projects).set({ state: "ACTIVE" }).where(eq(projects.id, p.id));
  return p;
}
const org = (action: OrgAction, extra: Partial<Sample> = {}) => ({
  access: { kind: "org", action } as Access,
  ...extra,
});
const proj = (action: OrgAction, build: Sample["build"], extra: Partial<Sample> = {}): Sample => ({
  access: { kind: "org", action },
  projects: true,
  build,
  ...extra,
});
const pub: Access = { kind: "public" };
const readableSignedOut: Access = { kind: "org", action: "project.view", anonOnPublic: true };
const signedIn: Access = { kind: "signed-in" };
const self: Access = { kind: "self" };
const admin: Access = { kind: "admin" };
const invitee: Access = { kind: "invitee" };
// The e-mailed invite token is the credential: whoever signed in holds it may answer (the link may reach an
// account under another address). Without the token, only the addressee may (the id routes, `invitee`).
const tokenHolder: Access = { kind: "signed-in" };
const ownChallenge = {
  statuses: [400],
  why: "the signed challenge was issued to A's owner: anyone else's link attempt is invalid input",
};
// Task writes: each request gets a fresh task of the funded project at the stage the route acts on.
const claimer: Access = { kind: "claimer" };
const claimable: Access = { kind: "org", action: "task.claim", openOnPublic: true };
const reviewerOrClaimer: Access = { kind: "org", action: "task.review", orClaimer: true };
const onTask = (
  access: Access,
  stage: TaskStage,
  path: (id: string) => string,
  extra: Omit<Req, "path"> = {},
  sample: Partial<Sample> = {},
): Sample => ({
  access,
  projects: true,
  build: async (w, v) => at(path(await w.fresh.task(v, stage)), extra),
  ...sample,
});
const review: Access = { kind: "org", action: "task.review" };
const firstAsset = () => [...ASSETS_BY_PATH.keys()][0]!;
// A well-formed account token signed with another key: what a forger can make.
const FORGED_TOKEN = `${"0".repeat(8)}-0000-4000-8000-${"0".repeat(12)}.${Math.floor(Date.now() / 1000) + 3600}.${"A".repeat(43)}`;
/** A fresh user whose address is not confirmed yet (test users are created confirmed). */
const unverified = async (w: World) => {
  const u = await w.fresh.user();
  await w.t.ctx.database.exec("update users set email_verified = false where id = $1", [u.id]);
  return u;
};

/** A fresh webhook of org A made by its owner (a public address; the walk runs no delivery jobs). */
const webhookOf = async (w: World) => {
  const res = await w.users.owner.request("POST", `/api/orgs/${w.orgA}/webhooks`, {
    body: { name: "walk", url: "https://93.184.215.14/walk", format: "generic" },
  });
  if (res.status !== 201) throw new Error(`seeding a webhook failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
};
/** A fresh webhook with one finished (failed) test delivery. */
const webhookDelivery = async (w: World) => {
  const hook = await webhookOf(w);
  const res = await w.users.owner.request("POST", `/api/orgs/${w.orgA}/webhooks/${hook}/test`);
  const { deliveryId } = (await res.json()) as { deliveryId: string };
  await w.t.ctx.database.exec("update webhook_deliveries set status = 'failed' where id = $1", [deliveryId]);
  return { hook, delivery: deliveryId, base: `/orgs/${w.orgA}/webhooks/${hook}` };
};

/** A one-file tar archive (ustar), the smallest hidden test bundle. */
function testBundle(): File {
  const body = new TextEncoder().encode("test('hidden', () => {});\n");
  const header = new Uint8Array(512);
  const put = (text: string, at: number) => header.set(new TextEncoder().encode(text), at);
  put("hidden.test.ts", 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(`${body.length.toString(8).padStart(11, "0")}\0`, 124);
  put("00000000000\0", 136);
  put("        ", 148);
  put("0", 156);
  put("ustar\u000000", 257);
  const sum = header.reduce((a, b) => a + b, 0);
  put(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const padded = Math.ceil(body.length / 512) * 512;
  const tar = new Uint8Array(512 + padded + 1024);
  tar.set(header, 0);
  tar.set(body, 512);
  return new File([tar], "hidden.tar", { type: "application/x-tar" });
}

/** Every route of the app, keyed "METHOD /path" as Elysia lists it. */
export const ROUTES: Record<string, Sample> = {
  // ---- public and pre-session
  "GET /static/*": { access: pub, build: () => at(firstAsset()) },
  [`GET ${PROJECT_CSS_PATH}`]: { access: pub, build: () => at(PROJECT_CSS_PATH) },
  [`GET ${SIDEBAR_SCRIPT_PATH}`]: { access: pub, build: () => at(SIDEBAR_SCRIPT_PATH) },
  "GET /health": { access: pub, build: () => at("/health") },
  "GET /status": { access: pub, build: () => at("/status") },
  "GET /api/openapi.json": { access: pub, build: () => at("/api/openapi.json") },
  "GET /api/docs": { access: pub, build: () => at("/api/docs") },
  "GET /setup": {
    access: { kind: "closed", why: "the platform admin exists: the setup form is never shown again" },
    build: () => at("/setup"),
  },
  "POST /setup": {
    access: { kind: "closed", why: "the platform admin exists: nobody becomes admin through setup again" },
    build: () =>
      at("/setup", { body: form({ name: "Mallory", email: "mallory@walk.test", password: "mallory-pass-1" }) }),
  },
  "GET /signin": { access: pub, build: () => at("/signin") },
  "POST /signin": {
    access: pub,
    build: async (w) => {
      const pre = await formToken(w.t, "/signin");
      const u = await w.fresh.user();
      return {
        path: "/signin",
        body: form({ _csrf: pre.token, email: u.email, password: u.password, next: "/" }),
        headers: { cookie: pre.cookie },
      };
    },
  },
  "GET /signup": { access: pub, build: () => at("/signup") },
  "POST /signup": {
    access: pub,
    build: async (w) => {
      const pre = await formToken(w.t, "/signup");
      const email = `new-${crypto.randomUUID().slice(0, 8)}@walk.test`;
      return {
        path: "/signup",
        body: form({ _csrf: pre.token, name: "New", email, password: "a-long-password-1" }),
        headers: { cookie: pre.cookie },
      };
    },
  },
  "POST /signout": {
    access: signedIn,
    doneAt: "/signin",
    build: async (w) => ({ path: "/signout", as: await w.fresh.user() }),
  },
  "GET /auth/github": { access: pub, build: () => at("/auth/github") },
  "GET /auth/github/callback": {
    access: { kind: "closed", why: "no OAuth state cookie: a forged callback signs nobody in" },
    build: () => at("/auth/github/callback?state=forged&code=forged"),
  },
  // e-mail verification and password reset (src/auth/account-routes.tsx): a forged link's token opens nothing
  "GET /password/forgot": { access: pub, build: () => at("/password/forgot") },
  "POST /password/forgot": {
    access: pub,
    writesAfterAnswer: true,
    build: async (w) => {
      const pre = await formToken(w.t, "/password/forgot");
      const u = await w.fresh.user();
      return {
        path: "/password/forgot",
        body: form({ _csrf: pre.token, email: u.email }),
        headers: { cookie: pre.cookie },
      };
    },
  },
  "GET /password/reset": {
    access: { kind: "closed", why: "a forged reset link: nobody gets the form" },
    refusedAlso: { statuses: [400], why: "the link's token is not valid" },
    build: () => at(`/password/reset?token=${FORGED_TOKEN}`),
  },
  "POST /password/reset": {
    access: { kind: "closed", why: "a forged reset link sets no password" },
    refusedAlso: { statuses: [400], why: "the link's token is not valid" },
    build: () => at("/password/reset", { body: form({ token: FORGED_TOKEN, password: "mallory-pass-1" }) }),
  },
  "GET /verify-email": {
    access: { kind: "closed", why: "a forged verification link confirms nothing" },
    refusedAlso: { statuses: [400], why: "the link's token is not valid" },
    build: () => at(`/verify-email?token=${FORGED_TOKEN}`),
  },
  "POST /verify-email/resend": {
    access: signedIn,
    build: async (w) => at("/verify-email/resend", { as: await unverified(w) }),
  },
  "POST /api/auth/password/forgot": {
    access: pub,
    writesAfterAnswer: true,
    build: async (w) => at("/api/auth/password/forgot", { body: { email: (await w.fresh.user()).email } }),
  },
  "POST /api/auth/password/reset": {
    access: { kind: "closed", why: "a forged reset token sets no password" },
    refusedAlso: { statuses: [400], why: "the token is not valid" },
    build: () => at("/api/auth/password/reset", { body: { token: FORGED_TOKEN, password: "mallory-pass-1" } }),
  },
  "POST /api/auth/email/verify": {
    access: { kind: "closed", why: "a forged verification token confirms nothing" },
    refusedAlso: { statuses: [400], why: "the token is not valid" },
    build: () => at("/api/auth/email/verify", { body: { token: FORGED_TOKEN } }),
  },
  "POST /api/me/email/verification": {
    access: signedIn,
    build: async (w) => at("/api/me/email/verification", { as: await unverified(w) }),
  },
  "GET /onboarding": { access: signedIn, build: () => at("/onboarding") },
  "POST /onboarding": {
    access: signedIn,
    build: () => at("/onboarding", { body: form({ roles: ["SPONSOR", "CONTRIBUTOR"] }) }),
  },
  "POST /chain/rpc": {
    access: signedIn,
    build: () => at("/chain/rpc", { body: { jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] } }),
  },

  // ---- admin
  "GET /api/settings": { access: admin, build: () => at("/api/settings") },
  "PATCH /api/settings": {
    access: admin,
    build: () => at("/api/settings", { body: { "instance.name": "DevSponsor" } }),
  },
  "GET /admin/settings": { access: admin, build: () => at("/admin/settings") },
  "POST /admin/settings": {
    access: admin,
    build: () => at("/admin/settings", { body: form({ "instance.name": "DevSponsor" }) }),
  },
  "GET /api/admin/jobs": { access: admin, build: () => at("/api/admin/jobs?state=dead&limit=5") },
  "POST /api/admin/jobs/:id/retry": {
    access: admin,
    build: async (w) => at(`/api/admin/jobs/${await w.fresh.deadJob()}/retry`),
  },
  "GET /api/admin/cron": { access: admin, build: () => at("/api/admin/cron") },
  "POST /api/admin/cron/:id/run": { access: admin, build: () => at("/api/admin/cron/jobs.prune/run") },
  "GET /api/admin/jobs/summary": { access: admin, build: () => at("/api/admin/jobs/summary") },
  "POST /api/admin/jobs/:id/discard": {
    access: admin,
    build: async (w) => at(`/api/admin/jobs/${await w.fresh.deadJob()}/discard`),
  },
  "POST /api/admin/jobs/retry-failed": { access: admin, build: () => at("/api/admin/jobs/retry-failed", { body: {} }) },
  "GET /api/admin/payments": { access: admin, build: () => at("/api/admin/payments?state=FAILED") },
  "POST /api/admin/payments/:id/retry": {
    access: admin,
    build: async (w) => at(`/api/admin/payments/${await failedPayment(w)}/retry`),
  },
  "GET /api/admin/fees": { access: admin, build: () => at("/api/admin/fees") },
  "POST /api/admin/fees/withdraw": {
    access: admin,
    build: async (w) => at("/api/admin/fees/withdraw", { body: { token: await owedFees(w) } }),
  },
  "GET /api/admin/users": { access: admin, build: () => at("/api/admin/users?q=a&page=1") },
  "POST /api/admin/users/:id/admin": {
    access: admin,
    build: async (w) => at(`/api/admin/users/${(await w.fresh.user()).id}/admin`, { body: { isAdmin: true } }),
  },
  "POST /api/admin/users/:id/disabled": {
    access: admin,
    build: async (w) => at(`/api/admin/users/${(await w.fresh.user()).id}/disabled`, { body: { disabled: true } }),
  },
  "POST /api/admin/users/:id/sessions/end": {
    access: admin,
    build: async (w) => at(`/api/admin/users/${(await w.fresh.user()).id}/sessions/end`),
  },
  "GET /api/admin/doctor": { access: admin, build: () => at("/api/admin/doctor") },
  "GET /metrics": {
    access: { kind: "closed", why: "the metrics bearer token (a setting) is the credential, and none is set" },
    build: () => at("/metrics"),
  },
  "GET /admin": { access: admin, build: () => at("/admin") },
  "GET /admin/jobs": { access: admin, build: () => at("/admin/jobs") },
  "POST /admin/jobs/retry-failed": { access: admin, build: () => at("/admin/jobs/retry-failed", { body: form({}) }) },
  "POST /admin/jobs/:id/retry": {
    access: admin,
    build: async (w) => at(`/admin/jobs/${await w.fresh.deadJob()}/retry`, { body: form({}) }),
  },
  "POST /admin/jobs/:id/discard": {
    access: admin,
    build: async (w) => at(`/admin/jobs/${await w.fresh.deadJob()}/discard`, { body: form({}) }),
  },
  "GET /admin/cron": { access: admin, build: () => at("/admin/cron") },
  "POST /admin/cron/:entry/run": { access: admin, build: () => at("/admin/cron/jobs.prune/run", { body: form({}) }) },
  "GET /admin/payments": { access: admin, build: () => at("/admin/payments") },
  "POST /admin/payments/:id/retry": {
    access: admin,
    build: async (w) => at(`/admin/payments/${await failedPayment(w)}/retry`, { body: form({}) }),
  },
  "GET /admin/fees": { access: admin, build: () => at("/admin/fees") },
  "POST /admin/fees/withdraw": {
    access: admin,
    build: async (w) => at("/admin/fees/withdraw", { body: form({ token: await owedFees(w) }) }),
  },
  "GET /admin/users": { access: admin, build: () => at("/admin/users?q=a") },
  "POST /admin/users/:id/admin/grant": {
    access: admin,
    build: async (w) => at(`/admin/users/${(await w.fresh.user()).id}/admin/grant`, { body: form({}) }),
  },
  "POST /admin/users/:id/admin/remove": {
    access: admin,
    build: async (w) => at(`/admin/users/${(await w.fresh.user()).id}/admin/remove`, { body: form({}) }),
  },
  "POST /admin/users/:id/disable": {
    access: admin,
    build: async (w) => at(`/admin/users/${(await w.fresh.user()).id}/disable`, { body: form({}) }),
  },
  "POST /admin/users/:id/enable": {
    access: admin,
    build: async (w) => at(`/admin/users/${(await w.fresh.user()).id}/enable`, { body: form({}) }),
  },
  "POST /admin/users/:id/sessions/end": {
    access: admin,
    build: async (w) => at(`/admin/users/${(await w.fresh.user()).id}/sessions/end`, { body: form({}) }),
  },
  "GET /admin/doctor": { access: admin, build: () => at("/admin/doctor") },
  "GET /api/audit": { access: admin, build: () => at("/api/audit?limit=5") },
  "GET /api/audit/verify": { access: admin, build: () => at("/api/audit/verify") },
  "GET /admin/audit": { access: admin, build: () => at("/admin/audit") },

  // ---- runs: the org's members, never the public, even for a public project
  "GET /api/runs/:id": {
    access: { kind: "org", action: "project.view", membersOnly: true },
    projects: true,
    build: async (w, v) => at(`/api/runs/${await w.fresh.run(w.projects[v].id, w.orgA)}`),
  },
  "GET /api/runs/:id/stream": {
    access: { kind: "org", action: "project.view", membersOnly: true },
    projects: true,
    build: async (w, v) => at(`/api/runs/${await w.fresh.run(w.projects[v].id, w.orgA)}/stream`),
  },

  // ---- funding (a fresh project whose structure is approved)
  "POST /api/projects/:id/fund/quote": proj("project.fund", async (w, v) =>
    at(`/api/projects/${(await w.fresh.project(v, { approved: true })).id}/fund/quote`),
  ),
  "POST /api/projects/:id/fund": proj("project.fund", async (w, v) => {
    const d = await w.fresh.deposited(v);
    return at(`/api/projects/${d.projectId}/fund`, { body: { depositTxHash: d.hash } });
  }),
  "POST /projects/:id/fund/quote": proj("project.fund", async (w, v) =>
    at(`/projects/${(await w.fresh.project(v, { approved: true })).id}/fund/quote`),
  ),
  "POST /projects/:id/fund": proj("project.fund", async (w, v) => {
    const d = await w.fresh.deposited(v);
    return at(`/projects/${d.projectId}/fund`, { body: form({ depositTxHash: d.hash }) });
  }),
  "POST /projects/:id/fund/dev-deposit": proj("project.fund", async (w, v) =>
    at(`/projects/${await w.fresh.quoted(v)}/fund/dev-deposit`),
  ),
  "GET /api/projects/:id/fund/wallet": proj("project.fund", async (w, v) =>
    at(`/api/projects/${await w.fresh.quoted(v)}/fund/wallet`),
  ),
  // ---- the funding tab: amounts, top-ups, close and refund, expiry, yield (fresh projects funded on the dev chain)
  "GET /api/projects/:id/funding": proj("project.view", (w, v) => at(`/api/projects/${w.funded[v].id}/funding`)),
  "GET /projects/:id/funding": proj("project.view", (w, v) => at(`/projects/${w.funded[v].id}/funding`)),
  "POST /api/projects/:id/fund/close-request": proj("project.fund", async (w, v) =>
    at(`/api/projects/${await fundedOnChain(w, v)}/fund/close-request`, { body: {} }),
  ),
  "POST /projects/:id/fund/close-request": proj("project.fund", async (w, v) =>
    at(`/projects/${await fundedOnChain(w, v)}/fund/close-request`, { body: form({}) }),
  ),
  "POST /api/projects/:id/fund/close": proj("project.fund", async (w, v) =>
    at(`/api/projects/${await expiredOnChain(w, v)}/fund/close`),
  ),
  "POST /projects/:id/fund/close": proj("project.fund", async (w, v) =>
    at(`/projects/${await expiredOnChain(w, v)}/fund/close`, { body: form({}) }),
  ),
  "POST /api/projects/:id/fund/expiry": proj("project.fund", async (w, v) =>
    at(`/api/projects/${(await activeProject(w, v)).id}/fund/expiry`, {
      body: { expiresAt: new Date(Date.now() + 86_400_000).toISOString() },
    }),
  ),
  "POST /projects/:id/fund/expiry": proj("project.fund", async (w, v) =>
    at(`/projects/${(await activeProject(w, v)).id}/fund/expiry`, { body: form({ expiresAt: "2099-01-01" }) }),
  ),
  "POST /api/projects/:id/fund/mode": proj("project.fund", async (w, v) =>
    at(`/api/projects/${await fundedOnChain(w, v, { token: true })}/fund/mode`, { body: { mode: "YIELD" } }),
  ),
  "POST /projects/:id/fund/mode": proj("project.fund", async (w, v) =>
    at(`/projects/${await fundedOnChain(w, v, { token: true })}/fund/mode`, { body: form({ mode: "YIELD" }) }),
  ),
  "POST /api/projects/:id/fund/harvest": proj("project.fund", async (w, v) =>
    at(`/api/projects/${await fundedOnChain(w, v, { token: true, yieldMode: true })}/fund/harvest`),
  ),
  "POST /projects/:id/fund/harvest": proj("project.fund", async (w, v) =>
    at(`/projects/${await fundedOnChain(w, v, { token: true, yieldMode: true })}/fund/harvest`, { body: form({}) }),
  ),
  "POST /api/tasks/:id/points": proj("project.fund", async (w, v) =>
    at(`/api/tasks/${(await activeProject(w, v)).taskId}/points`, { body: { points: 99 } }),
  ),
  "POST /tasks/:id/points": proj("project.fund", async (w, v) =>
    at(`/tasks/${(await activeProject(w, v)).taskId}/points`, { body: form({ points: "99" }) }),
  ),

  // ---- orgs
  // signed out, the front page is the explore board (a redirect there); signed in, one's own home
  "GET /": { access: pub, build: () => at("/") },
  "GET /orgs": { access: signedIn, build: () => at("/orgs?all=1") },
  "GET /orgs/new": { access: signedIn, build: () => at("/orgs/new") },
  "POST /orgs": { access: signedIn, build: () => at("/orgs", { body: form({ name: "Another org" }) }) },
  "GET /orgs/:id": { ...org("org.view"), build: (w) => at(`/orgs/${w.orgA}`) },
  "POST /orgs/:id": {
    ...org("org.update"),
    build: (w) => at(`/orgs/${w.orgA}`, { body: form({ name: w.marker, description: "A" }) }),
  },
  "GET /orgs/:id/logo": { ...org("org.view"), build: (w) => at(`/orgs/${w.orgA}/logo`) },
  "GET /orgs/:id/members": { ...org("members.view"), build: (w) => at(`/orgs/${w.orgA}/members`) },
  "POST /orgs/:id/members/:userId/role": {
    ...org("members.changeRole"),
    build: async (w) =>
      at(`/orgs/${w.orgA}/members/${(await w.fresh.member()).id}/role`, { body: form({ role: "SPONSOR" }) }),
  },
  "POST /orgs/:id/members/:userId/remove": {
    ...org("members.remove"),
    build: async (w) => at(`/orgs/${w.orgA}/members/${(await w.fresh.member()).id}/remove`),
  },
  "GET /api/orgs": { access: signedIn, build: () => at("/api/orgs") },
  "POST /api/orgs": { access: signedIn, build: () => at("/api/orgs", { body: { name: "Another org" } }) },
  "GET /api/orgs/:id": { ...org("org.view"), build: (w) => at(`/api/orgs/${w.orgA}`) },
  "PATCH /api/orgs/:id": {
    ...org("org.update"),
    build: (w) => at(`/api/orgs/${w.orgA}`, { body: { description: "A" } }),
  },
  "PUT /api/orgs/:id/logo": {
    ...org("org.update"),
    build: (w) =>
      at(`/api/orgs/${w.orgA}/logo`, { body: multipart("logo", new File([PNG], "l.png", { type: "image/png" })) }),
  },
  "GET /api/orgs/:id/members": { ...org("members.view"), build: (w) => at(`/api/orgs/${w.orgA}/members`) },
  "PATCH /api/orgs/:id/members/:userId": {
    ...org("members.changeRole"),
    build: async (w) => at(`/api/orgs/${w.orgA}/members/${(await w.fresh.member()).id}`, { body: { role: "SPONSOR" } }),
  },
  "DELETE /api/orgs/:id/members/:userId": {
    ...org("members.remove"),
    build: async (w) => at(`/api/orgs/${w.orgA}/members/${(await w.fresh.member()).id}`),
  },

  // ---- invites
  "GET /orgs/:id/invites": { ...org("members.invite"), build: (w) => at(`/orgs/${w.orgA}/invites`) },
  "POST /orgs/:id/invites": {
    ...org("members.invite"),
    build: (w) =>
      at(`/orgs/${w.orgA}/invites`, {
        body: form({ email: `i-${crypto.randomUUID().slice(0, 8)}@walk.test`, role: "CONTRIBUTOR" }),
      }),
  },
  "POST /orgs/:id/invites/:inviteId/revoke": {
    ...org("members.invite"),
    build: async (w) => at(`/orgs/${w.orgA}/invites/${(await w.fresh.invite()).id}/revoke`),
  },
  "GET /invites": { access: signedIn, build: () => at("/invites") },
  "GET /invites/accept": {
    access: tokenHolder,
    build: async (w) => {
      const i = await w.fresh.invite();
      return at(`/invites/accept?token=${encodeURIComponent(i.token)}`, { as: i.invitee });
    },
  },
  "POST /invites/accept": {
    access: tokenHolder,
    build: async (w) => {
      const i = await w.fresh.invite();
      return at("/invites/accept", { body: form({ token: i.token }), as: i.invitee });
    },
  },
  "POST /invites/decline": {
    access: tokenHolder,
    build: async (w) => {
      const i = await w.fresh.invite();
      return at("/invites/decline", { body: form({ token: i.token }), as: i.invitee });
    },
  },
  "POST /invites/:inviteId/accept": {
    access: invitee,
    build: async (w) => {
      const i = await w.fresh.invite();
      return at(`/invites/${i.id}/accept`, { as: i.invitee });
    },
  },
  "POST /invites/:inviteId/decline": {
    access: invitee,
    build: async (w) => {
      const i = await w.fresh.invite();
      return at(`/invites/${i.id}/decline`, { as: i.invitee });
    },
  },
  "GET /api/invites": { access: signedIn, build: () => at("/api/invites") },
  "GET /api/orgs/:id/invites": { ...org("members.invite"), build: (w) => at(`/api/orgs/${w.orgA}/invites`) },
  "POST /api/orgs/:id/invite": {
    ...org("members.invite"),
    build: (w) =>
      at(`/api/orgs/${w.orgA}/invite`, {
        body: { email: `i-${crypto.randomUUID().slice(0, 8)}@walk.test`, role: "sponsor" },
      }),
  },
  "POST /api/orgs/:id/invite/:inviteId/accept": {
    access: invitee,
    build: async (w) => {
      const i = await w.fresh.invite();
      return at(`/api/orgs/${w.orgA}/invite/${i.id}/accept`, { body: {}, as: i.invitee });
    },
  },
  "POST /api/orgs/:id/invite/:inviteId/decline": {
    access: invitee,
    build: async (w) => {
      const i = await w.fresh.invite();
      return at(`/api/orgs/${w.orgA}/invite/${i.id}/decline`, { body: {}, as: i.invitee });
    },
  },
  "DELETE /api/orgs/:id/invite/:inviteId": {
    ...org("members.invite"),
    build: async (w) => at(`/api/orgs/${w.orgA}/invite/${(await w.fresh.invite()).id}`),
  },

  // ---- the caller's own account (ids are A's owner's)
  "GET /profile": { access: signedIn, build: () => at("/profile") },
  "POST /profile": {
    access: signedIn,
    build: (w) => at("/profile", { body: form({ name: w.users.owner.name, roles: ["SPONSOR", "CONTRIBUTOR"] }) }),
  },
  "POST /profile/wallets/challenge": {
    access: signedIn,
    build: () => at("/profile/wallets/challenge", { body: form({ address: `0x${"cd".repeat(20)}`, chainId: "1" }) }),
  },
  "POST /profile/wallets": {
    access: self,
    refusedAlso: ownChallenge,
    build: async (w) => at("/profile/wallets", { body: form(await w.fresh.walletLink(w.users.owner)) }),
  },
  "POST /profile/wallets/:walletId/payout": {
    access: self,
    sessionOnly: true,
    build: async (w) => at(`/profile/wallets/${(await w.fresh.wallet(w.users.owner)).id}/payout`),
  },
  "POST /profile/wallets/:walletId/remove": {
    access: self,
    build: async (w) => at(`/profile/wallets/${(await w.fresh.wallet(w.users.owner)).id}/remove`),
  },
  "POST /profile/api-keys": {
    access: signedIn,
    sessionOnly: true,
    build: () => at("/profile/api-keys", { body: form({ name: "walk", scopes: "read" }) }),
  },
  "POST /profile/api-keys/:keyId/revoke": {
    access: self,
    build: async (w) => at(`/profile/api-keys/${await w.fresh.apiKey(w.users.owner)}/revoke`),
  },
  "POST /profile/sessions/:sessionId/revoke": {
    access: self,
    build: async (w) => at(`/profile/sessions/${await w.fresh.session(w.users.owner)}/revoke`),
  },
  // the request carries the fresh user's own password, and the session it runs in is replaced
  "POST /profile/reauthenticate": {
    access: signedIn,
    sessionOnly: true,
    build: async (w) => {
      const u = await w.fresh.user();
      return at("/profile/reauthenticate", { body: form({ password: u.password }), as: u });
    },
  },
  "POST /profile/password": {
    access: signedIn,
    sessionOnly: true,
    build: async (w) => {
      const u = await w.fresh.user();
      const body = form({ currentPassword: u.password, newPassword: "another-long-password-1" });
      return at("/profile/password", { body, as: u });
    },
  },
  "POST /api/me/reauthenticate": {
    access: signedIn,
    sessionOnly: true,
    build: async (w) => {
      const u = await w.fresh.user();
      return at("/api/me/reauthenticate", { body: { password: u.password }, as: u });
    },
  },
  "POST /api/me/password": {
    access: signedIn,
    sessionOnly: true,
    build: async (w) => {
      const u = await w.fresh.user();
      const body = { currentPassword: u.password, newPassword: "another-long-password-1" };
      return at("/api/me/password", { body, as: u });
    },
  },
  "GET /profile/export": { access: signedIn, build: () => at("/profile/export") },
  "POST /profile/delete": {
    access: signedIn,
    sessionOnly: true,
    doneAt: "/signin",
    build: async (w) => at("/profile/delete", { body: form({ confirm: "DELETE" }), as: await w.fresh.user() }),
  },
  "GET /api/me": { access: signedIn, build: () => at("/api/me") },
  "PATCH /api/me": { access: signedIn, build: (w) => at("/api/me", { body: { name: w.users.owner.name } }) },
  "GET /api/me/export": { access: signedIn, build: () => at("/api/me/export") },
  "DELETE /api/me": {
    access: signedIn,
    sessionOnly: true,
    build: async (w) => at("/api/me", { body: { confirm: "DELETE" }, as: await w.fresh.user() }),
  },
  "GET /api/me/wallets": { access: signedIn, build: () => at("/api/me/wallets") },
  "POST /api/me/wallets/challenge": {
    access: signedIn,
    build: () => at("/api/me/wallets/challenge", { body: { address: `0x${"cd".repeat(20)}`, chainId: 1 } }),
  },
  "POST /api/me/wallets": {
    access: self,
    refusedAlso: ownChallenge,
    build: async (w) => at("/api/me/wallets", { body: await w.fresh.walletLink(w.users.owner) }),
  },
  "POST /api/me/wallets/:walletId/payout": {
    access: self,
    sessionOnly: true,
    build: async (w) => at(`/api/me/wallets/${(await w.fresh.wallet(w.users.owner)).id}/payout`),
  },
  "DELETE /api/me/wallets/:walletId": {
    access: self,
    build: async (w) => at(`/api/me/wallets/${(await w.fresh.wallet(w.users.owner)).id}`),
  },
  "GET /api/me/api-keys": { access: signedIn, build: () => at("/api/me/api-keys") },
  "POST /api/me/api-keys": {
    access: signedIn,
    sessionOnly: true,
    build: () => at("/api/me/api-keys", { body: { name: "walk", scopes: ["read"] } }),
  },
  "DELETE /api/me/api-keys/:keyId": {
    access: self,
    build: async (w) => at(`/api/me/api-keys/${await w.fresh.apiKey(w.users.owner)}`),
  },
  "GET /api/me/sessions": { access: signedIn, build: () => at("/api/me/sessions") },
  "DELETE /api/me/sessions/:sessionId": {
    access: self,
    build: async (w) => at(`/api/me/sessions/${await w.fresh.session(w.users.owner)}`),
  },

  // ---- notifications
  "GET /notifications/bell": { access: signedIn, build: () => at("/notifications/bell") },
  "GET /events/stream": { access: signedIn, build: () => at("/events/stream") },
  "GET /notifications": { access: signedIn, build: () => at("/notifications") },
  "POST /notifications/read-all": { access: signedIn, build: () => at("/notifications/read-all") },
  "POST /notifications/:id/read": { access: self, build: (w) => at(`/notifications/${w.notificationId}/read`) },
  "GET /api/notifications": { access: signedIn, build: () => at("/api/notifications?limit=5") },
  "GET /api/me/notifications": { access: signedIn, build: () => at("/api/me/notifications") },
  "POST /api/notifications/read-all": { access: signedIn, build: () => at("/api/notifications/read-all") },
  "POST /api/notifications/:id/read": { access: self, build: (w) => at(`/api/notifications/${w.notificationId}/read`) },
  "GET /notifications/preferences": { access: signedIn, build: () => at("/notifications/preferences") },
  "POST /notifications/preferences": {
    access: signedIn,
    build: () =>
      at("/notifications/preferences", { body: form({ emailNotifications: "true", "inApp.PAYMENT": "true" }) }),
  },
  "GET /api/me/notification-preferences": { access: signedIn, build: () => at("/api/me/notification-preferences") },
  "PUT /api/me/notification-preferences": {
    access: signedIn,
    build: () => at("/api/me/notification-preferences", { body: { preferences: { tasks: { email: false } } } }),
  },

  // ---- audit and AI calls
  "GET /api/orgs/:id/audit": { ...org("audit.view"), build: (w) => at(`/api/orgs/${w.orgA}/audit?limit=5`) },
  "GET /orgs/:id/audit": { ...org("audit.view"), build: (w) => at(`/orgs/${w.orgA}/audit`) },
  "GET /api/orgs/:id/ai-calls": { ...org("audit.view"), build: (w) => at(`/api/orgs/${w.orgA}/ai-calls`) },
  "GET /api/projects/:id/ai-calls": proj("audit.view", (w, v) => at(`/api/projects/${w.projects[v].id}/ai-calls`)),
  "GET /projects/:id/ai-calls": proj("audit.view", (w, v) => at(`/projects/${w.projects[v].id}/ai-calls`)),

  // ---- projects
  "POST /api/orgs/:id/projects": {
    ...org("project.create"),
    build: (w) => at(`/api/orgs/${w.orgA}/projects`, { body: { title: "New" } }),
  },
  "GET /api/projects": { access: signedIn, build: (w) => at(`/api/projects?orgId=${w.orgA}`) },
  "GET /api/projects/:id": proj("project.view", (w, v) => at(`/api/projects/${w.projects[v].id}`)),
  "PATCH /api/projects/:id": proj("project.update", (w, v) =>
    at(`/api/projects/${w.projects[v].id}`, { body: { description: "d" } }),
  ),
  "GET /api/projects/:id/points": proj("project.view", (w, v) => at(`/api/projects/${w.projects[v].id}/points`)),
  // ---- project members and invites
  "GET /projects/:id/members": proj("project.invite", (w, v) => at(`/projects/${w.projects[v].id}/members`)),
  "GET /api/projects/:id/members": proj("project.invite", (w, v) => at(`/api/projects/${w.projects[v].id}/members`)),
  "GET /api/projects/:id/invites": proj("project.invite", (w, v) => at(`/api/projects/${w.projects[v].id}/invites`)),
  "POST /projects/:id/invites": proj("project.invite", (w, v) =>
    at(`/projects/${w.projects[v].id}/invites`, {
      body: form({ githubUsername: `walk-${crypto.randomUUID().slice(0, 8)}`, role: "CONTRIBUTOR" }),
    }),
  ),
  "POST /api/projects/:id/invite": proj("project.invite", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/invite`, {
      body: { githubUsername: `walk-${crypto.randomUUID().slice(0, 8)}`, role: "CONTRIBUTOR" },
    }),
  ),
  "POST /projects/:id/invites/:inviteId/revoke": proj("project.invite", async (w, v) =>
    at(`/projects/${w.projects[v].id}/invites/${await projectInvite(w, w.projects[v].id)}/revoke`, { body: form({}) }),
  ),
  "DELETE /api/projects/:id/invite/:inviteId": proj("project.invite", async (w, v) =>
    at(`/api/projects/${w.projects[v].id}/invite/${await projectInvite(w, w.projects[v].id)}`),
  ),
  "POST /projects/:id/members/:userId/role": proj("project.invite", async (w, v) =>
    at(`/projects/${w.projects[v].id}/members/${await projectMember(w, w.projects[v].id)}/role`, {
      body: form({ role: "SPONSOR" }),
    }),
  ),
  "PATCH /api/projects/:id/members/:userId": proj("project.invite", async (w, v) =>
    at(`/api/projects/${w.projects[v].id}/members/${await projectMember(w, w.projects[v].id)}`, {
      body: { role: "SPONSOR" },
    }),
  ),
  "POST /projects/:id/members/:userId/remove": proj("project.invite", async (w, v) =>
    at(`/projects/${w.projects[v].id}/members/${await projectMember(w, w.projects[v].id)}/remove`, { body: form({}) }),
  ),
  "DELETE /api/projects/:id/members/:userId": proj("project.invite", async (w, v) =>
    at(`/api/projects/${w.projects[v].id}/members/${await projectMember(w, w.projects[v].id)}`),
  ),
  "GET /projects": { access: signedIn, build: () => at("/projects") },
  "GET /orgs/:id/projects": { ...org("org.view"), build: (w) => at(`/orgs/${w.orgA}/projects`) },
  "GET /orgs/:id/projects/new": { ...org("project.create"), build: (w) => at(`/orgs/${w.orgA}/projects/new`) },
  "POST /orgs/:id/projects": {
    ...org("project.create"),
    build: (w) => at(`/orgs/${w.orgA}/projects`, { body: form({ title: "New" }) }),
  },
  "GET /projects/:id": proj("project.view", (w, v) => at(`/projects/${w.projects[v].id}`), {
    access: readableSignedOut,
  }),
  "POST /projects/:id/settings": proj("project.update", (w, v) =>
    at(`/projects/${w.projects[v].id}/settings`, { body: form({ verificationRuns: "2" }) }),
  ),

  // ---- milestones and tasks
  "GET /api/projects/:id/milestones": proj("project.view", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/milestones`),
  ),
  "POST /api/projects/:id/milestones": proj("project.manageMilestones", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/milestones`, { body: { title: "added" } }),
  ),
  "POST /api/projects/:id/milestones/reorder": proj("project.manageMilestones", async (w, v) => {
    const p = await w.fresh.project(v);
    const tree = (await (await w.users.owner.request("GET", `/api/projects/${p.id}/milestones`)).json()) as {
      milestones: { id: string }[];
    };
    return at(`/api/projects/${p.id}/milestones/reorder`, {
      body: { ids: tree.milestones.map((m) => m.id).reverse() },
    });
  }),
  "PATCH /api/milestones/:id": proj("project.manageMilestones", (w, v) =>
    at(`/api/milestones/${w.projects[v].milestoneId}`, { body: { title: "first" } }),
  ),
  "DELETE /api/milestones/:id": proj("project.manageMilestones", async (w, v) =>
    at(`/api/milestones/${(await w.fresh.project(v)).milestoneId}`),
  ),
  "GET /api/milestones/:id/tasks": proj("project.view", (w, v) =>
    at(`/api/milestones/${w.projects[v].milestoneId}/tasks`),
  ),
  "POST /api/milestones/:id/tasks": proj("project.manageMilestones", (w, v) =>
    at(`/api/milestones/${w.projects[v].milestoneId}/tasks`, {
      body: { title: "added", points: 2, acceptanceCriteria: ["ok"] },
    }),
  ),
  "PATCH /api/tasks/:id": proj("project.manageMilestones", (w, v) =>
    at(`/api/tasks/${w.projects[v].taskId}`, { body: { title: "task" } }),
  ),
  "DELETE /api/tasks/:id": proj("project.manageMilestones", async (w, v) =>
    at(`/api/tasks/${(await w.fresh.project(v)).taskId}`),
  ),
  "GET /api/projects/:id/drafts": proj("project.view", (w, v) => at(`/api/projects/${w.projects[v].id}/drafts`)),
  "GET /api/projects/:id/drafts/:version": proj("project.view", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/drafts/${w.projects[v].version}`),
  ),
  "POST /api/projects/:id/drafts/:version/restore": proj("project.manageMilestones", async (w, v) => {
    const p = await w.fresh.project(v);
    return at(`/api/projects/${p.id}/drafts/${p.version}/restore`);
  }),
  "POST /api/projects/:id/approve-structure": proj("project.approveStructure", async (w, v) =>
    at(`/api/projects/${(await w.fresh.project(v)).id}/approve-structure`),
  ),
  "GET /projects/:id/milestones": proj("project.view", (w, v) =>
    at(`/projects/${w.projects[v].id}/milestones?run=${w.runId}`),
  ),
  "GET /milestones/:id": proj("project.view", (w, v) => at(`/milestones/${w.projects[v].milestoneId}`)),
  "POST /projects/:id/milestones/generate": proj("project.manageMilestones", (w, v) =>
    at(`/projects/${w.projects[v].id}/milestones/generate`),
  ),
  "POST /milestones/:id/regenerate": proj("project.manageMilestones", (w, v) =>
    at(`/milestones/${w.projects[v].milestoneId}/regenerate`),
  ),
  "POST /projects/:id/approve": proj("project.approveStructure", async (w, v) =>
    at(`/projects/${(await w.fresh.project(v)).id}/approve`),
  ),
  "POST /projects/:id/milestones/new": proj("project.manageMilestones", (w, v) =>
    at(`/projects/${w.projects[v].id}/milestones/new`, { body: form({ title: "added" }) }),
  ),
  "POST /projects/:id/drafts/:version/restore": proj("project.manageMilestones", async (w, v) => {
    const p = await w.fresh.project(v);
    return at(`/projects/${p.id}/drafts/${p.version}/restore`);
  }),
  "POST /milestones/:id/edit": proj("project.manageMilestones", (w, v) =>
    at(`/milestones/${w.projects[v].milestoneId}/edit`, { body: form({ title: "first" }) }),
  ),
  "POST /milestones/:id/move": proj("project.manageMilestones", (w, v) =>
    at(`/milestones/${w.projects[v].milestoneId}/move?to=1`),
  ),
  "POST /milestones/:id/delete": proj("project.manageMilestones", async (w, v) =>
    at(`/milestones/${(await w.fresh.project(v)).milestoneId}/delete`),
  ),
  "POST /milestones/:id/tasks/new": proj("project.manageMilestones", (w, v) =>
    at(`/milestones/${w.projects[v].milestoneId}/tasks/new`, {
      body: form({ title: "added", points: "2", acceptanceCriteria: "ok" }),
    }),
  ),
  "POST /tasks/:id/edit": proj("project.manageMilestones", (w, v) =>
    at(`/tasks/${w.projects[v].taskId}/edit`, { body: form({ title: "task" }) }),
  ),
  "POST /tasks/:id/move": proj("project.manageMilestones", (w, v) => at(`/tasks/${w.projects[v].taskId}/move?to=1`)),
  "POST /tasks/:id/delete": proj("project.manageMilestones", async (w, v) =>
    at(`/tasks/${(await w.fresh.project(v)).taskId}/delete`),
  ),
  "POST /api/projects/:id/generate-milestones": proj("project.manageMilestones", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/generate-milestones`),
  ),
  "POST /api/milestones/:id/regenerate": proj("project.manageMilestones", (w, v) =>
    at(`/api/milestones/${w.projects[v].milestoneId}/regenerate`),
  ),

  // ---- tasks: reads follow the project's visibility; writes act on a fresh task of a funded project
  "GET /api/tasks/:id": proj("project.view", (w, v) => at(`/api/tasks/${w.funded[v].taskId}`)),
  "GET /api/projects/:id/tasks": proj("project.view", (w, v) => at(`/api/projects/${w.funded[v].id}/tasks`)),
  "POST /api/tasks/:id/claim": onTask(claimable, "open", (id) => `/api/tasks/${id}/claim`),
  "POST /api/tasks/:id/unclaim": onTask(claimer, "claimed", (id) => `/api/tasks/${id}/unclaim`),
  "POST /api/tasks/:id/release": onTask(review, "claimed", (id) => `/api/tasks/${id}/release`, {
    body: { reason: "stalled" },
  }),
  "POST /api/tasks/:id/work": onTask(claimer, "claimed", (id) => `/api/tasks/${id}/work`, {
    body: { branch: "main" },
  }),
  "POST /api/tasks/:id/verify": onTask(reviewerOrClaimer, "failed", (id) => `/api/tasks/${id}/verify`),
  "POST /api/tasks/:id/approve": onTask(review, "verified", (id) => `/api/tasks/${id}/approve`),
  "POST /api/tasks/:id/reject": onTask(review, "verified", (id) => `/api/tasks/${id}/reject`, {
    body: { comment: "The README needs an example." },
  }),
  // acceptance tests and hidden bundles: the draft project's task (no repository to pin to before approval)
  "PUT /api/tasks/:id/acceptance": proj("project.manageMilestones", (w, v) =>
    at(`/api/tasks/${w.projects[v].taskId}/acceptance`, {
      body: { acceptanceTests: ["test > a.test.ts > adds"], testFiles: ["a.test.ts"] },
    }),
  ),
  "POST /api/tasks/:id/test-bundle": proj("project.manageMilestones", (w, v) =>
    at(`/api/tasks/${w.projects[v].taskId}/test-bundle`, { body: multipart("bundle", testBundle()) }),
  ),
  "DELETE /api/tasks/:id/test-bundle": proj("project.manageMilestones", async (w, v) => {
    const { taskId } = await w.fresh.project(v);
    await w.users.owner.request("POST", `/api/tasks/${taskId}/test-bundle`, {
      body: multipart("bundle", testBundle()),
    });
    return at(`/api/tasks/${taskId}/test-bundle`);
  }),
  "POST /tasks/:id/acceptance": proj("project.manageMilestones", (w, v) =>
    at(`/tasks/${w.projects[v].taskId}/acceptance`, { body: form({ acceptanceTests: "test > a.test.ts > adds" }) }),
  ),
  "POST /tasks/:id/test-bundle": proj("project.manageMilestones", (w, v) =>
    at(`/tasks/${w.projects[v].taskId}/test-bundle`, { body: multipart("bundle", testBundle()) }),
  ),
  "POST /tasks/:id/test-bundle/delete": proj("project.manageMilestones", async (w, v) => {
    const { taskId } = await w.fresh.project(v);
    await w.users.owner.request("POST", `/api/tasks/${taskId}/test-bundle`, {
      body: multipart("bundle", testBundle()),
    });
    return at(`/tasks/${taskId}/test-bundle/delete`);
  }),
  "GET /api/me/tasks": { access: signedIn, rightful: "contributor", build: () => at("/api/me/tasks") },
  "GET /api/me/earnings": { access: signedIn, rightful: "contributor", build: () => at("/api/me/earnings") },
  "GET /tasks/:id": proj("project.view", (w, v) => at(`/tasks/${w.funded[v].taskId}`), { access: readableSignedOut }),
  "GET /tasks/:id/timeline": proj("project.view", (w, v) => at(`/tasks/${w.funded[v].taskId}/timeline`)),
  "POST /tasks/:id/claim": onTask(claimable, "open", (id) => `/tasks/${id}/claim`),
  "POST /tasks/:id/unclaim": onTask(claimer, "claimed", (id) => `/tasks/${id}/unclaim`),
  "POST /tasks/:id/release": onTask(review, "claimed", (id) => `/tasks/${id}/release`),
  // the claimer's own "Verify again" here; a reviewer's on the API route
  "POST /tasks/:id/verify": onTask(
    reviewerOrClaimer,
    "failed",
    (id) => `/tasks/${id}/verify`,
    {},
    {
      rightful: "contributor",
    },
  ),
  "POST /tasks/:id/approve": onTask(review, "verified", (id) => `/tasks/${id}/approve`),
  "POST /tasks/:id/reject": onTask(review, "verified", (id) => `/tasks/${id}/reject`, {
    body: form({ comment: "The README needs an example." }),
  }),
  "POST /tasks/:id/work": onTask(claimer, "claimed", (id) => `/tasks/${id}/work`, { body: form({ branch: "main" }) }),
  "GET /projects/:id/tasks": proj("project.view", (w, v) => at(`/projects/${w.funded[v].id}/tasks`)),
  "GET /me/tasks": { access: signedIn, rightful: "contributor", build: () => at("/me/tasks") },
  "GET /me/earnings": { access: signedIn, rightful: "contributor", build: () => at("/me/earnings") },

  // ---- documents
  "POST /api/projects/:id/documents": proj("documents.manage", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/documents`, { body: multipart("file", markdownFile("# Added\n")) }),
  ),
  "GET /api/projects/:id/documents": proj("documents.view", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/documents`),
  ),
  "GET /api/documents/:id": proj("documents.view", (w, v) => at(`/api/documents/${w.projects[v].documentId}`)),
  "PUT /api/documents/:id": proj("documents.manage", (w, v) =>
    at(`/api/documents/${w.projects[v].documentId}`, { body: multipart("file", markdownFile("# Replaced\n")) }),
  ),
  "DELETE /api/documents/:id": proj("documents.manage", async (w, v) =>
    at(`/api/documents/${await w.fresh.document(w.projects[v].id)}`),
  ),
  "POST /api/documents/:id/reindex": proj("documents.manage", (w, v) =>
    at(`/api/documents/${w.projects[v].documentId}/reindex`),
  ),
  "GET /api/projects/:id/search": proj("documents.view", (w, v) =>
    at(`/api/projects/${w.projects[v].id}/search?q=notes&k=2`),
  ),
  "GET /projects/:id/documents": proj("documents.view", (w, v) => at(`/projects/${w.projects[v].id}/documents`)),
  "GET /documents/:id/row": proj("documents.view", (w, v) => at(`/documents/${w.projects[v].documentId}/row`)),
  "POST /projects/:id/documents": proj("documents.manage", (w, v) =>
    at(`/projects/${w.projects[v].id}/documents`, { body: multipart("file", markdownFile("# Form\n")) }),
  ),
  "POST /documents/:id/delete": proj("documents.manage", async (w, v) =>
    at(`/documents/${await w.fresh.document(w.projects[v].id)}/delete`),
  ),
  "POST /documents/:id/reindex": proj("documents.manage", (w, v) =>
    at(`/documents/${w.projects[v].documentId}/reindex`),
  ),

  // ---- AI sidebar: the ids are in the body
  "POST /api/ai/sidebar": proj("ai.use", (w, v) =>
    at("/api/ai/sidebar", { body: { message: "what is left?", taskId: w.projects[v].taskId } }),
  ),
  "POST /sidebar/ask": proj("ai.use", (w, v) =>
    at("/sidebar/ask", {
      body: form({
        message: "what is left?",
        milestoneId: w.projects[v].milestoneId,
        back: `/projects/${w.projects[v].id}`,
      }),
    }),
  ),

  // ---- explore board: public, and only ever public projects (src/explore/explore.test.ts checks that)
  "GET /explore": { access: pub, build: () => at("/explore?sort=points") },
  "GET /api/explore": { access: pub, build: () => at("/api/explore?minPoints=1") },
  // ---- GitHub App (src/github/routes.tsx): deliveries are signed, the manifest callback needs its one-time state
  "POST /webhooks/github": {
    access: { kind: "closed", why: "an unsigned delivery is refused before its body is read" },
    refusedAlso: { statuses: [503], why: "the walk's instance has no webhook secret, so no delivery can be verified" },
    build: () =>
      at("/webhooks/github", {
        body: { zen: "walk" },
        headers: { "x-github-event": "ping", "x-github-delivery": "walk-delivery" },
      }),
  },
  "POST /admin/github/manifest": {
    access: admin,
    build: () => at("/admin/github/manifest", { body: form({ github_org: "" }) }),
  },
  "GET /admin/github/callback": {
    access: { kind: "closed", why: "a forged state configures no App" },
    build: () => at("/admin/github/callback?code=forged&state=forged"),
  },
  "GET /api/admin/github/deliveries": { access: admin, build: () => at("/api/admin/github/deliveries") },
  "GET /api/tasks/:id/github": proj("project.view", (w, v) => at(`/api/tasks/${w.funded[v].taskId}/github`)),
  "POST /api/tasks/:id/github/issue": proj("project.manageMilestones", async (w, v) => {
    // The project's repository as the App's installation would have linked it (by its GitHub repository id).
    const name = `walk/${w.funded[v].id}`;
    await w.t.ctx.db
      .insert(githubRepositories)
      .values({
        repoId: v === "private" ? 7001 : 7002,
        installationId: 1,
        fullName: name,
        projectId: w.funded[v].id,
        eventAt: new Date(),
      })
      .onConflictDoNothing();
    return at(`/api/tasks/${w.funded[v].taskId}/github/issue`, {
      body: { url: `https://github.com/${name}/issues/1` },
    });
  }),
  // ---- outgoing webhooks
  "GET /orgs/:id/webhooks": { ...org("webhooks.view"), build: (w) => at(`/orgs/${w.orgA}/webhooks`) },
  "POST /orgs/:id/webhooks": {
    ...org("webhooks.manage"),
    build: (w) =>
      at(`/orgs/${w.orgA}/webhooks`, {
        body: form({ name: w.marker, url: "https://93.184.215.14/form", format: "slack", enabled: "on" }),
      }),
  },
  "GET /orgs/:id/webhooks/:webhookId": {
    ...org("webhooks.view"),
    build: async (w) => at(`/orgs/${w.orgA}/webhooks/${await webhookOf(w)}`),
  },
  "POST /orgs/:id/webhooks/:webhookId": {
    ...org("webhooks.manage"),
    build: async (w) =>
      at(`/orgs/${w.orgA}/webhooks/${await webhookOf(w)}`, {
        body: form({ name: w.marker, url: "https://93.184.215.14/edit", format: "discord", events: "task.*" }),
      }),
  },
  "POST /orgs/:id/webhooks/:webhookId/delete": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/delete`),
  },
  "POST /orgs/:id/webhooks/:webhookId/test": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/test`),
  },
  "POST /orgs/:id/webhooks/:webhookId/secret": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/secret`),
  },
  "POST /orgs/:id/webhooks/:webhookId/enable": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/enable`),
  },
  "GET /orgs/:id/webhooks/:webhookId/deliveries/:deliveryId": {
    ...org("webhooks.view"),
    build: async (w) => {
      const d = await webhookDelivery(w);
      return at(`${d.base}/deliveries/${d.delivery}`);
    },
  },
  "POST /orgs/:id/webhooks/:webhookId/deliveries/:deliveryId/redeliver": {
    ...org("webhooks.manage"),
    build: async (w) => {
      const d = await webhookDelivery(w);
      return at(`${d.base}/deliveries/${d.delivery}/redeliver`);
    },
  },
  "GET /api/orgs/:id/webhooks": { ...org("webhooks.view"), build: (w) => at(`/api/orgs/${w.orgA}/webhooks`) },
  "POST /api/orgs/:id/webhooks": {
    ...org("webhooks.manage"),
    build: (w) =>
      at(`/api/orgs/${w.orgA}/webhooks`, {
        body: { name: w.marker, url: "https://93.184.215.14/api", format: "generic", events: ["task.*"] },
      }),
  },
  "GET /api/orgs/:id/webhooks/:webhookId": {
    ...org("webhooks.view"),
    build: async (w) => at(`/api/orgs/${w.orgA}/webhooks/${await webhookOf(w)}`),
  },
  "PATCH /api/orgs/:id/webhooks/:webhookId": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/api/orgs/${w.orgA}/webhooks/${await webhookOf(w)}`, { body: { name: w.marker } }),
  },
  "DELETE /api/orgs/:id/webhooks/:webhookId": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/api/orgs/${w.orgA}/webhooks/${await webhookOf(w)}`),
  },
  "POST /api/orgs/:id/webhooks/:webhookId/test": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/api/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/test`),
  },
  "POST /api/orgs/:id/webhooks/:webhookId/secret": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/api/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/secret`),
  },
  "POST /api/orgs/:id/webhooks/:webhookId/enable": {
    ...org("webhooks.manage"),
    build: async (w) => at(`/api/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/enable`),
  },
  "GET /api/orgs/:id/webhooks/:webhookId/deliveries": {
    ...org("webhooks.view"),
    build: async (w) => at(`/api/orgs/${w.orgA}/webhooks/${await webhookOf(w)}/deliveries`),
  },
  "GET /api/orgs/:id/webhooks/:webhookId/deliveries/:deliveryId": {
    ...org("webhooks.view"),
    build: async (w) => {
      const d = await webhookDelivery(w);
      return at(`/api/orgs/${w.orgA}/webhooks/${d.hook}/deliveries/${d.delivery}`);
    },
  },
  "POST /api/orgs/:id/webhooks/:webhookId/deliveries/:deliveryId/redeliver": {
    ...org("webhooks.manage"),
    build: async (w) => {
      const d = await webhookDelivery(w);
      return at(`/api/orgs/${w.orgA}/webhooks/${d.hook}/deliveries/${d.delivery}/redeliver`);
    },
  },
};
