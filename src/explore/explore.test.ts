import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser, type TestUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { fundingRecords } from "../funding/schema";
import { milestones, tasks } from "../milestones/schema";
import { orgMembers, orgs } from "../orgs/schema";
import { projects } from "../projects/schema";

type Board = {
  tasks: { id: string; title: string; payout: string; usd: number | null; language: string | null }[];
  total: number;
  pages: number;
};

let tx = 0;
/** A project of `orgId` in `state`, funded at `price` USD per token (8-decimal feed), with tasks. */
async function seedProject(
  t: TestApp,
  orgId: string,
  o: {
    title: string;
    visibility: "PUBLIC" | "PRIVATE";
    state: "DRAFT" | "ACTIVE";
    price?: number;
    symbol?: string | null;
    repo?: string;
    tasks: { title: string; points: number; tokens: number; status?: "OPEN" | "CLAIMED"; command?: string }[];
  },
) {
  const db = t.ctx.db;
  const [p] = await db
    .insert(projects)
    .values({
      orgId,
      title: o.title,
      repoVisibility: o.visibility,
      state: o.state,
      tokenSymbol: o.symbol ?? null,
      tokenDecimals: 18,
      repoUrl: o.repo ? `https://github.com/${o.repo}` : null,
      repoFullName: o.repo ?? null,
    })
    .returning();
  const [m] = await db.insert(milestones).values({ projectId: p!.id, title: "M1", position: 0 }).returning();
  for (const [i, x] of o.tasks.entries()) {
    await db.insert(tasks).values({
      milestoneId: m!.id,
      projectId: p!.id,
      title: x.title,
      points: x.points,
      position: i,
      status: x.status ?? "OPEN",
      payoutAmount: (BigInt(x.tokens * 1000) * 10n ** 15n).toString(),
      verification: { minPassingTests: 1, testCommand: x.command ?? "", rules: [] },
    });
  }
  if (o.price !== undefined) {
    await db.insert(fundingRecords).values({
      projectId: p!.id,
      amount: "1",
      token: "native",
      mode: "ESCROW",
      depositTxHash: `0x${(++tx).toString(16).padStart(64, "0")}${Math.random()}`,
      blockNumber: "1",
      depositor: "0x0000000000000000000000000000000000000001",
      oracleRate: String(BigInt(Math.round(o.price * 100)) * 10n ** 6n),
      oracleDecimals: 8,
    });
  }
  return p!;
}

for (const kind of dbKinds()) {
  describe(`explore board [${kind}]`, () => {
    let t: TestApp;
    let outsider: TestUser;
    let privateMember: TestUser;
    const get = async (path: string, who?: TestUser) =>
      who ? who.request("GET", path) : t.request("GET", path, { headers: { accept: "text/html" } });
    const board = async (qs = "", who?: TestUser): Promise<Board> => {
      const res = await (who ? who.request("GET", `/api/explore${qs}`) : t.request("GET", `/api/explore${qs}`));
      expect(res.status).toBe(200);
      return (await res.json()) as Board;
    };

    beforeAll(async () => {
      t = await createTestApp(kind);
      outsider = await createUser(t, { name: "Outsider" });
      privateMember = await createUser(t, { name: "Insider" });
      const [pub] = await t.ctx.db.insert(orgs).values({ name: "Open Org" }).returning();
      const [priv] = await t.ctx.db.insert(orgs).values({ name: "Closed Org" }).returning();
      await t.ctx.db.insert(orgMembers).values({ orgId: priv!.id, userId: privateMember.id, role: "OWNER" });
      await seedProject(t, pub!.id, {
        title: "Ledger",
        visibility: "PUBLIC",
        state: "ACTIVE",
        price: 2000,
        repo: "acme/ledger",
        tasks: [
          { title: "Add CSV export", points: 5, tokens: 0.5, command: "bun test" },
          { title: "Fix rounding", points: 2, tokens: 0.2, command: "pytest -q" },
          { title: "Claimed already", points: 3, tokens: 0.3, status: "CLAIMED" },
        ],
      });
      await seedProject(t, pub!.id, {
        title: "Stable pay",
        visibility: "PUBLIC",
        state: "ACTIVE",
        price: 1,
        symbol: "USDC",
        repo: "acme/stable",
        tasks: [{ title: "Write docs", points: 8, tokens: 300, command: "go test ./..." }],
      });
      await seedProject(t, pub!.id, {
        title: "Not funded yet",
        visibility: "PUBLIC",
        state: "DRAFT",
        tasks: [{ title: "Draft task", points: 1, tokens: 1 }],
      });
      await seedProject(t, priv!.id, {
        title: "Secret",
        visibility: "PRIVATE",
        state: "ACTIVE",
        price: 5000,
        repo: "closed/secret",
        tasks: [{ title: "Secret task", points: 13, tokens: 9, command: "bun test" }],
      });
    }, 60_000);
    afterAll(() => t.close());

    test("lists funded open tasks of public projects, by payout in dollars, to anyone", async () => {
      const b = await board();
      expect(b.tasks.map((x) => x.title)).toEqual(["Add CSV export", "Fix rounding", "Write docs"]);
      expect(b.tasks[0]).toMatchObject({ payout: "0.5", usd: 1000, language: "JavaScript" });
      expect(b.tasks[2]).toMatchObject({ payout: "300", usd: 300, language: "Go" });
      expect(b.total).toBe(3);
    });

    test("private projects never appear, not even to their own members", async () => {
      for (const who of [undefined, outsider, privateMember]) {
        const b = await board("", who);
        expect(b.tasks.some((x) => x.title === "Secret task")).toBe(false);
        const res = await get("/explore", who);
        expect(res.status).toBe(200);
        const page = await res.text();
        expect(page).not.toContain("Secret");
        expect(page).toContain("Add CSV export");
      }
    });

    const filters: [string, string[]][] = [
      ["?language=Python", ["Fix rounding"]],
      ["?minPoints=3", ["Add CSV export", "Write docs"]],
      ["?minPoints=2&maxPoints=4", ["Fix rounding"]],
      ["?minUsd=350", ["Add CSV export", "Fix rounding"]],
      ["?maxUsd=350", ["Write docs"]],
      ["?token=usdc", ["Write docs"]],
      ["?token=ETH", ["Add CSV export", "Fix rounding"]],
      ["?repo=ledger", ["Add CSV export", "Fix rounding"]],
      ["?repo=%25", []],
      ["?sort=points", ["Write docs", "Add CSV export", "Fix rounding"]],
    ];
    for (const [qs, want] of filters)
      test(`filter ${qs}`, async () => expect((await board(qs)).tasks.map((x) => x.title)).toEqual(want));

    test("pages past the end are empty but keep the count", async () => {
      const b = await board("?page=2");
      expect(b.tasks).toEqual([]);
      expect(b.total).toBe(3);
    });

    test("bad filters: INVALID_INPUT for the API, the form with its errors for the page", async () => {
      const res = await t.request("GET", "/api/explore?minPoints=5&maxPoints=1&language=COBOL");
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; details: { fields: Record<string, string> } } };
      expect(body.error.code).toBe("INVALID_INPUT");
      expect(Object.keys(body.error.details.fields).sort()).toEqual(["language"]);
      const page = await get("/explore?minPoints=abc&repo=kept-value");
      expect(page.status).toBe(400);
      const html = await page.text();
      expect(html).toContain('aria-invalid="true"');
      expect(html).toContain('value="kept-value"');
      expect(html).toContain("Enter a number.");
    });

    test("the page works signed out and names the payout in tokens and dollars", async () => {
      const res = await get("/explore?sort=payout");
      expect(res.status).toBe(200);
      const html = await res.text();
      expect(html).toContain("0.5 ETH");
      expect(html).toContain("≈ $1,000.00");
      expect(html).toContain("300 USDC");
      expect(html).toContain('href="/signin?next=%2Fexplore"');
    });

    test("the API is in the OpenAPI document with its query parameters described", async () => {
      const doc = (await (await t.request("GET", "/api/openapi.json")).json()) as {
        paths: Record<string, { get?: { summary?: string; description?: string } }>;
      };
      expect(doc.paths["/api/explore"]?.get?.summary).toContain("Funded open tasks");
      expect(doc.paths["/api/explore"]?.get?.description).toContain("minUsd");
    });

    test("a task that is claimed leaves the board", async () => {
      await t.ctx.db.update(tasks).set({ status: "CLAIMED" }).where(eq(tasks.title, "Fix rounding"));
      expect((await board()).tasks.map((x) => x.title)).toEqual(["Add CSV export", "Write docs"]);
      await t.ctx.db.update(tasks).set({ status: "OPEN" }).where(eq(tasks.title, "Fix rounding"));
    });

    test("pages of 25, with links that keep the filters (runs last: it adds tasks)", async () => {
      const [o] = await t.ctx.db.insert(orgs).values({ name: "Busy Org" }).returning();
      await seedProject(t, o!.id, {
        title: "Busy",
        visibility: "PUBLIC",
        state: "ACTIVE",
        price: 1,
        symbol: "DAI",
        tasks: Array.from({ length: 26 }, (_, i) => ({ title: `Busy ${i}`, points: 1, tokens: i + 1 })),
      });
      const first = await board("?token=DAI");
      expect(first.total).toBe(26);
      expect(first.pages).toBe(2);
      expect(first.tasks.length).toBe(25);
      expect(first.tasks[0]!.title).toBe("Busy 25");
      const second = await board("?token=DAI&page=2");
      expect(second.tasks.map((x) => x.title)).toEqual(["Busy 0"]);
      const html = await (await get("/explore?token=DAI")).text();
      expect(html).toContain('href="/explore?token=DAI&page=2"');
    });
  });
}
