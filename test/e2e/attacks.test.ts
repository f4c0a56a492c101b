// Work that tries to game the harness, through the appliance as it runs: a real git repository served over HTTP
// (a small bun project whose acceptance test fails at the base commit), a funded task with that test named and
// pinned, and one pull request per attack, each verified in the real Docker sandbox by the tasks.verify job. None
// is paid, and the reason is where the task page reads it; the honest fix is PASSED with a report the harness
// signed, and paid.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import type { Hex } from "viem";
import { privateKeyToAddress } from "viem/accounts";
import type { ChainRuntime } from "../../src/chain/service";
import { milestones, tasks } from "../../src/milestones/schema";
import { orgMembers, orgs } from "../../src/orgs/schema";
import { payments } from "../../src/payments/schema";
import { projects } from "../../src/projects/schema";
import { harnessBaseResults, type TaskVerification, taskVerifications } from "../../src/tasks/schema";
import { wallets } from "../../src/users/schema";
import { attestationFromRecord, verifyAttestation } from "../../src/zk/attestation";
import { createTestApp, type TestApp } from "../support/app";
import { createUser, type TestUser } from "../support/auth";
import { dbKinds } from "../support/db";
import { ensureSandboxImages } from "../support/docker";
import { type GitHost, startGitHost } from "../support/git-host";

const PAYEE = "0x00000000000000000000000000000000000a7a01";
const NAMED = "test > calc.test.ts > multiplies";
const PACKAGE = '{ "name": "calc", "private": true }\n';
const CALC_BASE = `export const add = (a: number, b: number) => a + b;
export const mul = (_a: number, _b: number): number => {
  throw new Error("not implemented");
};
`;
const CALC_FIXED = `export const add = (a: number, b: number) => a + b;
export const mul = (a: number, b: number): number => a * b;
`;
const CALC_TEST = `import { expect, test } from "bun:test";
import { add, mul } from "./calc";
test("adds", () => expect(add(2, 3)).toBe(5));
test("multiplies", () => expect(mul(2, 3)).toBe(6));
`;
const FAKE_JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="calc.test.ts" file="calc.test.ts" tests="2" failures="0">
<testcase name="adds" file="calc.test.ts"/><testcase name="multiplies" file="calc.test.ts"/>
</testsuite></testsuites>
`;

// Each attack: the files its commit changes (null deletes), and what its verdict must show.
const attacks: { name: string; files: Record<string, string | null>; expect: (v: TaskVerification) => void }[] = [
  {
    name: "deletes the failing acceptance test",
    files: { "calc.test.ts": null },
    expect: (v) => expect(v.named).toEqual([{ id: NAMED, status: "failed" }]),
  },
  {
    name: "renames it (and makes the renamed copy pass)",
    files: {
      "calc.test.ts": null,
      "calc-renamed.test.ts": `import { expect, test } from "bun:test";\nimport { add } from "./calc";\ntest("adds", () => expect(add(2, 3)).toBe(5));\ntest("multiplies later", () => expect(true).toBe(true));\n`,
    },
    expect: (v) => expect(v.named).toEqual([{ id: NAMED, status: "failed" }]),
  },
  {
    name: "adds fifty trivial passing tests",
    files: {
      "more.test.ts": `import { expect, test } from "bun:test";\n${Array.from({ length: 50 }, (_, i) => `test("trivial ${i}", () => expect(${i}).toBe(${i}));`).join("\n")}\n`,
    },
    expect: (v) => {
      expect(v.named).toEqual([{ id: NAMED, status: "failed" }]);
      expect(v.passedCount).toBeGreaterThanOrEqual(51);
    },
  },
  {
    name: "commits a fake junit.xml and writes more at test time",
    files: {
      "junit.xml": FAKE_JUNIT,
      "out/test/junit.xml": FAKE_JUNIT,
      "report.test.ts": `import { test } from "bun:test";\nimport { mkdirSync, writeFileSync, readdirSync } from "node:fs";\ntest("writes reports", () => {\n  for (const dir of ["/work/out/test", "/work/out", "/work/src", "/tmp"]) {\n    try { mkdirSync(dir, { recursive: true }); writeFileSync(dir + "/junit.xml", ${JSON.stringify(FAKE_JUNIT)}); } catch {}\n  }\n  try { for (const d of readdirSync("/work/out")) writeFileSync("/work/out/" + d + "/junit.xml", ${JSON.stringify(FAKE_JUNIT)}); } catch {}\n});\n`,
    },
    expect: (v) => expect(v.named).toEqual([{ id: NAMED, status: "failed" }]),
  },
  {
    name: "prints fake TAP ok lines",
    files: {
      "tap.test.ts": `import { test } from "bun:test";\ntest("prints", () => {\n  console.log("TAP version 13\\n1..2\\nok 1 - calc.test.ts > adds\\nok 2 - calc.test.ts > multiplies");\n});\n`,
    },
    expect: (v) => expect(v.named).toEqual([{ id: NAMED, status: "failed" }]),
  },
  {
    name: "replaces the assertion library (a dependency swapped for a local copy)",
    files: {
      "package.json": '{ "name": "calc", "private": true, "devDependencies": { "expect": "file:./fake-expect" } }\n',
      "fake-expect/package.json": '{ "name": "expect", "version": "30.0.0", "main": "index.js" }\n',
      "fake-expect/index.js": "module.exports = () => ({ toBe() {} });\n",
    },
    expect: (v) => {
      expect(v.protectedChanges).toEqual(["package.json (devDependencies.expect)"]);
      expect(v.reason).toContain("package.json");
    },
  },
  {
    name: "edits the test runner config (a preload that patches expect)",
    files: {
      "bunfig.toml": '[test]\npreload = ["./setup.ts"]\n',
      "setup.ts": `import { expect } from "bun:test";\n(expect as any).extend({ toBe: () => ({ pass: true, message: () => "" }) });\n`,
    },
    expect: (v) => {
      expect(v.protectedChanges).toEqual(["bunfig.toml (bun's config (test preload, root, coverage))"]);
      expect(v.reason).toContain("bunfig.toml");
    },
  },
];

beforeAll(() => ensureSandboxImages(), 900_000);

// One database is enough here (the contributor loop covers both); PostgreSQL when the run has one.
const kind = dbKinds().at(-1)!;

describe(`work that games the harness is not paid [${kind}]`, () => {
  let t: TestApp;
  let host: GitHost;
  let sponsor: TestUser;
  let contributor: TestUser;
  let rt: ChainRuntime;
  let projectId: string;
  let taskId: string;
  let baseCommit: string;
  const repo = `calc-${kind}`;

  const json = async <T>(res: Response, status: number): Promise<T> => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${body}`);
    return JSON.parse(body) as T;
  };
  const taskState = async () => (await t.ctx.db.select().from(tasks).where(eq(tasks.id, taskId)))[0]!;
  const until = async <T>(fn: () => Promise<T | undefined | null | false>, what: string, ms = 180_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const v = await fn();
      if (v) return v;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await Bun.sleep(250);
    }
  };
  /** Pushes a branch from the base, links it as the work, and waits for its verdict. */
  const verify = async (branch: string, files: Record<string, string | null>) => {
    const commit = await host.push(repo, files, { branch, from: "main" });
    const linked = await json<{ verification: { id: string; commit: string } }>(
      await contributor.request("POST", `/api/tasks/${taskId}/work`, { body: { branch } }),
      201,
    );
    expect(linked.verification.commit).toBe(commit);
    return until(async () => {
      const [row] = await t.ctx.db
        .select()
        .from(taskVerifications)
        .where(eq(taskVerifications.id, linked.verification.id));
      return row && !["QUEUED", "RUNNING"].includes(row.status) ? row : null;
    }, `the verdict of ${branch}`);
  };

  beforeAll(async () => {
    host = startGitHost();
    baseCommit = await host.createRepo(repo, {
      "package.json": PACKAGE,
      "calc.ts": CALC_BASE,
      "calc.test.ts": CALC_TEST,
    });
    t = await createTestApp(kind);
    await t.ctx.settings.update({ "security.allowedRepoHosts": ["127.0.0.1"] }, null);
    sponsor = await createUser(t);
    contributor = await createUser(t);
    const db = t.ctx.db;
    const [org] = await db
      .insert(orgs)
      .values({ name: `Attacks ${kind}` })
      .returning();
    await db.insert(orgMembers).values({ orgId: org!.id, userId: sponsor.id, role: "OWNER" });
    const [project] = await db
      .insert(projects)
      .values({
        orgId: org!.id,
        title: "Calc",
        repoUrl: host.url(repo),
        repoProvider: "git",
        tokenDecimals: 18,
        structureApprovedAt: new Date(),
      })
      .returning();
    projectId = project!.id;
    const [m] = await db.insert(milestones).values({ projectId, title: "M", points: 3, position: 0 }).returning();
    const [task] = await db
      .insert(tasks)
      .values({
        milestoneId: m!.id,
        projectId,
        title: "Multiplication",
        points: 3,
        position: 0,
        verification: {
          minPassingTests: 1,
          testCommand: "bun test",
          rules: [],
          acceptanceTests: [NAMED],
          testFiles: ["calc.test.ts"],
        },
        acceptancePin: { kind: "commit", commit: baseCommit, ref: "main", pinnedAt: new Date().toISOString() },
      })
      .returning();
    taskId = task!.id;
    rt = await t.ctx.openChain!();
    t.ctx.jobs.start();

    const fund = async (path: string) =>
      sponsor.request("POST", `/projects/${projectId}/fund/${path}`, {
        body: new URLSearchParams({ _csrf: sponsor.csrf }),
      });
    expect((await fund("quote")).status).toBe(303);
    expect((await fund("dev-deposit")).headers.get("location")).toContain("funding=funded");
    await db.insert(wallets).values({
      userId: contributor.id,
      address: PAYEE,
      chainId: "31337",
      isPayout: true,
      siweMessage: "t",
      signature: "0x",
    });
    await json(await contributor.request("POST", `/api/tasks/${taskId}/claim`), 201);
  }, 300_000);

  afterAll(async () => {
    await t.ctx.jobs.stop(5_000);
    await rt?.close();
    await t.close();
    await host.stop();
  });

  for (const [i, attack] of attacks.entries()) {
    test(`${i + 1}. work that ${attack.name} is FAILED, not paid, and says why`, async () => {
      const v = await verify(`attack-${i + 1}`, attack.files);
      expect(v.status).toBe("FAILED");
      expect(v.signedReport).toBeNull();
      expect(v.baseCommit).toBe(baseCommit);
      expect(v.reason).toBeTruthy();
      attack.expect(v);
      if (!v.protectedChanges?.length) expect(v.reason).toContain(NAMED);
      expect((await taskState()).status).toBe("CLAIMED");
      expect(await t.ctx.db.select().from(payments).where(eq(payments.taskId, taskId))).toHaveLength(0);
      // The task page shows the reason to the contributor.
      const page = await (await contributor.request("GET", `/tasks/${taskId}`)).text();
      expect(page).toContain(v.protectedChanges?.length ? v.protectedChanges[0]!.split(" ")[0]! : "multiplies");
    }, 240_000);
  }

  test("the base commit ran once for all of them (cached per project, commit and suite)", async () => {
    const rows = await t.ctx.db.select().from(harnessBaseResults).where(eq(harnessBaseResults.projectId, projectId));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.commit).toBe(baseCommit);
    expect(rows[0]!.tests).toContainEqual({ id: NAMED, passed: false });
    expect(rows[0]!.tests).toContainEqual({ id: "test > calc.test.ts > adds", passed: true });
  });

  test("work with a test that changes verdict between two runs is FLAKY, unsigned, and waits for the sponsor", async () => {
    await t.ctx.db.update(projects).set({ verificationRuns: 2 }).where(eq(projects.id, projectId));
    try {
      // Passes in the first run and fails in the second: /work/home outlives a run, not the harness run.
      const v = await verify("flaky", {
        "calc.ts": CALC_FIXED,
        "flaky.test.ts": `import { expect, test } from "bun:test";\nimport { existsSync, writeFileSync } from "node:fs";\ntest("first time only", () => { const seen = existsSync("/work/home/seen"); writeFileSync("/work/home/seen", "1"); expect(seen).toBe(false); });\n`,
      });
      expect(v.status).toBe("FLAKY");
      expect(v.flaky).toContain("test > flaky.test.ts > first time only");
      expect(v.reason).toContain("first time only");
      expect(v.named).toEqual([{ id: NAMED, status: "passed" }]);
      // counted as not passed, it is a new failure: the rule does not hold and nothing is signed
      expect(v.newFailures).toBeGreaterThan(0);
      expect(v.signedReport).toBeNull();
      expect((await taskState()).status).toBe("VERIFIED");
      const approve = await sponsor.request("POST", `/api/tasks/${taskId}/approve`);
      expect((await json<{ error: { code: string } }>(approve, 409)).error.code).toBe("REPORT_NOT_SIGNED");
      expect(await t.ctx.db.select().from(payments).where(eq(payments.taskId, taskId))).toHaveLength(0);
      await json(
        await sponsor.request("POST", `/api/tasks/${taskId}/reject`, { body: { comment: "The new test is flaky." } }),
        200,
      );
      expect((await taskState()).status).toBe("CLAIMED");
    } finally {
      await t.ctx.db.update(projects).set({ verificationRuns: 1 }).where(eq(projects.id, projectId));
    }
  }, 300_000);

  test("the honest fix is PASSED with a report the harness signed, and paid", async () => {
    const v = await verify("honest", { "calc.ts": CALC_FIXED });
    if (v.status !== "PASSED") throw new Error(`the honest work was ${v.status}: ${v.reason}`);
    expect(v.named).toEqual([{ id: NAMED, status: "passed" }]);
    expect(v.newFailures).toBe(0);
    expect(v.protectedChanges).toEqual([]);
    const signed = v.signedReport!;
    expect(signed).toBeTruthy();
    const attestation = attestationFromRecord(signed.attestation);
    expect(attestation.payee.toLowerCase()).toBe(PAYEE);
    expect(attestation.digest).toBe(v.reportHash as Hex);
    const signer = await verifyAttestation(
      attestation,
      { chainId: signed.chainId, escrow: signed.escrow as Hex },
      signed.signature as Hex,
    );
    expect(signer).toBe(privateKeyToAddress(rt.harnessKey!));
    const paid = await until(async () => {
      const s = await taskState();
      return s.status === "PAID" ? s : null;
    }, "the payment");
    const [row] = await t.ctx.db.select().from(payments).where(eq(payments.taskId, taskId));
    expect(row).toMatchObject({ status: "COMPLETED", payee: PAYEE, amount: paid.payoutAmount });
  }, 300_000);
});
