import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../test/support/app";
import { addMember, apiKeyFor, createOrgAs, createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";

for (const kind of dbKinds()) {
  describe(`who reads a run [${kind}]`, () => {
    let t: TestApp;
    const who: Record<string, TestUser> = {};
    let plannerRun: string;
    let systemRun: string;
    let unscopedRun: string;

    beforeAll(async () => {
      t = await createTestApp(kind);
      who.admin = await createUser(t, { admin: true });
      for (const name of ["owner", "sponsor", "contributor", "outsider"]) who[name] = await createUser(t);
      const orgId = await createOrgAs(who.owner!);
      await addMember(who.owner!, orgId, who.sponsor!, "SPONSOR");
      await addMember(who.owner!, orgId, who.contributor!, "CONTRIBUTOR");
      await createOrgAs(who.outsider!);
      const project = await who.owner!.request("POST", `/api/orgs/${orgId}/projects`, { body: { title: "Runs" } });
      const projectId = ((await project.json()) as { id: string }).id;
      // The planner sets the run's org and project when it enqueues.
      const started = await who.owner!.request("POST", `/api/projects/${projectId}/generate-milestones`);
      expect(started.status).toBe(202);
      plannerRun = ((await started.json()) as { runId: string }).runId;
      const run = (await t.ctx.jobs.get(plannerRun))!;
      expect({ orgId: run.orgId, projectId: run.projectId }).toEqual({ orgId, projectId });
      // A system run (chain sync) and a run enqueued without a scope, whose payload names an org it does not belong to.
      systemRun = (await t.ctx.jobs.enqueue("test.system", {})).id;
      unscopedRun = (await t.ctx.jobs.enqueue("test.payments", { orgId, proofId: crypto.randomUUID() })).id;
    }, 120_000);
    afterAll(() => t.close());

    const read = (user: string | null, id: string, suffix = "") =>
      user ? who[user]!.request("GET", `/api/runs/${id}${suffix}`) : t.request("GET", `/api/runs/${id}${suffix}`);

    const planner: [string | null, number][] = [
      [null, 401],
      ["admin", 200],
      ["owner", 200],
      ["sponsor", 200],
      ["contributor", 403],
      ["outsider", 404],
    ];
    for (const [user, status] of planner) {
      test(`a planner run: ${user ?? "anonymous"} gets ${status}, for the run and its stream`, async () => {
        const res = await read(user, plannerRun);
        expect(res.status).toBe(status);
        if (status === 200) expect(((await res.json()) as { orgId: string }).orgId).toBeString();
        const stream = await read(user, plannerRun, "/stream");
        expect(stream.status).toBe(status);
        await stream.body?.cancel();
      });
    }

    for (const [what, id] of [
      ["a system run", () => systemRun],
      ["a run without a scope (whatever its payload says)", () => unscopedRun],
    ] as const) {
      test(`${what} is for admins only`, async () => {
        for (const user of ["owner", "sponsor", "contributor", "outsider"]) {
          expect((await read(user, id())).status).toBe(404);
          expect((await read(user, id(), "/stream")).status).toBe(404);
        }
        expect((await read("admin", id())).status).toBe(200);
      });
    }

    test("a read-only API key of a member reads the run", async () => {
      const { key } = await apiKeyFor(t, who.sponsor!, ["read"]);
      const res = await t.request("GET", `/api/runs/${plannerRun}`, { headers: { authorization: `Bearer ${key}` } });
      expect(res.status).toBe(200);
    });
  });
}
