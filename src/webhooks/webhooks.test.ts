// Outgoing webhooks against a real local receiver (Bun.serve), on the real job queue and event bus, on PGlite and
// (with TEST_DATABASE_URL) PostgreSQL: signed generic deliveries, Slack and Discord shapes, retries driven through
// the queue (a failed job is made due at once: no sleeping through backoff), SSRF refusals at save and at delivery,
// tenant isolation, disabling after failures with the owners told, and a delivery that survives a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac } from "node:crypto";
import { and, eq } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { addMember, createOrgAs, createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { type Lifecycle, setupDomains } from "../app";
import { bootstrap } from "../core/boot";
import { loadConfig } from "../core/config";
import type { AppContext } from "../core/context";
import type { Db } from "../core/db";
import { domainEvents } from "../events/schema";
import { emitEvent } from "../events/service";
import { notifications } from "../notifications/schema";
import { webhookAttempts, webhookDeliveries, webhookEndpoints } from "./schema";

/** Waits until `check` is true (polling), or fails after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms = 15_000) {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await Bun.sleep(25);
  }
}

interface Hit {
  path: string;
  headers: Headers;
  body: string;
  status: number;
}

/** A receiver: `/ok/*` answers 200, `/fail/<n>/*` 500 for its first n requests then 200, `/gone/*` 410. */
function startReceiver() {
  const hits: Hit[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const path = new URL(req.url).pathname;
      const body = await req.text();
      const before = hits.filter((h) => h.path === path).length;
      let status = 200;
      const fail = /^\/fail\/(\d+)\//.exec(path);
      if (fail && before < Number(fail[1])) status = 500;
      if (path.startsWith("/gone/")) status = 410;
      if (path.startsWith("/redirect/")) {
        hits.push({ path, headers: req.headers, body, status: 302 });
        return new Response(null, { status: 302, headers: { location: "http://169.254.169.254/latest/meta-data" } });
      }
      hits.push({ path, headers: req.headers, body, status });
      return new Response(status === 200 ? "thanks" : `no ${"x".repeat(5000)}`, { status });
    },
  });
  return { hits, url: (path: string) => `http://127.0.0.1:${server.port}${path}`, stop: () => server.stop(true) };
}

for (const kind of dbKinds()) {
  describe(`outgoing webhooks [${kind}]`, () => {
    let t: TestApp;
    let owner: TestUser;
    let orgA: string;
    let outsider: TestUser;
    let orgB: string;
    const receiver = startReceiver();
    const hitsOf = (path: string) => receiver.hits.filter((h) => h.path === path);

    beforeAll(async () => {
      t = await createTestApp(kind);
      // loopback only because the admin allowed it, as for a local git host
      await t.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"] }, null);
      owner = await createUser(t);
      orgA = await createOrgAs(owner, "Acme Webhooks");
      outsider = await createUser(t);
      orgB = await createOrgAs(outsider, "Other Org");
      t.ctx.jobs.start();
    }, 60_000);
    afterAll(async () => {
      receiver.stop();
      await t.close();
    });

    const addEndpoint = async (as: TestUser, orgId: string, body: Record<string, unknown>) => {
      const res = await as.request("POST", `/api/orgs/${orgId}/webhooks`, { body });
      expect(res.status).toBe(201);
      return (await res.json()) as { id: string; secret: string; url: string };
    };
    const emit = (name: string, payload: Record<string, unknown>) =>
      t.ctx.db.transaction((tx) => emitEvent(tx as Db, name, payload));
    /** Waits until the bus has handed every event of `orgId` to its subscribers. */
    const settled = (orgId: string) =>
      until(
        async () =>
          (await t.ctx.database.exec("select 1 from domain_events where org_id = $1 and delivered_at is null", [orgId]))
            .length === 0,
      );
    const deliveriesOf = (endpointId: string) =>
      t.ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, endpointId));

    test("a generic endpoint gets signed deliveries that verify; a redelivered event is not sent twice", async () => {
      const path = `/ok/${crypto.randomUUID()}`;
      const hook = await addEndpoint(owner, orgA, { name: "Automation", url: receiver.url(path), format: "generic" });
      expect(hook.secret).toMatch(/^whsec_/);
      // the secret is shown once: reads never carry it
      const read = await (await owner.request("GET", `/api/orgs/${orgA}/webhooks/${hook.id}`)).json();
      expect(JSON.stringify(read)).not.toContain(hook.secret);
      const [stored] = await t.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, hook.id));
      expect(stored!.secretSealed).not.toContain(hook.secret);
      expect(stored!.urlSealed).not.toContain("127.0.0.1");

      const taskId = crypto.randomUUID();
      const { id } = await emit("task.claimed", {
        orgId: orgA,
        taskId,
        title: "Add CSV export",
        actorId: owner.id,
        claimerId: owner.id,
      });
      await until(() => hitsOf(path).length === 1);
      const hit = hitsOf(path)[0]!;
      const sig = hit.headers.get("x-devsponsor-signature")!;
      const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
      expect(m).not.toBeNull();
      const expected = createHmac("sha256", hook.secret).update(`${m![1]}.${hit.body}`).digest("hex");
      expect(m![2]).toBe(expected);
      expect(Math.abs(Number(m![1]) - Date.now() / 1000)).toBeLessThan(60);
      // a wrong secret does not verify
      expect(createHmac("sha256", "whsec_other").update(`${m![1]}.${hit.body}`).digest("hex")).not.toBe(m![2]);
      expect(hit.headers.get("x-devsponsor-event")).toBe("task.claimed");
      const body = JSON.parse(hit.body);
      expect(body).toMatchObject({
        id,
        type: "task.claimed",
        org: { id: orgA, name: "Acme Webhooks" },
        data: { taskId, title: "Add CSV export" },
      });
      expect(body.url).toEndWith(`/tasks/${taskId}`);
      expect(Date.parse(body.occurredAt)).toBeGreaterThan(0);
      // who acted stays out of the payload
      expect(hit.body).not.toContain(owner.id);
      const [delivery] = await deliveriesOf(hook.id);
      expect(hit.headers.get("x-devsponsor-delivery")).toBe(delivery!.id);

      await until(async () => (await deliveriesOf(hook.id))[0]?.status === "succeeded");
      const log = await owner.request("GET", `/api/orgs/${orgA}/webhooks/${hook.id}/deliveries/${delivery!.id}`);
      const detail = (await log.json()) as { status: string; log: { statusCode: number; durationMs: number }[] };
      expect(detail.status).toBe("succeeded");
      expect(detail.log).toHaveLength(1);
      expect(detail.log[0]!.statusCode).toBe(200);
      expect(detail.log[0]!.durationMs).toBeGreaterThanOrEqual(0);

      // the bus hands the same event over again (at least once): no second delivery, no second request
      await t.ctx.database.exec(
        "update domain_events set delivered_at = null, delivered_to = array_remove(delivered_to, 'webhooks') where id = $1",
        [id],
      );
      await t.ctx.events!.deliver(id);
      const [ev] = await t.ctx.db.select().from(domainEvents).where(eq(domainEvents.id, id));
      expect(ev!.deliveredTo).toContain("webhooks");
      await Bun.sleep(300);
      expect(await deliveriesOf(hook.id)).toHaveLength(1);
      expect(hitsOf(path)).toHaveLength(1);
    }, 30_000);

    test("a new signing secret signs the next delivery; the old one no longer verifies", async () => {
      const path = `/ok/${crypto.randomUUID()}`;
      const hook = await addEndpoint(owner, orgA, {
        name: "Rotated",
        url: receiver.url(path),
        format: "generic",
        events: ["invite.declined"],
      });
      const res = await owner.request("POST", `/api/orgs/${orgA}/webhooks/${hook.id}/secret`);
      expect(res.status).toBe(200);
      const { secret } = (await res.json()) as { secret: string };
      expect(secret).not.toBe(hook.secret);
      await emit("invite.declined", { orgId: orgA, inviteId: crypto.randomUUID(), userId: owner.id });
      await until(() => hitsOf(path).length === 1);
      const hit = hitsOf(path)[0]!;
      const [, t0, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(hit.headers.get("x-devsponsor-signature")!)!;
      expect(createHmac("sha256", secret).update(`${t0}.${hit.body}`).digest("hex")).toBe(v1!);
      expect(createHmac("sha256", hook.secret).update(`${t0}.${hit.body}`).digest("hex")).not.toBe(v1!);
      expect(hit.body).not.toContain(owner.id);
      // the page offers it too, and shows the new secret once
      const page = await owner.request("POST", `/orgs/${orgA}/webhooks/${hook.id}/secret`);
      expect(page.status).toBe(200);
      const html = await page.text();
      const shown = /whsec_[A-Za-z0-9_-]+/.exec(html)![0];
      expect(shown).not.toBe(secret);
      expect(await (await owner.request("GET", `/orgs/${orgA}/webhooks/${hook.id}`)).text()).not.toContain(shown);
    }, 30_000);

    test("Slack and Discord endpoints get a readable line with a link; event filters choose what goes where", async () => {
      const slackPath = `/ok/slack-${crypto.randomUUID()}`;
      const discordPath = `/ok/discord-${crypto.randomUUID()}`;
      await t.ctx.settings.update({ "instance.publicUrl": "https://sponsor.example.org" }, null);
      try {
        await addEndpoint(owner, orgA, {
          name: "Slack",
          url: receiver.url(slackPath),
          format: "slack",
          events: ["project.*"],
        });
        await addEndpoint(owner, orgA, {
          name: "Discord",
          url: receiver.url(discordPath),
          format: "discord",
          events: ["task.paid"],
        });
        const projectId = crypto.randomUUID();
        await emit("project.funded", { orgId: orgA, projectId, amount: "1500" });
        await until(() => hitsOf(slackPath).length === 1);
        const slack = JSON.parse(hitsOf(slackPath)[0]!.body);
        expect(slack.text).toBe(
          `[Acme Webhooks] Project funded (amount 1500) <https://sponsor.example.org/projects/${projectId}|Open>`,
        );
        expect(slack.blocks[0].type).toBe("section");
        expect(hitsOf(slackPath)[0]!.headers.get("x-devsponsor-signature")).toBeNull();
        // text from users cannot ping a channel or make links in Slack
        await emit("project.renamed", { orgId: orgA, projectId, title: "<!channel> & <https://evil.example|x>" });
        await until(() => hitsOf(slackPath).length === 2);
        const renamed = JSON.parse(hitsOf(slackPath)[1]!.body);
        expect(renamed.text).toStartWith(
          "[Acme Webhooks] Project renamed: &lt;!channel&gt; &amp; &lt;https://evil.example|x&gt; <https://",
        );

        const taskId = crypto.randomUUID();
        await emit("task.paid", { orgId: orgA, taskId, title: "Fix <b>bug</b>", payee: "0xabc" });
        await until(() => hitsOf(discordPath).length === 1);
        const discord = JSON.parse(hitsOf(discordPath)[0]!.body);
        expect(discord.content).toBe(
          `[Acme Webhooks] Task paid: Fix <b>bug</b> https://sponsor.example.org/tasks/${taskId}`,
        );
        expect(discord.embeds[0]).toMatchObject({ url: `https://sponsor.example.org/tasks/${taskId}` });
        expect(hitsOf(discordPath)[0]!.body).not.toContain("0xabc");
        await Bun.sleep(300);
        expect(hitsOf(slackPath)).toHaveLength(2); // task.paid is not a project.* event
        expect(hitsOf(discordPath)).toHaveLength(1);
      } finally {
        await t.ctx.settings.update({ "instance.publicUrl": "" }, null);
      }
    }, 30_000);

    test("a receiver that fails three times and then answers 200 receives the event exactly once more", async () => {
      const path = `/fail/3/${crypto.randomUUID()}`;
      const hook = await addEndpoint(owner, orgA, { name: "Flaky", url: receiver.url(path), format: "generic" });
      const { id } = await emit("task.verified", { orgId: orgA, taskId: crypto.randomUUID(), title: "T" });
      for (let n = 1; n <= 3; n++) {
        await until(() => hitsOf(path).length === n);
        const [d] = await deliveriesOf(hook.id);
        // the failed attempt left the job waiting for its backoff: 30 s·2^(n−1), a random point in its upper half
        let job = await t.ctx.jobs.get(d!.jobId!);
        await until(async () => {
          job = await t.ctx.jobs.get(d!.jobId!);
          return job?.state === "failed";
        });
        const waitMs = job!.runAt.getTime() - Date.now();
        expect(waitMs).toBeGreaterThan(15_000 * 2 ** (n - 1) - 2_000);
        expect(waitMs).toBeLessThanOrEqual(30_000 * 2 ** (n - 1));
        const listed = (await (
          await owner.request("GET", `/api/orgs/${orgA}/webhooks/${hook.id}/deliveries`)
        ).json()) as {
          deliveries: { status: string; attempts: number; lastStatusCode: number; nextAttemptAt: string }[];
        };
        expect(listed.deliveries[0]).toMatchObject({ status: "pending", attempts: n, lastStatusCode: 500 });
        expect(Date.parse(listed.deliveries[0]!.nextAttemptAt)).toBe(job!.runAt.getTime());
        // the backoff is over: the job is due now (its attempt count, and so the next backoff, keeps growing)
        await t.ctx.database.exec("update jobs set run_at = now() where id = $1 and state = 'failed'", [job!.id]);
      }
      await until(async () => (await deliveriesOf(hook.id))[0]?.status === "succeeded");
      await Bun.sleep(500);
      const hits = hitsOf(path);
      expect(hits.map((h) => h.status)).toEqual([500, 500, 500, 200]);
      expect(new Set(hits.map((h) => JSON.parse(h.body).id))).toEqual(new Set([id]));
      const [d] = await deliveriesOf(hook.id);
      const attempts = await t.ctx.db
        .select()
        .from(webhookAttempts)
        .where(eq(webhookAttempts.deliveryId, d!.id))
        .orderBy(webhookAttempts.id);
      expect(attempts.map((a) => a.statusCode)).toEqual([500, 500, 500, 200]);
      expect(attempts[0]!.responseBody!.length).toBe(2000); // the long error page is cut
      const [endpoint] = await t.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, hook.id));
      expect(endpoint).toMatchObject({ enabled: true, consecutiveFailures: 0, failingSince: null });
    }, 60_000);

    test("forbidden addresses are refused when saved and when delivering; redirects are not followed", async () => {
      for (const url of [
        "http://169.254.169.254/latest/meta-data",
        "http://10.1.2.3/hook",
        "http://[::ffff:10.0.0.1]/",
      ]) {
        const res = await owner.request("POST", `/api/orgs/${orgA}/webhooks`, {
          body: { name: "Bad", url, format: "generic" },
        });
        expect(res.status).toBe(400);
        const err = (await res.json()) as { error: { code: string; details: { fields: Record<string, string> } } };
        expect(err.error.code).toBe("INVALID_INPUT");
        expect(err.error.details.fields.url).toContain("not allowed");
      }
      // the form says so too, keeping what was typed
      const page = await owner.request("POST", `/orgs/${orgA}/webhooks`, {
        body: new URLSearchParams({ name: "Meta", url: "http://169.254.169.254/", format: "slack", enabled: "on" }),
      });
      expect(page.status).toBe(400);
      const html = await page.text();
      expect(html).toContain("metadata address");
      expect(html).toContain('value="Meta"');

      // saved while allowed; the admin then takes loopback off the allow-list: the attempt is refused, nothing sent
      const path = `/ok/${crypto.randomUUID()}`;
      const hook = await addEndpoint(owner, orgA, { name: "Local", url: receiver.url(path), format: "generic" });
      await t.ctx.settings.update({ "security.allowedRepoHosts": [] }, null);
      try {
        const res = await owner.request("POST", `/api/orgs/${orgA}/webhooks/${hook.id}/test`);
        expect(res.status).toBe(202);
        await until(async () => (await deliveriesOf(hook.id))[0]?.status === "failed");
        const [d] = await deliveriesOf(hook.id);
        expect(d!.lastError).toContain("loopback");
        expect(hitsOf(path)).toHaveLength(0);
      } finally {
        await t.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"] }, null);
      }

      const redirect = `/redirect/${crypto.randomUUID()}`;
      const r = await addEndpoint(owner, orgA, { name: "Moved", url: receiver.url(redirect), format: "generic" });
      await owner.request("POST", `/api/orgs/${orgA}/webhooks/${r.id}/test`);
      await until(async () => (await deliveriesOf(r.id))[0]?.status === "failed");
      expect((await deliveriesOf(r.id))[0]!.lastStatusCode).toBe(302);
      expect(hitsOf(redirect)).toHaveLength(1);
    }, 30_000);

    test("an endpoint of org A is invisible to org B and to A's members without the right role", async () => {
      const path = `/ok/${crypto.randomUUID()}`;
      const hook = await addEndpoint(owner, orgA, { name: "Private", url: receiver.url(path), format: "generic" });
      for (const [method, p] of [
        ["GET", `/api/orgs/${orgA}/webhooks`],
        ["GET", `/api/orgs/${orgA}/webhooks/${hook.id}`],
        ["GET", `/api/orgs/${orgB}/webhooks/${hook.id}`],
        ["PATCH", `/api/orgs/${orgB}/webhooks/${hook.id}`],
        ["DELETE", `/api/orgs/${orgB}/webhooks/${hook.id}`],
        ["POST", `/api/orgs/${orgB}/webhooks/${hook.id}/test`],
        ["GET", `/api/orgs/${orgB}/webhooks/${hook.id}/deliveries`],
        ["GET", `/orgs/${orgA}/webhooks/${hook.id}`],
      ] as const) {
        const res = await outsider.request(method, p, method === "PATCH" ? { body: { name: "mine" } } : {});
        expect(`${method} ${p} ${res.status}`).toBe(`${method} ${p} 404`);
      }
      const listB = (await (await outsider.request("GET", `/api/orgs/${orgB}/webhooks`)).json()) as {
        webhooks: unknown[];
      };
      expect(listB.webhooks).toEqual([]);
      const sponsor = await createUser(t);
      await addMember(owner, orgA, sponsor, "SPONSOR");
      expect((await sponsor.request("GET", `/api/orgs/${orgA}/webhooks`)).status).toBe(403);
      expect((await sponsor.request("POST", `/api/orgs/${orgA}/webhooks/${hook.id}/test`)).status).toBe(403);
      const maintainer = await createUser(t);
      await addMember(owner, orgA, maintainer, "MAINTAINER");
      expect((await maintainer.request("GET", `/api/orgs/${orgA}/webhooks/${hook.id}`)).status).toBe(200);
      // org B's events never reach org A's endpoints
      await emit("task.claimed", { orgId: orgB, taskId: crypto.randomUUID(), title: "B's task" });
      await settled(orgB);
      await Bun.sleep(300);
      expect(hitsOf(path).filter((h) => JSON.parse(h.body).org.id !== orgA)).toHaveLength(0);
      const types = (await deliveriesOf(hook.id)).map((d) => d.eventType);
      expect(types).not.toContain("task.claimed"); // A's own invite events did arrive
    }, 30_000);

    test("an endpoint is disabled after N failed deliveries in a row and the org's owners are told", async () => {
      const boss = await createUser(t);
      const orgC = await createOrgAs(boss, "Failing Org");
      const maintainer = await createUser(t);
      await addMember(boss, orgC, maintainer, "MAINTAINER");
      await t.ctx.settings.update({ "webhooks.disableAfterFailures": 3 }, null);
      await settled(orgC); // the invite's events went out before the endpoint exists
      try {
        const path = `/gone/${crypto.randomUUID()}`;
        const hook = await addEndpoint(boss, orgC, { name: "Gone", url: receiver.url(path), format: "discord" });
        for (let i = 0; i < 3; i++)
          await emit("task.claimed", { orgId: orgC, taskId: crypto.randomUUID(), title: `T${i}` });
        const endpoint = async () =>
          (await t.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, hook.id)))[0]!;
        await until(async () => !(await endpoint()).enabled);
        expect((await endpoint()).disabledReason).toContain("3 deliveries in a row failed");
        expect(hitsOf(path)).toHaveLength(3); // a 410 is not retried
        const told = (userId: string) =>
          t.ctx.db
            .select()
            .from(notifications)
            .where(and(eq(notifications.userId, userId), eq(notifications.type, "WEBHOOK_DISABLED")));
        const notes = await told(boss.id);
        expect(notes).toHaveLength(1);
        expect(notes[0]).toMatchObject({ title: "Webhook disabled: Gone", link: `/orgs/${orgC}/webhooks/${hook.id}` });
        expect(await told(maintainer.id)).toHaveLength(0);
        // a disabled endpoint gets no new deliveries
        await emit("task.claimed", { orgId: orgC, taskId: crypto.randomUUID(), title: "T4" });
        // handed to the subscribers while the endpoint is still disabled (a later hand-over would find it enabled)
        await settled(orgC);
        expect(await deliveriesOf(hook.id)).toHaveLength(3);
        // the page says why and offers to turn it on again
        const page = await (await boss.request("GET", `/orgs/${orgC}/webhooks/${hook.id}`)).text();
        expect(page).toContain("3 deliveries in a row failed");
        expect(page).toContain(`/orgs/${orgC}/webhooks/${hook.id}/enable`);
        const res = await boss.request("POST", `/api/orgs/${orgC}/webhooks/${hook.id}/enable`);
        expect(res.status).toBe(200);
        expect(await endpoint()).toMatchObject({ enabled: true, consecutiveFailures: 0, disabledAt: null });

        // a failed delivery can be sent again once the receiver is fixed (here: another endpoint URL)
        const fixed = `/ok/${crypto.randomUUID()}`;
        await boss.request("PATCH", `/api/orgs/${orgC}/webhooks/${hook.id}`, { body: { url: receiver.url(fixed) } });
        const [failed] = await deliveriesOf(hook.id);
        const again = await boss.request(
          "POST",
          `/api/orgs/${orgC}/webhooks/${hook.id}/deliveries/${failed!.id}/redeliver`,
        );
        expect(again.status).toBe(202);
        await until(() => hitsOf(fixed).length === 1);
        await until(async () => (await deliveriesOf(hook.id)).some((d) => d.status === "succeeded"));
      } finally {
        await t.ctx.settings.update({ "webhooks.disableAfterFailures": 10 }, null);
      }
    }, 30_000);

    test("an endpoint failing for 24 hours is disabled", async () => {
      const path = `/fail/100/${crypto.randomUUID()}`;
      const hook = await addEndpoint(owner, orgA, { name: "Down", url: receiver.url(path), format: "generic" });
      // it has failed since yesterday (every attempt, no success)
      await t.ctx.db
        .update(webhookEndpoints)
        .set({ failingSince: new Date(Date.now() - 25 * 3_600_000) })
        .where(eq(webhookEndpoints.id, hook.id));
      await emit("task.claimed", { orgId: orgA, taskId: crypto.randomUUID(), title: "T" });
      await until(async () => {
        const [e] = await t.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, hook.id));
        return e!.enabled === false;
      });
      const [e] = await t.ctx.db.select().from(webhookEndpoints).where(eq(webhookEndpoints.id, hook.id));
      expect(e!.disabledReason).toContain("24 hours");
      expect(hitsOf(path)).toHaveLength(1);
    }, 30_000);

    test("a delivery recorded before a crash is sent by the next instance on the same database", async () => {
      const t2 = await createTestApp(kind); // its workers never start: it dies after recording the delivery
      let next: { ctx: AppContext; lifecycle: Lifecycle } | undefined;
      try {
        await t2.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"] }, null);
        const boss = await createUser(t2);
        const org = await createOrgAs(boss, "Crashy");
        const path = `/ok/${crypto.randomUUID()}`;
        const res = await boss.request("POST", `/api/orgs/${org}/webhooks`, {
          body: { name: "Survivor", url: receiver.url(path), format: "generic" },
        });
        const hook = (await res.json()) as { id: string };
        const { id } = await t2.ctx.db.transaction((tx) =>
          emitEvent(tx as Db, "payment.completed", { orgId: org, taskId: crypto.randomUUID(), amount: "7" }),
        );
        await t2.ctx.events!.deliver(id); // the bus ran: the delivery row and its job are committed
        const rows = await t2.ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.endpointId, hook.id));
        expect(rows.map((r) => r.status)).toEqual(["pending"]);
        await Bun.sleep(200);
        expect(hitsOf(path)).toHaveLength(0);

        const env = { DEVSPONSOR_DATA_DIR: t2.ctx.config.dataDir, DEVSPONSOR_MASTER_KEY: "11".repeat(32) };
        const ctx = await bootstrap(loadConfig(env), { database: t2.ctx.database, env });
        next = { ctx, lifecycle: await setupDomains(ctx) };
        await next.lifecycle.start();
        await until(() => hitsOf(path).length === 1);
        expect(JSON.parse(hitsOf(path)[0]!.body).id).toBe(id);
        const [after] = await t2.ctx.db
          .select()
          .from(webhookDeliveries)
          .where(eq(webhookDeliveries.endpointId, hook.id));
        await until(async () => {
          const [d] = await t2.ctx.db.select().from(webhookDeliveries).where(eq(webhookDeliveries.id, after!.id));
          return d!.status === "succeeded";
        });
        await Bun.sleep(300);
        expect(hitsOf(path)).toHaveLength(1);
      } finally {
        await next?.lifecycle.stop();
        await t2.close();
      }
    }, 60_000);
  });
}
