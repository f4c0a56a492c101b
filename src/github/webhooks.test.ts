// The webhook endpoint's refusals as scenarios through the real app, on each database, and the App client's token
// cache and base URL against the local GitHub wire server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHmac, generateKeyPairSync } from "node:crypto";
import { eq } from "drizzle-orm";
import { createTestApp, type TestApp } from "../../test/support/app";
import { createUser } from "../../test/support/auth";
import { dbKinds } from "../../test/support/db";
import { type GitHubServer, startGitHubServer } from "../../test/support/github-server";
import { GitHubClient } from "./client";
import { githubDeliveries } from "./schema";
import { MAX_WEBHOOK_BYTES, validSignature } from "./webhooks";

const SECRET = "It's a Secret to Everybody";
const sign = (body: string, secret = SECRET) => `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

test("signatures: GitHub's documented example verifies; a changed body, secret or malformed header does not", () => {
  // docs.github.com "Validating webhook deliveries": secret "It's a Secret to Everybody", payload "Hello, World!".
  const expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
  const body = new TextEncoder().encode("Hello, World!");
  expect(validSignature(SECRET, body, expected)).toBe(true);
  expect(validSignature(SECRET, new TextEncoder().encode("Hello, World?"), expected)).toBe(false);
  expect(validSignature("another secret", body, expected)).toBe(false);
  expect(validSignature(SECRET, body, expected.slice(0, -2))).toBe(false);
  expect(validSignature(SECRET, body, expected.replace("sha256=", "sha1="))).toBe(false);
  expect(validSignature(SECRET, body, null)).toBe(false);
  expect(validSignature("", body, expected)).toBe(false);
});

for (const kind of dbKinds()) {
  describe(`POST /webhooks/github [${kind}]`, () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await createTestApp(kind);
      await createUser(t, { admin: true }); // an instance past setup
    }, 180_000);
    afterAll(() => t?.close());

    const post = (body: string, headers: Record<string, string>) =>
      t.request("POST", "/webhooks/github", { body, headers: { "content-type": "application/json", ...headers } });
    const ping = JSON.stringify({ zen: "Keep it logically awesome.", hook_id: 1 });
    const scenarios: { name: string; body: string; headers: Record<string, string>; status: number; code?: string }[] =
      [
        {
          name: "no signature",
          body: ping,
          headers: { "x-github-event": "ping", "x-github-delivery": "d-1" },
          status: 401,
          code: "WEBHOOK_SIGNATURE_INVALID",
        },
        {
          name: "signed with another secret",
          body: ping,
          headers: { "x-github-event": "ping", "x-github-delivery": "d-2", "x-hub-signature-256": sign(ping, "nope") },
          status: 401,
          code: "WEBHOOK_SIGNATURE_INVALID",
        },
        {
          name: "signature of another body",
          body: ping,
          headers: { "x-github-event": "ping", "x-github-delivery": "d-3", "x-hub-signature-256": sign(`${ping} `) },
          status: 401,
          code: "WEBHOOK_SIGNATURE_INVALID",
        },
        {
          name: "signed, but no delivery id",
          body: ping,
          headers: { "x-github-event": "ping", "x-hub-signature-256": sign(ping) },
          status: 400,
          code: "INVALID_INPUT",
        },
        {
          name: "signed, but not JSON",
          body: "zen=1",
          headers: { "x-github-event": "ping", "x-github-delivery": "d-5", "x-hub-signature-256": sign("zen=1") },
          status: 400,
          code: "INVALID_INPUT",
        },
        {
          name: "over the size limit",
          body: `{"zen":"${"x".repeat(MAX_WEBHOOK_BYTES)}"}`,
          headers: { "x-github-event": "ping", "x-github-delivery": "d-6", "x-hub-signature-256": "sha256=00" },
          status: 413,
          code: "PAYLOAD_TOO_LARGE",
        },
        {
          name: "signed ping",
          body: ping,
          headers: { "x-github-event": "ping", "x-github-delivery": "d-7", "x-hub-signature-256": sign(ping) },
          status: 202,
        },
        {
          name: "the same delivery again",
          body: ping,
          headers: { "x-github-event": "ping", "x-github-delivery": "d-7", "x-hub-signature-256": sign(ping) },
          status: 200,
        },
      ];

    test("without a webhook secret every delivery is refused with 503 and nothing is stored", async () => {
      const res = await post(ping, {
        "x-github-event": "ping",
        "x-github-delivery": "d-0",
        "x-hub-signature-256": sign(ping),
      });
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("UNAVAILABLE");
      await t.ctx.settings.update({ "github.webhookSecret": SECRET }, null);
    });

    for (const s of scenarios) {
      test(s.name, async () => {
        const res = await post(s.body, s.headers);
        expect(res.status).toBe(s.status);
        if (s.code) expect(((await res.json()) as { error: { code: string } }).error.code).toBe(s.code);
      });
    }

    test("only the signed delivery was stored, once, and queued once", async () => {
      const rows = await t.ctx.db.select().from(githubDeliveries);
      expect(rows.map((r) => r.deliveryId)).toEqual(["d-7"]);
      const jobs = await t.ctx.jobs.list({ name: "github.delivery" });
      expect(jobs).toHaveLength(1);
      const [row] = await t.ctx.db.select().from(githubDeliveries).where(eq(githubDeliveries.deliveryId, "d-7"));
      expect(row!.payload).toEqual(JSON.parse(ping));
    });
  });
}

describe("the App client against a GitHub Enterprise Server layout", () => {
  let gh: GitHubServer;
  let t: TestApp;
  beforeAll(async () => {
    gh = startGitHubServer();
    t = await createTestApp("pglite");
    const { privateKey, publicKey } = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    gh.app = { id: 77, slug: "ds", webhookSecret: "w", pem: privateKey, publicKey };
    gh.installations.set(5, { id: 5, account: { login: "acme", id: 9, type: "Organization" } });
    await t.ctx.settings.update(
      { "github.apiUrl": gh.apiUrl, "github.appId": "77", "github.privateKey": privateKey },
      null,
    );
  }, 180_000);
  afterAll(async () => {
    gh.stop();
    await t.close();
  });

  test("calls carry the App's JWT under /api/v3; tokens are reused until five minutes before they expire", async () => {
    const client = new GitHubClient(t.ctx.settings);
    const app = await client.appOctokit().request("GET /app");
    expect(app.data?.slug).toBe("ds");
    expect(gh.calls.at(-1)).toMatchObject({ method: "GET", path: "/app", auth: "app" });
    const a = await client.installationToken(5);
    expect(await client.installationToken(5)).toBe(a);
    expect(gh.tokensIssued).toBe(1);
    // A token that expires within the margin is replaced.
    gh.tokenTtlMs = 4 * 60_000;
    client.forgetToken(5);
    const short = await client.installationToken(5);
    const next = await client.installationToken(5);
    expect(next).not.toBe(short);
    expect(gh.tokensIssued).toBe(3);
    await expect(client.installationToken(6)).rejects.toMatchObject({ code: "GITHUB_ERROR", status: 502 });
  }, 30_000);

  test("a wrong private key is refused by GitHub with 401, reported without the key", async () => {
    const other = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
      publicKeyEncoding: { type: "spki", format: "pem" },
    });
    await t.ctx.settings.update({ "github.privateKey": other.privateKey }, null);
    const client = new GitHubClient(t.ctx.settings);
    const err = await client.installationToken(5).catch((e) => e);
    expect(err.message).toContain("HTTP 401");
    expect(err.message).not.toContain("PRIVATE KEY");
  }, 30_000);
});
