// Log lines are JSON and never carry a failed statement's values: real errors from both drivers are logged
// with the statement, the SQLSTATE and the constraint, without names, e-mail addresses, hashes or secrets.
import { afterEach, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { describeEachDb } from "../../test/support/db";
import { users } from "../users/schema";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configureLogging, log, setLogSink } from "./logger";

const EMAIL = "ann.private@example.test";
const NAME = "Ann Q. Private";
const HASH = "argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";
const SECRET = "sk-live-NEVER-LOG-ME-9931";

afterEach(() => setLogSink(() => {}, "error"));

async function logged(fn: () => Promise<unknown>): Promise<{ line: string; entry: Record<string, any> }> {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l), "debug");
  const err = await fn().then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  log.error("request failed", { err, requestId: "r1" });
  expect(lines.length).toBe(1);
  return { line: lines[0], entry: JSON.parse(lines[0]) };
}

describeEachDb("logged database errors", (get) => {
  test("a unique violation is logged with its constraint, not the row's values", async () => {
    const { db } = get();
    const row = { email: EMAIL, name: NAME, passwordHash: HASH };
    await db.insert(users).values(row);
    const { line, entry } = await logged(() => db.insert(users).values(row));
    for (const value of [EMAIL, NAME, HASH, "params"]) expect(line).not.toContain(value);
    expect(entry.err.message).toContain('insert into "users"');
    const codes = JSON.stringify(entry.err);
    expect(codes).toContain("23505");
    expect(codes).toContain("users_email_key");
  });

  test("a value the database quotes in its message (a secret being written) is not logged", async () => {
    const { db } = get();
    const { line, entry } = await logged(() => db.execute(sql`select ${SECRET}::int`));
    expect(line).not.toContain(SECRET);
    expect(line).not.toContain("NEVER-LOG");
    expect(JSON.stringify(entry.err)).toContain("22P02");
    expect(entry.err.stack).not.toContain("Failed query");
  });
});

test("errors outside the database keep their message and frames", () => {
  const lines: string[] = [];
  setLogSink((l) => lines.push(l), "debug");
  log.error("boom", { err: new Error("disk full", { cause: new Error("ENOSPC") }), other: new Error("x\nparams: 1") });
  const entry = JSON.parse(lines[0]);
  expect(entry.err.message).toBe("disk full");
  expect(entry.err.cause.message).toBe("ENOSPC");
  expect(entry.err.stack).toContain("logger.test.ts");
  expect(entry.other.message).toBe("x");
});

test("DEVSPONSOR_LOG_FILE: lines at the configured level also go to the file, which only the owner can read", () => {
  const dir = mkdtempSync(join(tmpdir(), "log-"));
  try {
    const file = join(dir, "devsponsor.log");
    configureLogging({ level: "warn", file });
    log.info("not at this level");
    log.warn("disk almost full", { token: "secret-value-1" });
    const lines = readFileSync(file, "utf8").trim().split("\n");
    expect(lines.length).toBe(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry.msg ?? entry.message).toBe("disk almost full");
    expect(lines[0]).not.toContain("secret-value-1");
    expect(statSync(file).mode & 0o777).toBe(0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
