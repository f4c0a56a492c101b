// Every column that names a user is covered by the GDPR export and erasure: handled by the users domain itself,
// by a domain's registered data hook, or kept on purpose as a bare id (listed with the reason). A new table with
// a user column and no hook fails here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { is } from "drizzle-orm";
import { getTableConfig, PgTable } from "drizzle-orm/pg-core";
import * as schema from "../core/db/schema";
import { createTestApp, type TestApp } from "../../test/support/app";
import { ACCOUNT_COLUMNS, KEPT_USER_REFERENCES, userDataHooks } from "./data-hooks";

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
    const covered = new Set([...ACCOUNT_COLUMNS, ...byHook.keys(), ...Object.keys(KEPT_USER_REFERENCES)]);
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
});
