// The seeded world of the isolation walk: org A with one member of every role, a public and a private project
// (milestone, task, draft version, document), a funded (ACTIVE) public and private project on a git repository
// served over HTTP for the task routes, org B with an outsider owner, a platform admin, API keys, and the callers
// ("personas") who send the walk's requests. Builders make fresh resources for requests that use them up.
import { desc, eq, sql } from "drizzle-orm";
import { zeroAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount, privateKeyToAddress } from "viem/accounts";
import { createApiKey, createSession } from "../../src/auth/service";
import { ProjectEscrow } from "../../src/chain/contracts.gen";
import { registerSponsor } from "../../src/chain/registration";
import { requireChain } from "../../src/chain/service";
import { jobs as jobRows } from "../../src/core/jobs/schema";
import { fundingQuotes } from "../../src/funding/schema";
import { createInvite } from "../../src/invites/service";
import { milestones, tasks, type TaskStatus } from "../../src/milestones/schema";
import { saveDraft } from "../../src/milestones/service";
import type { OrgRole } from "../../src/orgs/permissions";
import { payments } from "../../src/payments/schema";
import { projects } from "../../src/projects/schema";
import { taskClaims, taskVerifications, taskWorkLinks } from "../../src/tasks/schema";
import { onChainProjectId } from "../../src/zk/attestation";
import { createTestApp, type TestApp } from "./app";
import { addMember, apiKeyFor, asUser, createOrgAs, createUser, type TestUser } from "./auth";
import type { DbKind } from "./db";
import { type GitHost, startGitHost } from "./git-host";

/** A request body: objects go as JSON, URLSearchParams as a form, FormData as multipart. */
export type Body = Record<string, unknown> | unknown[] | URLSearchParams | FormData | undefined;

/** One caller of the walk. `role` is its role in org A; `user` is whose credentials it carries. */
export interface Persona {
  name: PersonaName;
  role: OrgRole | null;
  via: "anon" | "session" | "api-key";
  /** Whose credentials: A's owner for the read-only key and the CSRF-less session. */
  user: "owner" | "maintainer" | "sponsor" | "contributor" | "outsider" | "admin" | "anon";
  scopes: string[];
  csrf: boolean;
  send(method: string, path: string, body?: Body, headers?: Record<string, string>): Promise<Response>;
}

export type PersonaName =
  | "anonymous"
  | "owner"
  | "maintainer"
  | "sponsor"
  | "contributor"
  | "owner-read-key"
  | "owner-no-csrf"
  | "outsider"
  | "outsider-key"
  | "admin";

/** One of org A's projects with a resource of every kind inside it. */
export interface SeededProject {
  id: string;
  milestoneId: string;
  taskId: string;
  documentId: string;
  version: number;
}

export type Visibility = "private" | "public";

/**
 * A funded (ACTIVE) project of org A whose repository is the world's git repository and whose payouts are
 * reviewed. `taskId` is a verified task (claimed by A's contributor, work linked, passed) for the read routes.
 */
export interface FundedProject {
  id: string;
  milestoneId: string;
  taskId: string;
  /** A paid task of the project: A's contributor's earning. */
  paidTaskId: string;
}

/**
 * How far a fresh task of a funded project has come. Its claimer is always org A's contributor:
 * `failed` has work linked whose verification failed (the task is back to CLAIMED); `verified` passed.
 */
export type TaskStage = "open" | "claimed" | "failed" | "verified" | "paid";

/** The user who holds every claim of the world's tasks. */
export const CLAIMER = "contributor" as const;

/** Everything the walk's samples refer to. */
export interface World {
  t: TestApp;
  marker: string;
  orgA: string;
  orgB: string;
  users: Record<"owner" | "maintainer" | "sponsor" | "contributor" | "outsider" | "admin", TestUser>;
  personas: Persona[];
  projects: Record<Visibility, SeededProject>;
  /** Org B's own project (private) with a milestone, for requests mixing B's path with A's ids. */
  projectB: SeededProject;
  /** Funded projects for the task routes. */
  funded: Record<Visibility, FundedProject>;
  /** Serves the funded projects' repository; stopped with the world. */
  gitHost: GitHost;
  walletId: string;
  notificationId: string;
  runId: string;
  fresh: Fresh;
}

const TASK = {
  title: "task",
  description: "",
  points: 3,
  acceptanceCriteria: ["it works"],
  verification: { minPassingTests: 1, testCommand: "", rules: [] },
};

const STAGE_STATUS: Record<TaskStage, TaskStatus> = {
  open: "OPEN",
  claimed: "CLAIMED",
  failed: "CLAIMED",
  verified: "VERIFIED",
  paid: "PAID",
};

/** Makers of fresh resources, for requests that use one up (delete, revoke, accept, approve). */
export interface Fresh {
  project(vis: Visibility, opts?: { approved?: boolean; orgId?: string; as?: TestUser }): Promise<SeededProject>;
  member(role?: OrgRole): Promise<TestUser>;
  invite(): Promise<{ id: string; token: string; invitee: TestUser }>;
  wallet(user: TestUser): Promise<{ id: string; address: string }>;
  walletLink(user: TestUser): Promise<{ message: string; signature: string }>;
  apiKey(user: TestUser): Promise<string>;
  session(user: TestUser): Promise<string>;
  user(): Promise<TestUser>;
  deadJob(): Promise<string>;
  document(projectId: string, as?: TestUser): Promise<string>;
  run(projectId: string, orgId: string): Promise<string>;
  /** An approved project with a funding quote. */
  quoted(vis: Visibility): Promise<string>;
  /** A quoted project and a mined deposit covering the quote, by the dev chain's sponsor account. */
  deposited(vis: Visibility): Promise<{ projectId: string; hash: string }>;
  /** A task of the funded project of `vis` at `stage` (rows written directly, as the task's own steps leave them). */
  task(vis: Visibility, stage: TaskStage): Promise<string>;
}

async function json<T>(res: Response, what: string): Promise<T> {
  if (res.status >= 400) throw new Error(`seeding ${what} failed: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** A Markdown file for document uploads. */
export function markdownFile(text = "# Notes\n\nThe walk's document.\n"): File {
  return new File([text], "notes.md", { type: "text/markdown" });
}

/** A multipart body with one file field. */
export function multipart(field: string, file: File): FormData {
  const f = new FormData();
  f.set(field, file);
  return f;
}

/** The 16-byte PNG header, enough for the logo sniffer. */
export const PNG = Uint8Array.from([
  0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52,
]);

/** Boots the app on a fresh database of `kind` and seeds the world. */
export async function seedWorld(kind: DbKind): Promise<World> {
  const t = await createTestApp(kind);
  const marker = `Alpha-${crypto.randomUUID().slice(0, 8)}`;
  const admin = await createUser(t, { admin: true, name: "Walk admin" });
  const owner = await createUser(t, { name: `${marker} owner` });
  const maintainer = await createUser(t);
  const sponsor = await createUser(t);
  const contributor = await createUser(t);
  const outsider = await createUser(t);
  const orgA = await createOrgAs(owner, marker);
  await addMember(owner, orgA, maintainer, "maintainer"); // also gives the owner a notification
  await addMember(owner, orgA, sponsor, "sponsor");
  await addMember(owner, orgA, contributor, "contributor");
  const orgB = await createOrgAs(outsider, "Beta"); // B owns its own org: the most rights anyone outside A has
  await t.ctx.settings.update(
    // the claim route's rightful caller claims four tasks in one walk (API and page, private and public)
    { "github.clientId": "walk-client", "github.clientSecret": "walk-secret", "tasks.maxOpenClaims": 10 },
    admin.id,
  );
  const gitHost = startGitHost();
  const repoUrl = gitHost.url("walk");
  const head = await gitHost.createRepo("walk", { "README.md": "The walk's repository.\n" });
  const committedAt = new Date();
  const logo = await owner.request("PUT", `/api/orgs/${orgA}/logo`, {
    body: multipart("logo", new File([PNG], "logo.png", { type: "image/png" })),
  });
  await json(logo, "org A's logo");

  const db = t.ctx.db;
  const fundedHome = {} as Record<Visibility, { id: string; milestoneId: string }>;
  let taskCount = 0;
  let payee = "";

  const ownerPrincipal = { userId: owner.id, name: owner.name, isAdmin: false, via: "session" as const };
  const fresh: Fresh = {
    async project(vis, opts = {}) {
      const as = opts.as ?? owner;
      const orgId = opts.orgId ?? orgA;
      const p = await json<{ id: string }>(
        await as.request("POST", `/api/orgs/${orgId}/projects`, {
          body: {
            title: `${orgId === orgA ? marker : "Beta"} ${vis} project`,
            repoType: vis === "public" ? "PUBLIC" : "PRIVATE",
          },
        }),
        "a project",
      );
      const plan = {
        milestones: [
          { title: "first", description: "", acceptanceCriteria: [], tasks: [TASK] },
          { title: "second", description: "", acceptanceCriteria: [], tasks: [TASK] },
        ],
      };
      const { version } = await saveDraft(t.ctx.db, p.id, plan, { source: "edit", userId: as.id });
      const tree = await json<{ milestones: { id: string; tasks: { id: string }[] }[] }>(
        await as.request("GET", `/api/projects/${p.id}/milestones`),
        "the milestones",
      );
      if (opts.approved) await json(await as.request("POST", `/api/projects/${p.id}/approve-structure`), "approval");
      return {
        id: p.id,
        milestoneId: tree.milestones[0]!.id,
        taskId: tree.milestones[0]!.tasks[0]!.id,
        documentId: await fresh.document(p.id, as),
        version,
      };
    },
    async member(role = "CONTRIBUTOR") {
      const u = await createUser(t);
      await addMember(owner, orgA, u, role.toLowerCase());
      return u;
    },
    async invite() {
      const invitee = await createUser(t);
      const { invite, token } = await createInvite(t.ctx, ownerPrincipal, orgA, {
        email: invitee.email,
        role: "contributor",
      });
      return { id: invite.id, token, invitee };
    },
    async walletLink(user) {
      const account = privateKeyToAccount(generatePrivateKey());
      const c = await json<{ message: string }>(
        await user.request("POST", "/api/me/wallets/challenge", { body: { address: account.address, chainId: 1 } }),
        "a wallet challenge",
      );
      return { message: c.message, signature: await account.signMessage({ message: c.message }) };
    },
    async wallet(user) {
      const link = await fresh.walletLink(user);
      const w = await json<{ id: string; address: string }>(
        await user.request("POST", "/api/me/wallets", { body: link }),
        "a wallet",
      );
      return { id: w.id, address: w.address };
    },
    apiKey: async (user) => (await createApiKey(t.ctx.db, user.id, { name: "walk", scopes: ["read"] })).apiKey.id,
    session: async (user) => (await createSession(t.ctx.db, user.id)).id,
    user: () => createUser(t),
    async deadJob() {
      const { id } = await t.ctx.jobs.enqueue("isolation.dead", {}, { scope: { orgId: orgA } });
      await t.ctx.db.update(jobRows).set({ state: "dead" }).where(eq(jobRows.id, id));
      return id;
    },
    async document(projectId, as = owner) {
      const d = await json<{ id: string }>(
        await as.request("POST", `/api/projects/${projectId}/documents`, { body: multipart("file", markdownFile()) }),
        "a document",
      );
      return d.id;
    },
    async run(projectId, orgId) {
      // a job whose runs every member may read (src/orgs/run-access.ts); no worker runs in the walk, so it stays queued
      return (await t.ctx.jobs.enqueue("harness.run", {}, { scope: { orgId, projectId } })).id;
    },
    async quoted(vis) {
      const p = await fresh.project(vis, { approved: true });
      await json(await owner.request("POST", `/api/projects/${p.id}/fund/quote`), "a quote");
      return p.id;
    },
    async deposited(vis) {
      const projectId = await fresh.quoted(vis);
      const [quote] = await t.ctx.db
        .select({ amount: fundingQuotes.amount })
        .from(fundingQuotes)
        .where(eq(fundingQuotes.projectId, projectId))
        .orderBy(desc(fundingQuotes.createdAt))
        .limit(1);
      const rt = await requireChain(t.ctx);
      const amount = BigInt(quote!.amount);
      // the escrow takes deposits only from the registered sponsor: here the dev chain's sponsor account
      const devSponsor = privateKeyToAddress(rt.dev!.genesis.keys.sponsor);
      await registerSponsor(rt, onChainProjectId(projectId), devSponsor, null);
      const hash = await rt.conn.wallet(rt.dev!.genesis.keys.sponsor).writeContract({
        address: rt.deployment!.escrow,
        abi: ProjectEscrow.abi,
        functionName: "deposit",
        args: [onChainProjectId(projectId), zeroAddress, amount],
        value: amount,
      });
      await rt.conn.publicClient.waitForTransactionReceipt({ hash });
      return { projectId, hash };
    },
    async task(vis, stage) {
      const home = fundedHome[vis];
      const status = STAGE_STATUS[stage];
      const [task] = await db
        .insert(tasks)
        .values({
          milestoneId: home.milestoneId,
          projectId: home.id,
          title: `walk task ${++taskCount}`,
          points: 3,
          position: taskCount,
          status,
          payoutAmount: "1000000000000000",
          claimedById: stage === "open" ? null : contributor.id,
        })
        .returning();
      const taskId = task!.id;
      if (stage === "open") return taskId;
      const [claim] = await db
        .insert(taskClaims)
        .values({
          taskId,
          userId: contributor.id,
          state: stage === "paid" ? "PAID" : "ACTIVE",
          // before the repository's commit, so that commit counts as work done after the claim
          claimedAt: new Date("2000-01-01T00:00:00Z"),
          expiresAt: new Date(Date.now() + 14 * 86_400_000),
          endedAt: stage === "paid" ? new Date() : null,
        })
        .returning();
      if (stage === "claimed") return taskId;
      const [link] = await db
        .insert(taskWorkLinks)
        .values({ taskId, claimId: claim!.id, kind: "branch", repoUrl, branch: "main", commit: head, committedAt })
        .returning();
      const failed = stage === "failed";
      await db.insert(taskVerifications).values({
        taskId,
        claimId: claim!.id,
        workLinkId: link!.id,
        commit: head,
        status: failed ? "FAILED" : "PASSED",
        tests: [{ id: "readme", passed: !failed }],
        passedCount: failed ? 0 : 1,
        failedCount: failed ? 1 : 0,
        reason: failed ? "readme failed" : null,
        finishedAt: new Date(),
      });
      if (stage === "paid") {
        await db.insert(payments).values({
          taskId: taskId,
          amount: "1000000000000000",
          fee: "0",
          tokenAddress: zeroAddress,
          payee,
          txHash: `0x${crypto.randomUUID().replaceAll("-", "").repeat(2)}`,
          status: "COMPLETED",
          releasedAt: new Date(),
        });
      }
      return taskId;
    },
  };

  // Payout wallets for everyone who might claim, so a refused claim is refused for who asks, not for a wallet.
  for (const u of [maintainer, sponsor, outsider, admin]) await fresh.wallet(u);
  payee = (await fresh.wallet(contributor)).address;
  const fundedProject = async (vis: Visibility): Promise<FundedProject> => {
    const [p] = await db
      .insert(projects)
      .values({
        orgId: orgA,
        title: `${marker} ${vis} project (funded)`,
        repoUrl,
        repoProvider: "git",
        repoVisibility: vis === "public" ? "PUBLIC" : "PRIVATE",
        state: "ACTIVE",
        payoutReview: true,
        totalTokenAmount: "1000000000000000000",
        structureApprovedAt: new Date(),
        structureApprovedById: owner.id,
        createdById: owner.id,
      })
      .returning();
    const [m] = await db
      .insert(milestones)
      .values({ projectId: p!.id, title: "funded", position: 0, status: "ACTIVE" })
      .returning();
    fundedHome[vis] = { id: p!.id, milestoneId: m!.id };
    return {
      id: p!.id,
      milestoneId: m!.id,
      taskId: await fresh.task(vis, "verified"),
      paidTaskId: await fresh.task(vis, "paid"),
    };
  };

  const priv = await fresh.project("private");
  const pub = await fresh.project("public");
  const projectB = await fresh.project("private", { orgId: orgB, as: outsider });
  const wallet = await fresh.wallet(owner);
  const notes = await json<{ items: { id: string }[] }>(await owner.request("GET", "/api/notifications"), "notes");
  if (!notes.items.length) throw new Error("org A's owner has no notification");

  const readKey = await apiKeyFor(t, owner, ["read"]);
  const outsiderKey = await apiKeyFor(t, outsider, ["read", "write"]);
  const users = { owner, maintainer, sponsor, contributor, outsider, admin };
  const session = (name: PersonaName, u: keyof typeof users, role: OrgRole | null): Persona => ({
    name,
    role,
    via: "session",
    user: u,
    scopes: [],
    csrf: true,
    send: (method, path, body, headers) => users[u].request(method, path, { body, headers }),
  });
  const noCsrf = asUser(t, owner, owner.session, "");
  const personas: Persona[] = [
    {
      name: "anonymous",
      role: null,
      via: "anon",
      user: "anon",
      scopes: [],
      csrf: false,
      send: (method, path, body, headers) => t.request(method, path, { body, headers }),
    },
    session("owner", "owner", "OWNER"),
    session("maintainer", "maintainer", "MAINTAINER"),
    session("sponsor", "sponsor", "SPONSOR"),
    session("contributor", "contributor", "CONTRIBUTOR"),
    {
      name: "owner-read-key",
      role: "OWNER",
      via: "api-key",
      user: "owner",
      scopes: ["read"],
      csrf: false,
      send: (method, path, body, headers) => readKey.request(method, path, { body, headers }),
    },
    {
      name: "owner-no-csrf",
      role: "OWNER",
      via: "session",
      user: "owner",
      scopes: [],
      csrf: false,
      send: (method, path, body, headers) =>
        t.request(method, path, { body, headers: { cookie: `ds_session=${noCsrf.session}`, ...headers } }),
    },
    session("outsider", "outsider", null),
    {
      name: "outsider-key",
      role: null,
      via: "api-key",
      user: "outsider",
      scopes: ["read", "write"],
      csrf: false,
      send: (method, path, body, headers) => outsiderKey.request(method, path, { body, headers }),
    },
    session("admin", "admin", null),
  ];

  return {
    t,
    marker,
    orgA,
    orgB,
    users,
    personas,
    projects: { private: priv, public: pub },
    projectB,
    funded: { private: await fundedProject("private"), public: await fundedProject("public") },
    gitHost,
    walletId: wallet.id,
    notificationId: notes.items[0]!.id,
    runId: await fresh.run(priv.id, orgA),
    fresh,
  };
}

/** Tables whose rows change on any request (sessions seen, keys used, rate windows): left out of the snapshot. */
const VOLATILE = new Set(["sessions", "api_keys", "job_events", "__drizzle_migrations"]);

/**
 * A fingerprint of every table's rows, to prove a refused write changed nothing. One query, so it is cheap
 * enough to take around every route.
 */
export async function snapshot(w: World): Promise<Record<string, string>> {
  const tables = (await w.t.ctx.db.execute(
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE' order by 1`,
  )) as unknown as { rows?: { table_name: string }[] } & { table_name: string }[];
  const names = (tables.rows ?? tables).map((r) => r.table_name).filter((n) => !VOLATILE.has(n));
  const query = names
    .map((n) => `select '${n}' as t, md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from "${n}" x`)
    .join(" union all ");
  const res = (await w.t.ctx.db.execute(sql.raw(query))) as unknown as { rows?: { t: string; h: string }[] } & {
    t: string;
    h: string;
  }[];
  return Object.fromEntries((res.rows ?? res).map((r) => [r.t, r.h]));
}
