// Notification preferences and the mapping of bus events to notifications, on both databases: the defaults per
// type, changes by type and by group through the JSON API and the page's form, notify() delivering on the chosen
// channels only (mandatory kinds ignore the choices), and each event reaching the right people once, with links,
// amounts, transactions and failing tests, in the app and in the e-mail outbox as their preferences say.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { and, eq } from "drizzle-orm";
import { getAddress } from "viem";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { deliverEvents } from "../../test/support/events";
import type { Db } from "../core/db";
import { domainEvents } from "../events/schema";
import { emitEvent } from "../events/service";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { payments } from "../payments/schema";
import { projects } from "../projects/schema";
import { emitTaskEvent } from "../tasks/events";
import { taskClaims, taskVerifications, taskWorkLinks } from "../tasks/schema";
import { transition } from "../tasks/state";
import { emailOutbox, notifications } from "./schema";
import { notify } from "./service";

type Prefs = {
  emailNotifications: boolean;
  types: { type: string; group: string; inApp: boolean; email: boolean; mandatory: boolean }[];
};

for (const kind of dbKinds()) {
  describe(`notification preferences and events [${kind}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind);
    }, 60_000);
    afterAll(() => t.close());

    const prefsOf = async (u: TestUser) => {
      const res = await u.request("GET", "/api/me/notification-preferences");
      expect(res.status).toBe(200);
      return (await res.json()) as Prefs;
    };
    const typeOf = (p: Prefs, type: string) => p.types.find((x) => x.type === type)!;
    const inbox = (userId: string) =>
      t.ctx.db.select().from(notifications).where(eq(notifications.userId, userId)).orderBy(notifications.createdAt);
    const outbox = (userId: string) =>
      t.ctx.db.select().from(emailOutbox).where(eq(emailOutbox.userId, userId)).orderBy(emailOutbox.createdAt);

    test("defaults per type; changes by type and by group; mandatory and unknown keys are refused", async () => {
      const u = await createUser(t);
      const p = await prefsOf(u);
      expect(p.emailNotifications).toBe(true);
      // money and verification on both channels, noisy ones in the app only, invites always
      expect(typeOf(p, "PAYMENT")).toMatchObject({ group: "money", inApp: true, email: true });
      expect(typeOf(p, "VERIFICATION_FAILED")).toMatchObject({ group: "verification", inApp: true, email: true });
      expect(typeOf(p, "TASK_CLAIMED")).toMatchObject({ group: "tasks", inApp: true, email: false });
      expect(typeOf(p, "INVITE")).toMatchObject({ mandatory: true, inApp: true, email: true });

      const put = (body: unknown) => u.request("PUT", "/api/me/notification-preferences", { body });
      const changed = await put({ preferences: { TASK_CLAIMED: { email: true }, verification: { email: false } } });
      expect(changed.status).toBe(200);
      const after = (await changed.json()) as Prefs;
      expect(typeOf(after, "TASK_CLAIMED")).toMatchObject({ inApp: true, email: true });
      for (const v of after.types.filter((x) => x.group === "verification")) {
        expect(v).toMatchObject({ inApp: true, email: false });
      }
      expect(await prefsOf(u)).toEqual(after);

      for (const [body, field] of [
        [{ preferences: { INVITE: { email: false } } }, "preferences.INVITE"],
        [{ preferences: { NOT_A_TYPE: { inApp: false } } }, "preferences.NOT_A_TYPE"],
      ] as const) {
        const res = await put(body);
        expect(res.status).toBe(400);
        const err = ((await res.json()) as { error: { code: string; details: { fields: Record<string, string> } } })
          .error;
        expect(err.code).toBe("INVALID_INPUT");
        expect(Object.keys(err.details.fields)).toEqual([field]);
      }
      expect((await put({ preferences: { PAYMENT: { email: "yes" } } })).status).toBe(400);
      expect(typeOf(await prefsOf(u), "INVITE").email).toBe(true);
      // signed out: no preferences
      expect((await t.request("GET", "/api/me/notification-preferences")).status).toBe(401);
      // the API is in the OpenAPI document
      const doc = (await (await t.request("GET", "/api/openapi.json")).json()) as { paths: Record<string, any> };
      expect(Object.keys(doc.paths["/api/me/notification-preferences"]).sort()).toEqual(["get", "put"]);
      expect(JSON.stringify(doc.paths["/api/me/notification-preferences"].put.requestBody)).toContain("preferences");
    }, 60_000);

    test("notify delivers on the chosen channels; the e-mail switch spares mandatory kinds", async () => {
      const u = await createUser(t);
      await u.request("PUT", "/api/me/notification-preferences", {
        body: { preferences: { PAYMENT: { inApp: false }, PR_LINKED: { email: true } } },
      });
      await notify(t.ctx.db, u.id, { type: "PAYMENT", title: "Paid by e-mail only", link: "/me/earnings" });
      await notify(t.ctx.db, u.id, { type: "PR_LINKED", title: "Linked, both" });
      await notify(t.ctx.db, u.id, { type: "TASK_CLAIMED", title: "Claimed, app only" });
      expect((await inbox(u.id)).map((n) => n.title)).toEqual(["Linked, both", "Claimed, app only"]);
      expect((await outbox(u.id)).map((m) => [m.subject, m.kind])).toEqual([
        ["Paid by e-mail only", "PAYMENT"],
        ["Linked, both", "PR_LINKED"],
      ]);
      // the switch for optional e-mails (also on the profile) stops them all, but not invites or security notices
      const off = await u.request("PUT", "/api/me/notification-preferences", { body: { emailNotifications: false } });
      expect(((await off.json()) as Prefs).emailNotifications).toBe(false);
      await notify(t.ctx.db, u.id, { type: "VERIFICATION_SUCCESS", title: "Verified, app only now" });
      await notify(t.ctx.db, u.id, { type: "SECURITY", title: "Your wallets changed" });
      await notify(t.ctx.db, u.id, { type: "INVITE", title: "Join us" });
      expect((await outbox(u.id)).slice(2).map((m) => m.subject)).toEqual(["Your wallets changed", "Join us"]);
      expect((await inbox(u.id)).slice(2).map((n) => n.title)).toEqual([
        "Verified, app only now",
        "Your wallets changed",
        "Join us",
      ]);
      // the profile's switch is the same preference
      const me = (await (await u.request("GET", "/api/me")).json()) as { preferences: { emailNotifications: boolean } };
      expect(me.preferences.emailNotifications).toBe(false);
    }, 60_000);

    test("bus events reach the right people once, with links, amounts, transactions and failing tests", async () => {
      const owner = await createUser(t, { name: "Olga Owner" });
      const maintainer = await createUser(t, { name: "Max Maintainer" });
      const contributor = await createUser(t, { name: "Cleo Contributor" });
      const outsider = await createUser(t, { name: "Otto Outsider" });
      const db = t.ctx.db;
      const [org] = await db.insert(orgs).values({ name: "Event Guild" }).returning();
      await db.insert(orgMembers).values([
        { orgId: org!.id, userId: owner.id, role: "OWNER" },
        { orgId: org!.id, userId: maintainer.id, role: "MAINTAINER" },
        { orgId: org!.id, userId: contributor.id, role: "CONTRIBUTOR" },
      ]);
      const [project] = await db
        .insert(projects)
        .values({ orgId: org!.id, title: "Parser", tokenSymbol: "ETH", tokenDecimals: 18, state: "ACTIVE" })
        .returning();
      const [m] = await db
        .insert(milestones)
        .values({ projectId: project!.id, title: "M", points: 5, position: 0 })
        .returning();
      const [task] = await db
        .insert(tasks)
        .values({ milestoneId: m!.id, projectId: project!.id, title: "Fix the parser", points: 5, position: 0 })
        .returning();
      const taskId = task!.id;
      const base = { taskId, projectId: project!.id, orgId: org!.id, title: task!.title };

      // The claim (the contributor acts): the owner and the maintainer hear of it in the app, the claimer does not.
      await db.transaction((tx) =>
        transition(tx, {
          task: task!,
          orgId: org!.id,
          to: "CLAIMED",
          actor: { kind: "claimer", userId: contributor.id },
          claimedById: contributor.id,
        }),
      );
      // nothing is told before the bus delivers
      expect(await inbox(owner.id)).toHaveLength(0);
      expect(await deliverEvents(t.ctx)).toBe(1);
      for (const u of [owner, maintainer]) {
        const [n] = await inbox(u.id);
        expect(n).toMatchObject({
          type: "TASK_CLAIMED",
          title: "Task claimed: Fix the parser",
          link: `/tasks/${taskId}`,
        });
        expect(n!.metadata).toMatchObject({ event: "task.claimed", taskId });
        expect(await outbox(u.id)).toHaveLength(0); // in the app only by default
      }
      expect(await inbox(contributor.id)).toHaveLength(0);
      expect(await inbox(outsider.id)).toHaveLength(0);

      // A failed verification: the claimer is told which tests failed, in the app and by e-mail.
      const [claim] = await db
        .insert(taskClaims)
        .values({ taskId, userId: contributor.id, expiresAt: new Date(Date.now() + 86_400_000) })
        .returning();
      const [link] = await db
        .insert(taskWorkLinks)
        .values({
          taskId,
          claimId: claim!.id,
          kind: "branch",
          repoUrl: "http://git.test/p",
          branch: "fix",
          commit: "a".repeat(40),
        })
        .returning();
      const [v] = await db
        .insert(taskVerifications)
        .values({
          taskId,
          claimId: claim!.id,
          workLinkId: link!.id,
          commit: "a".repeat(40),
          status: "FAILED",
          tests: [
            { id: "test > parser.test.ts > parses numbers", passed: true },
            { id: "test > parser.test.ts > parses strings", passed: false },
          ],
          named: [{ id: "test > parser.test.ts > parses unicode", status: "missing" }],
        })
        .returning();
      await db.transaction((tx) =>
        emitTaskEvent(tx, "task.verification_failed", {
          ...base,
          actorId: null,
          claimerId: contributor.id,
          reason: "1 test failed",
          verificationId: v!.id,
        }),
      );
      await deliverEvents(t.ctx);
      const failed = (await inbox(contributor.id)).find((n) => n.type === "VERIFICATION_FAILED")!;
      expect(failed.title).toBe("Verification failed: Fix the parser");
      expect(failed.body).toBe(
        "1 test failed\n\nFailing tests:\n- test > parser.test.ts > parses unicode (missing)\n- test > parser.test.ts > parses strings",
      );
      expect(failed.link).toBe(`/tasks/${taskId}`);
      const [failMail] = await outbox(contributor.id);
      expect(failMail).toMatchObject({ kind: "VERIFICATION_FAILED", link: `/tasks/${taskId}`, bodyText: failed.body });
      expect(await inbox(owner.id)).toHaveLength(1); // reviewers are not told of a failure

      // The payment: the contributor received amount − fee with the transaction; the reviewers sent it.
      const txHash = `0x${"b".repeat(64)}`;
      const [payment] = await db
        .insert(payments)
        .values({
          taskId,
          amount: "1500000000000000000",
          fee: "15000000000000000",
          tokenAddress: "native",
          payee: "0x00000000000000000000000000000000000b0b01",
          txHash,
          status: "COMPLETED",
        })
        .returning();
      const { id: paidEvent } = await db.transaction((tx) =>
        emitEvent(tx as Db, "payment.completed", {
          ...base,
          paymentId: payment!.id,
          txHash,
          amount: payment!.amount,
          payee: payment!.payee,
        }),
      );
      await db.update(tasks).set({ claimedById: contributor.id }).where(eq(tasks.id, taskId));
      await deliverEvents(t.ctx);
      const received = (await inbox(contributor.id)).find((n) => n.type === "PAYMENT")!;
      expect(received.title).toBe("Payment received: 1.485 ETH for Fix the parser");
      // the stored address is lower case; the message shows it as wallets do (EIP-55)
      expect(received.body).toContain(`You received 1.485 ETH at ${getAddress(payment!.payee)}`);
      expect(getAddress(payment!.payee)).not.toBe(payment!.payee);
      expect(received.body).toContain("(1.5 ETH less the 0.015 ETH fee)");
      expect(received.body).toContain(`Transaction: ${txHash}`);
      expect(received.link).toBe("/me/earnings");
      expect((await outbox(contributor.id)).map((x) => x.kind)).toEqual(["VERIFICATION_FAILED", "PAYMENT"]);
      for (const u of [owner, maintainer]) {
        const sent = (await inbox(u.id)).find((n) => n.type === "PAYMENT_SENT")!;
        expect(sent.title).toBe("Payment sent: 1.5 ETH for Fix the parser");
        expect(sent.body).toContain(txHash);
        expect((await outbox(u.id)).map((x) => x.kind)).toEqual(["PAYMENT_SENT"]);
      }
      // a second delivery of the same event (a job run twice) tells nobody again
      await db.update(domainEvents).set({ deliveredAt: null }).where(eq(domainEvents.id, paidEvent));
      await t.ctx.events!.deliver(paidEvent);
      expect((await inbox(contributor.id)).filter((n) => n.type === "PAYMENT")).toHaveLength(1);
      expect((await outbox(owner.id)).filter((n) => n.kind === "PAYMENT_SENT")).toHaveLength(1);

      // Funding, yield, repository access and a claim about to expire.
      await db.transaction(async (tx) => {
        await emitEvent(tx as Db, "project.funded", {
          orgId: org!.id,
          projectId: project!.id,
          amount: "2000000000000000000",
        });
        await emitEvent(tx as Db, "yield.harvested", {
          orgId: org!.id,
          projectId: project!.id,
          harvestId: crypto.randomUUID(),
          yieldAmount: "100000000000000000",
          fee: "10000000000000000",
          sponsorShare: "90000000000000000",
          txHash,
        });
        await emitEvent(tx as Db, "repo.access_granted", {
          orgId: org!.id,
          projectId: project!.id,
          taskId,
          userId: contributor.id,
          repo: "acme/parser",
          state: "PENDING",
          acceptUrl: "https://github.com/acme/parser/invitations",
        });
        await emitTaskEvent(tx, "task.claim_expiring", {
          ...base,
          actorId: null,
          claimerId: contributor.id,
          reason: "Link your work before 2030-01-01 00:00 UTC or the claim ends.",
        });
      });
      await deliverEvents(t.ctx);
      const ownerSaw = await inbox(owner.id);
      expect(ownerSaw.find((n) => n.type === "PROJECT_FUNDED")).toMatchObject({
        title: "Project funded: Parser",
        body: "2 ETH deposited; its tasks can be claimed.",
        link: `/projects/${project!.id}`,
      });
      expect(ownerSaw.find((n) => n.type === "YIELD_HARVESTED")).toMatchObject({
        title: "Yield harvested: 0.1 ETH for Parser",
        link: `/projects/${project!.id}`,
      });
      expect(ownerSaw.find((n) => n.type === "YIELD_HARVESTED")!.body).toContain(
        "Sponsors' share 0.09 ETH, fee 0.01 ETH",
      );
      const contributorSaw = await inbox(contributor.id);
      expect(contributorSaw.find((n) => n.type === "REPO_ACCESS_GRANTED")).toMatchObject({
        title: "Repository access: acme/parser",
        link: `/tasks/${taskId}`,
      });
      expect(contributorSaw.find((n) => n.type === "REPO_ACCESS_GRANTED")!.body).toContain(
        "https://github.com/acme/parser/invitations",
      );
      expect(contributorSaw.find((n) => n.type === "CLAIM_EXPIRING")).toMatchObject({
        title: "Your claim expires soon: Fix the parser",
        body: "Link your work before 2030-01-01 00:00 UTC or the claim ends.",
      });
      expect(contributorSaw.some((n) => n.type === "PROJECT_FUNDED")).toBe(false); // a contributor, not a sponsor
      expect((await outbox(contributor.id)).map((x) => x.kind)).toEqual([
        "VERIFICATION_FAILED",
        "PAYMENT",
        "REPO_ACCESS_GRANTED",
        "CLAIM_EXPIRING",
      ]);
      expect(await inbox(outsider.id)).toHaveLength(0);
      const undelivered = await db
        .select()
        .from(domainEvents)
        .where(and(eq(domainEvents.orgId, org!.id)));
      expect(undelivered.every((e) => e.deliveredAt !== null)).toBe(true);
    }, 60_000);

    test("the preferences page is linked from the notifications page and the profile, and saves its form", async () => {
      const u = await createUser(t);
      expect(await (await u.request("GET", "/notifications")).text()).toContain('href="/notifications/preferences"');
      expect(await (await u.request("GET", "/profile")).text()).toContain('href="/notifications/preferences"');
      const page = await (await u.request("GET", "/notifications/preferences")).text();
      expect(page).toContain("Notification preferences");
      expect(page).toMatch(/id="type-PAYMENT"[\s\S]*?name="email\.PAYMENT" value="true" checked/);
      expect(page).toMatch(/name="email\.INVITE" value="true" checked disabled/);
      // ticked: PAYMENT in the app only and TASK_CLAIMED on both; everything else unticked
      const form = new URLSearchParams({
        _csrf: u.csrf,
        emailNotifications: "true",
        "inApp.PAYMENT": "true",
        "inApp.TASK_CLAIMED": "true",
        "email.TASK_CLAIMED": "true",
      });
      const saved = await u.request("POST", "/notifications/preferences", { body: form });
      expect(saved.status).toBe(303);
      expect(saved.headers.get("location")).toBe("/notifications/preferences?done=saved");
      const p = await prefsOf(u);
      expect(typeOf(p, "PAYMENT")).toMatchObject({ inApp: true, email: false });
      expect(typeOf(p, "TASK_CLAIMED")).toMatchObject({ inApp: true, email: true });
      expect(typeOf(p, "VERIFICATION_FAILED")).toMatchObject({ inApp: false, email: false });
      expect(typeOf(p, "INVITE")).toMatchObject({ inApp: true, email: true });
      const again = await (await u.request("GET", "/notifications/preferences?done=saved")).text();
      expect(again).toContain("Notification preferences saved.");
      expect((await t.request("GET", "/notifications/preferences")).status).toBe(303);
    }, 60_000);
  });
}
