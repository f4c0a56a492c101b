// Acceptance tests fixed by the sponsor, on both databases: validation of named tests and files, the pin at the
// plan's approval (a real git repository served over HTTP), re-pinning with an audit entry, hidden test bundles
// (encrypted at rest, returned by loadTestBundle, never shown to contributors), and a flaky verdict waiting for a
// reviewer's decision.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { and, eq } from "drizzle-orm";
import * as tar from "tar";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { deliverEvents } from "../../test/support/events";
import { type GitHost, startGitHost } from "../../test/support/git-host";
import { auditLog } from "../audit/schema";
import { sha256Hex } from "../core/crypto";
import { Plan } from "../milestones/model";
import { tasks } from "../milestones/schema";
import { saveDraft } from "../milestones/service";
import { notifications } from "../notifications/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { templatePlan } from "../planner/template";
import { projects } from "../projects/schema";
import { loadTestBundle } from "./acceptance";
import { taskClaims, taskTestBundles, taskVerifications, taskWorkLinks } from "./schema";
import { recordVerdict } from "./service";

const TASK = {
  title: "Add numbers",
  description: "",
  points: 3,
  acceptanceCriteria: ["adds"],
  verification: { minPassingTests: 1, testCommand: "bun test", rules: [] },
};

/** A tar.gz made by the tar library from real files (`links` become symbolic links). */
async function archive(files: Record<string, string>, links: Record<string, string> = {}, gzip = true, root?: string) {
  const dir = mkdtempSync(join(tmpdir(), "ds-bundle-"));
  try {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(dir, path, ".."), { recursive: true });
      writeFileSync(join(dir, path), text);
    }
    for (const [path, target] of Object.entries(links)) symlinkSync(target, join(dir, path));
    const out = `${dir}.tar${gzip ? ".gz" : ""}`;
    await tar.c(
      { cwd: dir, file: out, gzip, portable: true },
      root ? [root] : [...Object.keys(files), ...Object.keys(links)],
    );
    const bytes = new Uint8Array(readFileSync(out));
    rmSync(out);
    return bytes;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const upload = (bytes: Uint8Array, name = "tests.tar.gz") => {
  const f = new FormData();
  f.set("bundle", new File([bytes as Uint8Array<ArrayBuffer>], name));
  return f;
};

for (const kind of dbKinds()) {
  describe(`acceptance tests [${kind}]`, () => {
    let t: TestApp;
    let host: GitHost;
    let sponsor: TestUser;
    let contributor: TestUser;
    let orgId: string;
    let head0: string;
    /** The repository's head now (a test pushes a commit). */
    let head: string;
    let n = 0;

    const body = async <T = Record<string, any>>(res: Response, status: number): Promise<T> => {
      const text = await res.text();
      if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
      return (text ? JSON.parse(text) : null) as T;
    };
    /** A draft project on the git host's repository `repo` with one task per milestone (two milestones). */
    const draft = async (opts: { repo?: string; payoutReview?: boolean } = {}) => {
      const [p] = await t.ctx.db
        .insert(projects)
        .values({
          orgId,
          title: `Acceptance ${++n}`,
          repoUrl: host.url(opts.repo ?? "acc"),
          repoProvider: "git",
          payoutReview: opts.payoutReview ?? false,
        })
        .returning();
      const plan = {
        milestones: [
          { title: "one", description: "", acceptanceCriteria: [], tasks: [TASK] },
          { title: "two", description: "", acceptanceCriteria: [], tasks: [{ ...TASK, title: "Subtract" }] },
        ],
      };
      await saveDraft(t.ctx.db, p!.id, plan, { source: "edit", userId: sponsor.id });
      const ids = (await t.ctx.db.select({ id: tasks.id }).from(tasks).where(eq(tasks.projectId, p!.id))).map(
        (r) => r.id,
      );
      return { projectId: p!.id, taskIds: ids };
    };
    const taskRow = async (id: string) => (await t.ctx.db.select().from(tasks).where(eq(tasks.id, id)))[0]!;

    beforeAll(async () => {
      host = startGitHost();
      head0 = await host.createRepo("acc", { "package.json": "{}\n", "a.test.ts": "// base\n" });
      head = head0;
      t = await createTestApp(kind);
      await t.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"] }, null);
      sponsor = await createUser(t);
      contributor = await createUser(t);
      const [org] = await t.ctx.db
        .insert(orgs)
        .values({ name: `Acceptance ${kind}` })
        .returning();
      orgId = org!.id;
      await t.ctx.db.insert(orgMembers).values([
        { orgId, userId: sponsor.id, role: "OWNER" },
        { orgId, userId: contributor.id, role: "CONTRIBUTOR" },
      ]);
    }, 120_000);
    afterAll(async () => {
      await t.close();
      await host.stop();
    });

    test("named tests and files are validated: duplicates, control characters, too many, too long, unsafe paths", async () => {
      const { taskIds } = await draft();
      const put = (b: unknown) => sponsor.request("PUT", `/api/tasks/${taskIds[0]}/acceptance`, { body: b });
      const refused: [unknown, string][] = [
        [{ acceptanceTests: ["a > adds", "a > adds"] }, "acceptanceTests"],
        [{ acceptanceTests: ["a > \u0007bell"] }, "acceptanceTests.0"],
        [{ acceptanceTests: Array.from({ length: 33 }, (_, i) => `a > t${i}`) }, "acceptanceTests"],
        [{ acceptanceTests: ["x".repeat(301)] }, "acceptanceTests.0"],
        [{ testFiles: ["../secrets.test.ts"] }, "testFiles.0"],
        [{ testFiles: ["/etc/passwd"] }, "testFiles.0"],
        [{ testFiles: ["test//a.test.ts"] }, "testFiles.0"],
        [{ testFiles: ["a.test.ts", "a.test.ts"] }, "testFiles"],
      ];
      for (const [b, field] of refused) {
        const err = await body<{ error: { code: string; details: { fields: Record<string, string> } } }>(
          await put(b),
          400,
        );
        expect(err.error.code).toBe("INVALID_INPUT");
        expect(Object.keys(err.error.details.fields)).toContain(field);
      }
      // the draft's PATCH uses the same rules
      const patch = await sponsor.request("PATCH", `/api/tasks/${taskIds[0]}`, {
        body: { verification: { acceptanceTests: ["same", "same"] } },
      });
      expect(patch.status).toBe(400);
      const tests = Array.from({ length: 32 }, (_, i) => `test > a.test.ts > case ${i}`);
      const ok = await body(
        await put({ acceptanceTests: tests, testFiles: ["a.test.ts"], testCommand: "bun test" }),
        200,
      );
      expect(ok.task.verification.acceptanceTests).toEqual(tests);
      expect((await taskRow(taskIds[0]!)).verification.testFiles).toEqual(["a.test.ts"]);
      // a contributor may read the task but not change its tests
      expect((await contributor.request("PUT", `/api/tasks/${taskIds[0]}/acceptance`, { body: {} })).status).toBe(403);
    });

    test("approval pins every task to the default branch's head; a change after approval re-pins and is audited", async () => {
      const { projectId, taskIds } = await draft();
      const approved = await body(await sponsor.request("POST", `/api/projects/${projectId}/approve-structure`), 200);
      expect(approved.pinnedTo).toEqual({ commit: head0, ref: "refs/heads/main" });
      for (const id of taskIds) {
        expect((await taskRow(id)).acceptancePin).toMatchObject({
          kind: "commit",
          commit: head0,
          ref: "refs/heads/main",
        });
      }
      const head1 = await host.push("acc", { "b.test.ts": "// more\n" });
      expect(head1).not.toBe(head0);
      head = head1;
      await body(
        await sponsor.request("PUT", `/api/tasks/${taskIds[0]}/acceptance`, {
          body: { acceptanceTests: ["test > b.test.ts > more"], testFiles: ["b.test.ts"] },
        }),
        200,
      );
      const repinned = await taskRow(taskIds[0]!);
      expect(repinned.acceptancePin).toMatchObject({ kind: "commit", commit: head1 });
      expect(repinned.verification.acceptanceTests).toEqual(["test > b.test.ts > more"]);
      // the other task keeps its pin
      expect((await taskRow(taskIds[1]!)).acceptancePin).toMatchObject({ commit: head0 });
      const audited = await t.ctx.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.targetId, taskIds[0]!), eq(auditLog.action, "task.acceptance_changed")));
      expect(audited).toHaveLength(1);
      expect(audited[0]!.payload).toMatchObject({ pinnedTo: head1, previousPin: head0, tests: 1 });
      // contributors see the tests, the pinned commit and the rule before they claim
      const page = await (await contributor.request("GET", `/tasks/${taskIds[0]}`)).text();
      expect(page).toContain("test &gt; b.test.ts &gt; more");
      expect(page).toContain(head1.slice(0, 12));
      expect(page).toContain("may fail.");
      // once claimed, the tests are a promise: no more changes
      await t.ctx.db.update(tasks).set({ status: "CLAIMED" }).where(eq(tasks.id, taskIds[1]!));
      const held = await body(
        await sponsor.request("PUT", `/api/tasks/${taskIds[1]}/acceptance`, { body: { acceptanceTests: ["x"] } }),
        409,
      );
      expect(held.error.code).toBe("TASK_STATE_CONFLICT");
    });

    test("a repository that cannot be read: approved unpinned, and the page says every test must pass", async () => {
      const { projectId, taskIds } = await draft({ repo: "missing" });
      const approved = await body(await sponsor.request("POST", `/api/projects/${projectId}/approve-structure`), 200);
      expect(approved.pinnedTo).toBeNull();
      expect(approved.pinError).toContain("could not be pinned");
      expect((await taskRow(taskIds[0]!)).acceptancePin).toBeNull();
      const page = await (await contributor.request("GET", `/tasks/${taskIds[0]}`)).text();
      expect(page).toContain("every test must pass");
      expect(page).toContain("Not pinned: the repository could not be read");
    });

    test("a hidden bundle is stored encrypted, given back to the harness, and never shown to contributors", async () => {
      const { projectId, taskIds } = await draft();
      const taskId = taskIds[0]!;
      const secret = "expect(add(2, 2)).toBe(4); // SECRET-ASSERTION";
      const bytes = await archive({ "tests/hidden-sum.test.ts": secret, "tests/fixtures/input.json": "[1,2]" });
      const up = await body(
        await sponsor.request("POST", `/api/tasks/${taskId}/test-bundle`, { body: upload(bytes) }),
        201,
      );
      expect(up.files).toBe(2);
      const [row] = await t.ctx.db.select().from(taskTestBundles).where(eq(taskTestBundles.taskId, taskId));
      expect(row!.ciphertext).not.toContain("SECRET");
      expect(Buffer.from(row!.ciphertext.split(":")[1]!, "base64").toString("latin1")).not.toContain("SECRET");
      const loaded = await loadTestBundle(t.ctx, taskId);
      expect(loaded!.files).toEqual(["tests/fixtures/input.json", "tests/hidden-sum.test.ts"]);
      expect(Buffer.from(loaded!.tar).toString("latin1")).toContain("SECRET-ASSERTION");
      expect(loaded!.sha256).toBe(sha256Hex(loaded!.tar));
      expect((await taskRow(taskId)).acceptancePin).toMatchObject({ kind: "bundle", bundleId: row!.id });
      // approval keeps the bundle and records the base commit beside it
      await body(await sponsor.request("POST", `/api/projects/${projectId}/approve-structure`), 200);
      expect((await taskRow(taskId)).acceptancePin).toMatchObject({
        kind: "bundle",
        bundleId: row!.id,
        baseCommit: head,
      });
      // a contributor sees the count only, on the page and in the API
      const api = await (await contributor.request("GET", `/api/tasks/${taskId}`)).text();
      expect(api).not.toContain("hidden-sum");
      expect(JSON.parse(api).acceptance.hiddenFiles).toBe(2);
      const page = await (await contributor.request("GET", `/tasks/${taskId}`)).text();
      expect(page).toContain("2 hidden acceptance test files");
      expect(page).not.toContain("hidden-sum");
      expect(page).not.toContain("Upload a bundle");
      // nor may they replace it; the sponsor sees the names
      expect(
        (await contributor.request("POST", `/api/tasks/${taskId}/test-bundle`, { body: upload(bytes) })).status,
      ).toBe(403);
      expect(await (await sponsor.request("GET", `/tasks/${taskId}`)).text()).toContain("tests/hidden-sum.test.ts");
      // removing it pins the task to the base commit again
      expect((await sponsor.request("DELETE", `/api/tasks/${taskId}/test-bundle`)).status).toBe(204);
      expect((await taskRow(taskId)).acceptancePin).toMatchObject({ kind: "commit", commit: head });
      expect(await loadTestBundle(t.ctx, taskId)).toBeNull();
    });

    test("unsafe or oversized archives are refused", async () => {
      const { taskIds } = await draft();
      const send = (bytes: Uint8Array) =>
        sponsor.request("POST", `/api/tasks/${taskIds[0]}/test-bundle`, { body: upload(bytes) });
      const linked = await archive({ "tests/a.test.ts": "x" }, { "tests/passwd": "/etc/passwd" });
      const e1 = await body(await send(linked), 400);
      expect(e1.error.details.fields.bundle).toContain("SymbolicLink");
      // an entry climbing out of the checkout, written by hand (the tar library would not make one)
      const climbing = ustar("../outside.test.ts", "x");
      expect((await body(await send(climbing), 400)).error.details.fields.bundle).toContain("not a relative path");
      expect((await body(await send(ustar("/abs.test.ts", "x")), 400)).error.details.fields.bundle).toContain(
        "not a relative path",
      );
      expect((await send(new TextEncoder().encode("not an archive at all"))).status).toBe(400);
      // an archive of "." (entries "./", "./tests/…") is fine: the prefix is dropped
      const dotted = await archive({ "tests/dot.test.ts": "x" }, {}, true, ".");
      expect((await body(await send(dotted), 201)).files).toBe(1);
      expect((await loadTestBundle(t.ctx, taskIds[0]!))!.files).toEqual(["tests/dot.test.ts"]);
      await sponsor.request("DELETE", `/api/tasks/${taskIds[0]}/test-bundle`);
      const big = new Uint8Array(5 * 1024 * 1024 + 1);
      expect((await send(big)).status).toBe(413);
      expect(await loadTestBundle(t.ctx, taskIds[0]!)).toBeNull();
    });

    test("a flaky verdict waits for a reviewer: it is not paid, can be sent back, and pays only when signed", async () => {
      const { projectId, taskIds } = await draft();
      await t.ctx.db
        .update(projects)
        .set({ state: "ACTIVE", verificationRuns: 2, structureApprovedAt: new Date() })
        .where(eq(projects.id, projectId));
      const taskId = taskIds[0]!;
      await t.ctx.db
        .update(tasks)
        .set({ status: "VERIFYING", claimedById: contributor.id, payoutAmount: "1000" })
        .where(eq(tasks.id, taskId));
      const [claim] = await t.ctx.db
        .insert(taskClaims)
        .values({ taskId, userId: contributor.id, expiresAt: new Date(Date.now() + 86_400_000) })
        .returning();
      const [link] = await t.ctx.db
        .insert(taskWorkLinks)
        .values({
          taskId,
          claimId: claim!.id,
          kind: "branch",
          repoUrl: host.url("acc"),
          branch: "main",
          commit: head0,
          committedAt: new Date(),
        })
        .returning();
      const verification = async (attempt: number, signed: boolean) => {
        const [v] = await t.ctx.db
          .insert(taskVerifications)
          .values({
            taskId,
            claimId: claim!.id,
            workLinkId: link!.id,
            commit: head0,
            attempt,
            status: "RUNNING",
            // what the harness writes before it records the verdict
            named: [{ id: "test > a.test.ts > adds", status: "flaky" }],
            flaky: ["test > a.test.ts > adds"],
            newFailures: 0,
            signedReport: signed
              ? {
                  attestation: { taskId: "1" },
                  signature: "0x01",
                  signer: "0xabc0000000",
                  chainId: 31337,
                  escrow: "0x",
                }
              : null,
          })
          .returning();
        await recordVerdict(t.ctx, v!.id, {
          status: "FLAKY",
          reportHash: null,
          digest: null,
          tests: [{ id: "test > a.test.ts > adds", passed: true }],
          passedCount: 1,
          failedCount: 0,
          reason: null,
        });
        return v!;
      };
      await verification(1, false);
      const waiting = await taskRow(taskId);
      // the project pays passed work without review, yet a flaky verdict waits
      expect(waiting.status).toBe("VERIFIED");
      const [flakyAudit] = await t.ctx.db
        .select()
        .from(auditLog)
        .where(and(eq(auditLog.targetId, taskId), eq(auditLog.action, "task.flaky")));
      expect((flakyAudit!.payload as { reason: string }).reason).toStartWith("flaky: test > a.test.ts > adds");
      await deliverEvents(t.ctx);
      const told = await t.ctx.db.select().from(notifications).where(eq(notifications.userId, contributor.id));
      expect(told.some((x) => x.type === "VERIFICATION_FLAKY")).toBe(true);
      const detail = await body(await sponsor.request("GET", `/api/tasks/${taskId}`), 200);
      expect(detail.actions.review).toBe(true);
      expect(detail.approveBlocked).toContain("did not sign");
      const page = await (await sponsor.request("GET", `/tasks/${taskId}`)).text();
      expect(page).toContain("did not sign");
      expect(page).toContain("Report not signed by the harness");
      const refused = await body(await sponsor.request("POST", `/api/tasks/${taskId}/approve`), 409);
      expect(refused.error.code).toBe("REPORT_NOT_SIGNED");
      expect((await taskRow(taskId)).status).toBe("VERIFIED");
      // the contributor cannot decide on their own work
      expect((await contributor.request("POST", `/api/tasks/${taskId}/approve`)).status).toBe(403);
      await body(
        await sponsor.request("POST", `/api/tasks/${taskId}/reject`, { body: { comment: "Make adds deterministic." } }),
        200,
      );
      expect((await taskRow(taskId)).status).toBe("CLAIMED");
      // a new run, flaky again but signed: approving it starts the payment
      await t.ctx.db.update(tasks).set({ status: "VERIFYING" }).where(eq(tasks.id, taskId));
      await verification(2, true);
      expect((await taskRow(taskId)).status).toBe("VERIFIED");
      const ok = await body(await sponsor.request("GET", `/api/tasks/${taskId}`), 200);
      expect(ok.approveBlocked).toBeNull();
      await body(await sponsor.request("POST", `/api/tasks/${taskId}/approve`), 200);
      expect((await taskRow(taskId)).status).toBe("PAYING");
    });

    test("the project's verification runs: 1 or 2, in the API and the settings form", async () => {
      const { projectId } = await draft();
      expect(
        (
          await body(
            await sponsor.request("PATCH", `/api/projects/${projectId}`, { body: { verificationRuns: 2 } }),
            200,
          )
        ).verificationRuns,
      ).toBe(2);
      expect(
        (await sponsor.request("PATCH", `/api/projects/${projectId}`, { body: { verificationRuns: 3 } })).status,
      ).toBe(400);
      const form = new URLSearchParams({ verificationRuns: "1", payoutReview: "on" });
      expect((await sponsor.request("POST", `/projects/${projectId}/settings`, { body: form })).status).toBe(303);
      const [p] = await t.ctx.db.select().from(projects).where(eq(projects.id, projectId));
      expect(p).toMatchObject({ verificationRuns: 1, payoutReview: true });
      expect((await contributor.request("POST", `/projects/${projectId}/settings`, { body: form })).status).toBe(403);
    });
  });
}

test("the template planner drafts acceptance tests and files that pass the plan's schema", () => {
  for (const files of [["package.json", "bun.lock", "src/a.test.ts"], ["pyproject.toml"], ["go.mod"], []]) {
    const plan = templatePlan({
      title: "Calc",
      description: "- Add numbers from the command line\n- Export results to CSV files",
      repo: { files, readme: null },
    });
    expect(Plan.safeParse(plan).success).toBe(true);
    for (const m of plan.milestones) {
      for (const task of m.tasks) {
        expect(task.verification.testFiles).toHaveLength(1);
        expect(task.verification.acceptanceTests!.length).toBeGreaterThan(0);
        expect(task.verification.acceptanceTests!.length).toBeLessThanOrEqual(32);
        expect(task.verification.acceptanceTests![0]!.startsWith(task.verification.testFiles![0]!)).toBe(true);
      }
    }
    if (files.includes("pyproject.toml"))
      expect(plan.milestones[1]!.tasks[0]!.verification.testFiles![0]).toMatch(/^tests\/test_\w+\.py$/);
  }
});

/** A one-entry ustar archive with any name, written by hand (the tar library refuses to write unsafe names). */
function ustar(name: string, text: string): Uint8Array {
  const enc = new TextEncoder();
  const content = enc.encode(text);
  const header = new Uint8Array(512);
  const put = (s: string, at: number) => header.set(enc.encode(s), at);
  put(name, 0);
  put("0000644\0", 100);
  put("0000000\0", 108);
  put("0000000\0", 116);
  put(`${content.length.toString(8).padStart(11, "0")}\0`, 124);
  put("00000000000\0", 136);
  put("        ", 148);
  put("0", 156);
  put("ustar\u000000", 257);
  put(
    `${header
      .reduce((a, b) => a + b, 0)
      .toString(8)
      .padStart(6, "0")}\0 `,
    148,
  );
  const out = new Uint8Array(512 + Math.ceil(content.length / 512) * 512 + 1024);
  out.set(header, 0);
  out.set(content, 512);
  return out;
}
