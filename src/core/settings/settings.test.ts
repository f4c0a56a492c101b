import { describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEachDb } from "../../../test/support/db";
import { decrypt, encrypt, loadOrCreateMasterKey } from "../crypto";
import { openDatabase } from "../db";
import { AppError } from "../errors";
import { setLogSink } from "../logger";
import { envName } from "./registry";
import { REDACTED, SettingsService } from "./service";

const KEY = Buffer.alloc(32, 7);
const SECRET = "sk-live-VERY-SECRET-4242";

describeEachDb("settings", (get) => {
  test("defaults, stored values and env overrides, in that order of precedence", async () => {
    const s = new SettingsService(get().db, KEY, {});
    await s.reload();
    expect(s.get("chain.confirmations")).toBe(2);
    await s.update({ "chain.confirmations": 5 }, "admin");
    expect(s.get("chain.confirmations")).toBe(5);
    const withEnv = new SettingsService(get().db, KEY, { [envName("chain.confirmations")]: "9" });
    await withEnv.reload();
    expect(withEnv.get("chain.confirmations")).toBe(9);
    expect(withEnv.list().find((x) => x.key === "chain.confirmations")?.source).toBe("env");
    await s.update({ "chain.confirmations": null }, "admin");
    expect(s.get("chain.confirmations")).toBe(2);
  });

  test("secrets are stored encrypted, bound to their key, and redacted in listings", async () => {
    const s = new SettingsService(get().db, KEY, {});
    await s.update({ "ai.apiKey": SECRET }, "admin");
    expect(s.get("ai.apiKey")).toBe(SECRET);
    const [row] = await get().exec<{ value: unknown; secret: string }>(
      "select value, secret from settings where key = 'ai.apiKey'",
    );
    expect(row.value).toBeNull();
    expect(row.secret).not.toContain(SECRET);
    expect(decrypt(KEY, row.secret, "ai.apiKey")).toBe(SECRET);
    expect(() => decrypt(KEY, row.secret, "smtp.password")).toThrow(); // moved to another key: refused
    const view = s.list().find((x) => x.key === "ai.apiKey")!;
    expect(view.value).toBe(REDACTED);
    expect(JSON.stringify(s.list())).not.toContain(SECRET);
    // Sending the redacted placeholder back (as a form does) keeps the secret.
    await s.update({ "ai.apiKey": REDACTED }, "admin");
    expect(s.get("ai.apiKey")).toBe(SECRET);
  });

  test("invalid values are rejected as a whole with field errors", async () => {
    const s = new SettingsService(get().db, KEY, {});
    await s.reload();
    const before = s.get("chain.confirmations");
    let err: unknown;
    try {
      await s.update({ "chain.confirmations": 3, "chain.rpcUrl": "not a url", "no.such": 1 }, "admin");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("INVALID_INPUT");
    expect(Object.keys((err as AppError).details.fields as object).sort()).toEqual(["chain.rpcUrl", "no.such"]);
    expect(s.get("chain.confirmations")).toBe(before);
  });
});

describe("settings encryption at rest", () => {
  test("no plaintext secret in the embedded database's files or in the logs", async () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l), "debug");
    const dir = mkdtempSync(join(tmpdir(), "ds-set-"));
    const key = loadOrCreateMasterKey(undefined, join(dir, "master.key"));
    expect(statSync(join(dir, "master.key")).mode & 0o777).toBe(0o600);
    const d = await openDatabase({ dir: join(dir, "pg") });
    const s = new SettingsService(d.db, key, {});
    await s.update({ "smtp.password": SECRET, "smtp.host": "mail.example.org" }, "admin");
    await d.exec("checkpoint");
    await d.close();
    setLogSink(() => {}, "error");
    const files: string[] = [];
    const walk = (p: string) => {
      for (const e of readdirSync(p, { withFileTypes: true })) {
        const f = join(p, e.name);
        if (e.isDirectory()) walk(f);
        else files.push(f);
      }
    };
    walk(join(dir, "pg"));
    const needle = Buffer.from(SECRET);
    const leaking = files.filter((f) => readFileSync(f).includes(needle));
    expect(leaking).toEqual([]);
    // The non-secret value is in the files: the scan itself works.
    expect(files.some((f) => readFileSync(f).includes(Buffer.from("mail.example.org")))).toBe(true);
    expect(lines.join("\n")).not.toContain(SECRET);
  }, 60_000);

  test("AES-GCM rejects a tampered ciphertext", () => {
    const sealed = encrypt(KEY, "hello", "k");
    const raw = Buffer.from(sealed.slice(3), "base64");
    raw[raw.length - 1] ^= 1;
    expect(() => decrypt(KEY, `v1:${raw.toString("base64")}`, "k")).toThrow();
  });
});
