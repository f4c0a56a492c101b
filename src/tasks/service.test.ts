// Claims on both databases: one winner among simultaneous claimers, the per-person limit, private projects,
// expiry with its warning, and the state table refusing moves it does not list.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq, inArray, sql } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { deliverEvents } from "../../test/support/events";
import { auditLog } from "../audit/schema";
import { verifyAuditChain } from "../audit/service";
import { AppError } from "../core/errors";
import { milestones, tasks } from "../milestones/schema";
import { notifications } from "../notifications/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { projects } from "../projects/schema";
import { wallets } from "../users/schema";
import { taskClaims } from "./schema";
import { claimTask, expireClaims, unclaimTask } from "./service";
import { transition, transitionMany } from "./state";

const code = async (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e) => (e instanceof AppError ? e.code : String(e)),
  );

for (const kind of dbKinds()) {
  describe(`claims [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let orgId: string;
    let n = 0;

    const principal = (u: TestUser) => ({ userId: u.id, name: u.name, isAdmin: false, via: "session" as const });
    const withWallet = async () => {
      const u = await createUser(t);
      const address = `0x${(++n).toString(16).padStart(40, "0")}`;
      await t.ctx.db
        .insert(wallets)
        .values({ userId: u.id, address, chainId: "31337", isPayout: true, siweMessage: "m", signature: "0x" });
      return u;
    };
    const project = async (opts: { visibility?: "PUBLIC" | "PRIVATE"; tasks?: number } = {}) => {
      const [p] = await t.ctx.db
        .insert(projects)
        .values({
          orgId,
          title: "P",
          state: "ACTIVE",
          repoUrl: "https://git.example.test/p.git",
          repoVisibility: opts.visibility ?? "PUBLIC",
        })
        .returning();
      const [m] = await t.ctx.db.insert(milestones).values({ projectId: p!.id, title: "M", position: 0 }).returning();
      const ids: string[] = [];
      for (let i = 0; i < (opts.tasks ?? 1); i++) {
        const [s] = await t.ctx.db
          .insert(tasks)
          .values({
            milestoneId: m!.id,
            projectId: p!.id,
            title: `T${i}`,
            points: 3,
            position: i,
            payoutAmount: "1000",
          })
          .returning();
        ids.push(s!.id);
      }
      return ids;
    };

    beforeAll(async () => {
      t = await createTestApp(kind);
      owner = await createUser(t);
      const [org] = await t.ctx.db.insert(orgs).values({ name: "Claims" }).returning();
      orgId = org!.id;
      await t.ctx.db.insert(orgMembers).values({ orgId, userId: owner.id, role: "OWNER" });
    }, 120_000);
    afterAll(() => t.close());

    test("ten people claiming one task at once: exactly one wins", async () => {
      const [taskId] = await project();
      const people = await Promise.all(Array.from({ length: 10 }, () => withWallet()));
      const results = await Promise.all(people.map((u) => code(claimTask(t.ctx, principal(u), taskId!))));
      expect(results.filter((r) => r === "OK")).toHaveLength(1);
      expect(results.filter((r) => r === "TASK_ALREADY_CLAIMED")).toHaveLength(9);
      const active = await t.ctx.db
        .select()
        .from(taskClaims)
        .where(and(eq(taskClaims.taskId, taskId!), eq(taskClaims.state, "ACTIVE")));
      expect(active).toHaveLength(1);
      const [task] = await t.ctx.db.select().from(tasks).where(eq(tasks.id, taskId!));
      expect(task!.claimedById).toBe(active[0]!.userId);
      // the owner was told (by the notifications' bus subscriber)
      await deliverEvents(t.ctx);
      const told = await t.ctx.db.select().from(notifications).where(eq(notifications.userId, owner.id));
      expect(told.some((x) => x.type === "TASK_CLAIMED")).toBe(true);
    });

    test("at most three open claims per person, even when claimed at once", async () => {
      const ids = await project({ tasks: 5 });
      const u = await withWallet();
      const results = await Promise.all(ids.map((id) => code(claimTask(t.ctx, principal(u), id))));
      expect(results.filter((r) => r === "OK")).toHaveLength(3);
      expect(results.filter((r) => r === "CLAIM_LIMIT_REACHED")).toHaveLength(2);
      // giving one up makes room
      const claimed = ids.filter((_, i) => results[i] === "OK");
      await unclaimTask(t.ctx, principal(u), claimed[0]!);
      const open = ids.filter((_, i) => results[i] !== "OK");
      expect(await code(claimTask(t.ctx, principal(u), open[0]!))).toBe("OK");
    });

    test("claims of one moment are decided together, each with its own outcome", async () => {
      const ids = await project({ tasks: 8 });
      const people = await Promise.all(Array.from({ length: 6 }, () => withWallet()));
      const noWallet = await createUser(t);
      // the last person already holds the limit
      const full = people[5]!;
      const held = await project({ tasks: 3 });
      for (const id of held) await claimTask(t.ctx, principal(full), id);
      const asks = [
        ...people.slice(0, 5).map((u, i) => claimTask(t.ctx, principal(u), ids[i]!)),
        claimTask(t.ctx, principal(noWallet), ids[5]!),
        claimTask(t.ctx, principal(full), ids[6]!),
      ];
      const results = await Promise.all(asks.map(code));
      expect(results).toEqual(["OK", "OK", "OK", "OK", "OK", "PAYOUT_WALLET_REQUIRED", "CLAIM_LIMIT_REACHED"]);
      // five claims, fewer commits: the ones asked for while a transaction ran share the next one
      const rows = await t.ctx.db
        .select({ tx: sql<string>`${taskClaims}.xmin::text`, taskId: taskClaims.taskId, userId: taskClaims.userId })
        .from(taskClaims)
        .where(inArray(taskClaims.taskId, ids));
      expect(rows).toHaveLength(5);
      expect(new Set(rows.map((r) => r.tx)).size).toBeLessThan(5);
      for (const [i, u] of people.slice(0, 5).entries()) {
        expect(rows.find((r) => r.taskId === ids[i])?.userId).toBe(u.id);
        const [task] = await t.ctx.db.select().from(tasks).where(eq(tasks.id, ids[i]!));
        expect(task).toMatchObject({ status: "CLAIMED", claimedById: u.id });
      }
      // the refused ones left their tasks open, and each claim is in the audit trail once
      const open = await t.ctx.db
        .select()
        .from(tasks)
        .where(inArray(tasks.id, ids.slice(5)));
      expect(open.map((x) => x.status)).toEqual(["OPEN", "OPEN", "OPEN"]);
      const audited = await t.ctx.db
        .select({ targetId: auditLog.targetId })
        .from(auditLog)
        .where(and(eq(auditLog.action, "task.claimed"), inArray(auditLog.targetId, ids)));
      expect(audited.map((a) => a.targetId).sort()).toEqual(ids.slice(0, 5).sort());
      expect((await verifyAuditChain(t.ctx.db)).ok).toBe(true);
    });

    test("transitions of several tasks at once: the stale one does not move, the others do", async () => {
      const ids = await project({ tasks: 3 });
      const rows = await t.ctx.db.select().from(tasks).where(inArray(tasks.id, ids));
      const byId = new Map(rows.map((r) => [r.id, r]));
      const u = await withWallet();
      const moved = await t.ctx.db.transaction((tx) =>
        transitionMany(
          tx,
          ids.map((id, i) => ({
            task: i === 1 ? { ...byId.get(id)!, status: "CLAIMED" as const } : byId.get(id)!,
            orgId,
            to: i === 1 ? ("OPEN" as const) : ("CLAIMED" as const),
            actor: { kind: "claimer" as const, userId: u.id },
            claimedById: i === 1 ? null : u.id,
          })),
        ),
      );
      expect(moved).toEqual([true, false, true]);
      const after = await t.ctx.db.select().from(tasks).where(inArray(tasks.id, ids));
      const status = new Map(after.map((r) => [r.id, [r.status, r.claimedById]]));
      expect(ids.map((id) => status.get(id))).toEqual([
        ["CLAIMED", u.id],
        ["OPEN", null],
        ["CLAIMED", u.id],
      ]);
      const audited = await t.ctx.db
        .select({ targetId: auditLog.targetId, action: auditLog.action })
        .from(auditLog)
        .where(inArray(auditLog.targetId, ids));
      expect(audited.map((a) => a.targetId).sort()).toEqual([ids[0], ids[2]].sort());
      // a move the table does not list refuses the whole call before anything is written
      expect(
        await code(
          t.ctx.db.transaction((tx) =>
            transitionMany(tx, [{ task: byId.get(ids[1]!)!, orgId, to: "PAID", actor: { kind: "system" } }]),
          ),
        ),
      ).toBe("TASK_STATE_CONFLICT");
    });

    test("private projects: only invited members may claim; others do not see the task", async () => {
      const [taskId] = await project({ visibility: "PRIVATE" });
      const stranger = await withWallet();
      expect(await code(claimTask(t.ctx, principal(stranger), taskId!))).toBe("TASK_NOT_FOUND");
      const member = await withWallet();
      await t.ctx.db.insert(orgMembers).values({ orgId, userId: member.id, role: "CONTRIBUTOR" });
      expect(await code(claimTask(t.ctx, principal(member), taskId!))).toBe("OK");
    });

    test("a claim without linked work is warned two days before and expires after", async () => {
      const [taskId] = await project();
      const u = await withWallet();
      await claimTask(t.ctx, principal(u), taskId!);
      const day = 86_400_000;
      await t.ctx.db
        .update(taskClaims)
        .set({ expiresAt: new Date(Date.now() + day) })
        .where(eq(taskClaims.taskId, taskId!));
      const warned = await expireClaims(t.ctx);
      expect(warned.warned).toBeGreaterThanOrEqual(1);
      await deliverEvents(t.ctx);
      const notes = await t.ctx.db.select().from(notifications).where(eq(notifications.userId, u.id));
      expect(notes.some((x) => x.type === "CLAIM_EXPIRING")).toBe(true);
      await t.ctx.db
        .update(taskClaims)
        .set({ expiresAt: new Date(Date.now() - 1000) })
        .where(eq(taskClaims.taskId, taskId!));
      expect((await expireClaims(t.ctx)).expired).toBeGreaterThanOrEqual(1);
      const [task] = await t.ctx.db.select().from(tasks).where(eq(tasks.id, taskId!));
      expect(task).toMatchObject({ status: "OPEN", claimedById: null });
      const [claim] = await t.ctx.db.select().from(taskClaims).where(eq(taskClaims.taskId, taskId!));
      expect(claim!.state).toBe("EXPIRED");
    });

    test("the state table refuses a move it does not list, and a move from a stale state", async () => {
      const [taskId] = await project();
      const [task] = await t.ctx.db.select().from(tasks).where(eq(tasks.id, taskId!));
      const db = t.ctx.db;
      // OPEN → PAID is not a transition
      expect(await code(transition(db, { task: task!, orgId, to: "PAID", actor: { kind: "system" } }))).toBe(
        "TASK_STATE_CONFLICT",
      );
      // a claimer cannot mark work verified
      const stale = { ...task!, status: "VERIFYING" as const };
      expect(
        await code(
          transition(db, { task: stale, orgId, to: "VERIFIED", actor: { kind: "claimer", userId: owner.id } }),
        ),
      ).toBe("TASK_STATE_CONFLICT");
      // the system may, but the row is not VERIFYING: nothing moves
      expect(await code(transition(db, { task: stale, orgId, to: "VERIFIED", actor: { kind: "system" } }))).toBe(
        "TASK_STATE_CONFLICT",
      );
      const [after] = await db.select().from(tasks).where(eq(tasks.id, taskId!));
      expect(after!.status).toBe("OPEN");
    });
  });
}
