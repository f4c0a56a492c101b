// Every column that names a user is covered by the GDPR export and erasure: handled by the users domain itself,
// by a domain's registered data hook, or kept on purpose as a bare id (listed with the reason). A new table with
// a user column and no hook fails here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { is } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import { privateKeyToAccount } from "viem/accounts";
import { requestPasswordReset } from "../auth/account-email";
import * as schema from "../core/db/schema";
import { createTestApp, type TestApp } from "../../test/support/app";
import { apiKeyFor, createOrgAs, createUser } from "../../test/support/auth";
import { userDataHooks } from "./data-hooks";

/**
 * The columns naming a user that `exportUserData` and `deleteAccount` (./service.ts) handle themselves, and what
 * a deletion leaves in them: nothing, the tombstone row, or invites that still name the tombstone by id (their
 * address, login and message taken out).
 */
const ACCOUNT_COLUMNS: Record<string, "none" | "tombstone" | "bare id"> = {
  "users.id": "tombstone",
  "wallets.user_id": "none",
  "wallet_nonces.user_id": "none",
  "sessions.user_id": "none",
  "api_keys.user_id": "none",
  "account_tokens.user_id": "none",
  "notifications.user_id": "none",
  "email_outbox.user_id": "none",
  "org_members.user_id": "none",
  "org_invites.invited_by_id": "bare id",
  "org_invites.invitee_id": "bare id",
};

/**
 * Columns that keep naming a user after account deletion, and why. They hold an id only: it then points at the
 * tombstone row (name "Deleted user", no e-mail), so nothing personal remains, and the record they belong to
 * (an org, a project, a money decision, a paid task) is not the user's to erase.
 */
const KEPT_USER_REFERENCES: Record<string, string> = {
  "orgs.created_by_id": "who created an org the others keep using",
  "org_members.added_by_id": "who added another member",
  "project_members.added_by_id": "who added another person to a project",
  "projects.created_by_id": "who created a project of the org",
  "projects.structure_approved_by_id": "who approved the structure that was funded (a money decision)",
  "funding_quotes.created_by_id": "who asked for the quote a deposit was made against",
  "milestone_drafts.created_by_id": "who asked for a draft of the project's plan",
  "tasks.claimed_by_id": "the payee of a paid task (eraseTaskData reopens unpaid ones)",
  "task_test_bundles.uploaded_by_id": "who uploaded the acceptance tests a task is paid against",
  "audit_log.actor_id": "the audit chain keeps ids; the payloads by or about the user are redacted",
};

/** `table.column` of every column that references users.id or is named like a user id. */
function userColumns(): string[] {
  const found = new Set<string>();
  for (const value of Object.values(schema)) {
    if (!is(value, PgTable)) continue;
    const cfg = getTableConfig(value);
    for (const fk of cfg.foreignKeys) {
      const ref = fk.reference();
      if (getTableConfig(ref.foreignTable).name !== "users") continue;
      for (const c of ref.columns) found.add(`${cfg.name}.${c.name}`);
    }
    for (const c of cfg.columns) {
      if (c.columnType !== "PgUUID") continue;
      if (/^(user_id|actor_id|invitee_id)$|_by_id$/.test(c.name)) found.add(`${cfg.name}.${c.name}`);
    }
  }
  return [...found].sort();
}

describe("GDPR data hooks", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp("pglite"); // boots every domain, so every hook is registered
  }, 60_000);
  afterAll(() => t.close());

  test("the scan finds the user columns it should (it can fail)", () => {
    const cols = userColumns();
    expect(cols).toContain("sidebar_conversations.user_id"); // by foreign key
    expect(cols).toContain("ai_calls.user_id"); // by name, no foreign key
    expect(cols).toContain("audit_log.actor_id");
  });

  test("every column naming a user is exported and erased by a hook, or kept as a bare id with a reason", () => {
    const byHook = new Map<string, string>();
    for (const h of userDataHooks()) for (const c of h.covers) byHook.set(c, h.name);
    const covered = new Set([...Object.keys(ACCOUNT_COLUMNS), ...byHook.keys(), ...Object.keys(KEPT_USER_REFERENCES)]);
    const uncovered = userColumns().filter((c) => !covered.has(c));
    expect(
      uncovered.map((c) => `${c}: no data hook covers it (registerUserDataHook in src/users/data-hooks.ts)`),
    ).toEqual([]);
    // and nothing claimed is a typo or a column that no longer exists
    const all = new Set(userColumns());
    expect([...covered].filter((c) => !all.has(c) && c !== "users.id")).toEqual([]);
    // the hooks named in the brief of the export are registered
    expect([...new Set(byHook.values())]).toEqual(expect.arrayContaining(["sidebarConversations", "aiCalls", "tasks"]));
  });

  test("the columns the users domain handles itself are what a real account deletion empties or keeps", async () => {
    // One user with a row in each of those columns, made through the app.
    const u = await createUser(t, { name: "Ada Account", email: "ada-account@example.test" });
    const inviter = await createUser(t);
    const own = await createOrgAs(u, "Ada's org");
    const theirs = await createOrgAs(inviter, "Inviter's org");
    const wallet = privateKeyToAccount(`0x${"5a".repeat(32)}`);
    const challenge = async () =>
      (await (
        await u.request("POST", "/api/me/wallets/challenge", { body: { address: wallet.address, chainId: 1 } })
      ).json()) as { message: string };
    const { message } = await challenge();
    const linked = await u.request("POST", "/api/me/wallets", {
      body: { message, signature: await wallet.signMessage({ message }) },
    });
    expect(linked.status).toBe(201);
    await challenge(); // a nonce left unused
    await apiKeyFor(t, u);
    await requestPasswordReset(t.ctx, u.email); // an account token and its e-mail
    const sent = await u.request("POST", `/api/orgs/${own}/invite`, {
      body: { email: "guest@example.test", role: "sponsor" },
    });
    expect(sent.status).toBe(201);
    const received = await inviter.request("POST", `/api/orgs/${theirs}/invite`, {
      body: { email: u.email, role: "contributor", message: "Ada, join us" },
    });
    expect(received.status).toBe(201); // the invitee is known: a notification too

    const naming = async (column: string) => {
      const [table, col] = column.split(".");
      const [{ n }] = await t.ctx.database.exec<{ n: string }>(`select count(*) as n from ${table} where ${col} = $1`, [
        u.id,
      ]);
      return Number(n);
    };
    const columns = Object.keys(ACCOUNT_COLUMNS);
    const before = await Promise.all(columns.map(async (c) => `${c}: ${(await naming(c)) > 0}`));
    expect(before).toEqual(columns.map((c) => `${c}: true`)); // each column is really exercised

    expect((await u.request("DELETE", "/api/me", { body: { confirm: "DELETE" } })).status).toBe(204);
    const after = await Promise.all(columns.map(async (c) => `${c}: ${(await naming(c)) > 0 ? "kept" : "none"}`));
    expect(after).toEqual(columns.map((c) => `${c}: ${ACCOUNT_COLUMNS[c] === "none" ? "none" : "kept"}`));
    const [tomb] = await t.ctx.database.exec<{ name: string; email: string | null }>(
      "select name, email from users where id = $1",
      [u.id],
    );
    expect(tomb).toEqual({ name: "Deleted user", email: null });
    const invites = await t.ctx.database.exec<{ email_enc: unknown; github_login: unknown; message: unknown }>(
      "select email_enc, github_login, message from org_invites where invitee_id = $1",
      [u.id],
    );
    expect(invites).toEqual([{ email_enc: null, github_login: null, message: null }]);
  });
});
