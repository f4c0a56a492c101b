// The settings API and page as an admin and as anyone else, with real sessions.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createTestApp, type TestApp } from "../../../test/support/app";
import { createUser, type TestUser } from "../../../test/support/auth";
import { dbKinds } from "../../../test/support/db";

for (const kind of dbKinds()) {
  let t: TestApp;
  let admin: TestUser;
  let member: TestUser;
  beforeAll(async () => {
    t = await createTestApp(kind);
    admin = await createUser(t, { admin: true });
    member = await createUser(t);
  });
  afterAll(() => t.close());

  test(`[${kind}] only admins read or change settings`, async () => {
    expect((await member.request("GET", "/api/settings")).status).toBe(403);
    expect((await member.request("PATCH", "/api/settings", { body: { "instance.name": "x" } })).status).toBe(403);
    expect((await member.request("GET", "/admin/settings")).status).toBe(403);
    expect(t.ctx.settings.get("instance.name")).toBe("DevSponsor");
  });

  test(`[${kind}] an admin changes a secret: stored, redacted in the answer, audited by name only`, async () => {
    const res = await admin.request("PATCH", "/api/settings", {
      body: { "ai.apiKey": "sk-route-secret-77", "ai.provider": "ollama" },
    });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain("sk-route-secret-77");
    const body = JSON.parse(text);
    expect(body.changed.sort()).toEqual(["ai.apiKey", "ai.provider"]);
    expect(body.settings.find((s: any) => s.key === "ai.apiKey").value).toBe("[redacted]");
    expect(t.ctx.settings.get("ai.apiKey")).toBe("sk-route-secret-77");
    const rows = await t.ctx.database.exec<{ action: string; payload: unknown }>(
      "select action, payload from audit_log where action = 'settings.update'",
    );
    expect(rows.length).toBe(1);
    expect(JSON.stringify(rows[0].payload)).toContain("ai.apiKey");
    expect(JSON.stringify(rows[0].payload)).not.toContain("sk-route-secret-77");
  });

  test(`[${kind}] the settings form saves typed values and shows field errors`, async () => {
    const page = await admin.request("GET", "/admin/settings", { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).not.toContain("sk-route-secret-77");
    const ok = await admin.request("POST", "/admin/settings", {
      body: new URLSearchParams({ _csrf: admin.csrf, "chain.confirmations": "6", "smtp.secure": "true" }),
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
    });
    expect(ok.status).toBe(200);
    expect(t.ctx.settings.get("chain.confirmations")).toBe(6);
    expect(t.ctx.settings.get("smtp.secure")).toBe(true);
    const bad = await admin.request("POST", "/admin/settings", {
      body: new URLSearchParams({
        _csrf: admin.csrf,
        "chain.confirmations": "many",
        "instance.name": "Typed but not saved",
        "instance.publicUrl": "",
        "ai.provider": "ollama",
        "ai.apiKey": "sk-typed-secret-5",
      }),
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
    });
    expect(bad.status).toBe(400);
    const text = await bad.text();
    expect(text).toContain("Nothing was saved");
    expect(text).toContain('<a href="#chain.confirmations-error">Enter a number.</a>');
    expect(text).toMatch(/name="chain.confirmations" value="many" aria-invalid="true"/);
    // every typed value is kept (an emptied one stays empty), a secret is asked for again, never echoed
    expect(text).toContain('value="Typed but not saved"');
    expect(text).toContain('name="instance.publicUrl" value=""');
    expect(text).toMatch(/<select name="ai.provider">.*<option value="ollama" selected>/s);
    expect(text).not.toContain("sk-typed-secret-5");
    expect(text).toContain("Not saved: type it again.");
    expect(t.ctx.settings.get("chain.confirmations")).toBe(6);
    expect(t.ctx.settings.get("instance.name")).not.toBe("Typed but not saved");
  });

  test(`[${kind}] keys every object has are unknown settings, in the API and the form`, async () => {
    for (const key of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const res = await admin.request("PATCH", "/api/settings", { body: JSON.parse(`{"${key}": 1}`) });
      // The body schema drops `__proto__` (nothing to change); every other such key is an unknown setting.
      expect(res.status).toBe(key === "__proto__" ? 200 : 400);
      if (key !== "__proto__") expect((await res.json()).error.code).toBe("INVALID_INPUT");
      const form = await admin.request("POST", "/admin/settings", {
        body: new URLSearchParams({ _csrf: admin.csrf, [key]: "1", "smtp.port": "2525" }),
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      });
      expect(form.status).toBe(200); // unknown form fields are ignored; the known one is saved
    }
    expect(t.ctx.settings.get("smtp.port")).toBe(2525);
  });

  test(`[${kind}] a text setting keeps the string it was sent, also after a reload and through the form`, async () => {
    for (const v of ["12345", "true", "[1,2]", "null", '{"a":1}', " 0x10"]) {
      const res = await admin.request("PATCH", "/api/settings", { body: { "ai.chatModel": v } });
      expect(res.status).toBe(200);
      const listed = (await res.json()).settings.find((s: { key: string }) => s.key === "ai.chatModel");
      expect(listed.value).toBe(v);
      await t.ctx.settings.reload();
      expect(t.ctx.settings.get("ai.chatModel")).toBe(v);
    }
    const form = await admin.request("POST", "/admin/settings", {
      body: new URLSearchParams({ _csrf: admin.csrf, "ai.chatModel": "42", "github.appId": "true" }),
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
    });
    expect(form.status).toBe(200);
    await t.ctx.settings.reload();
    expect(t.ctx.settings.get("ai.chatModel")).toBe("42");
    expect(t.ctx.settings.get("github.appId")).toBe("true");
  });

  test(`[${kind}] a lone surrogate or NUL in a value is refused with 400`, async () => {
    for (const v of ["\ud800x", "x\udc00", "a\u0000b"]) {
      const res = await admin.request("PATCH", "/api/settings", { body: { "ai.chatModel": v, "smtp.from": "x" } });
      expect(res.status).toBe(400);
      expect((await res.json()).error.code).toBe("INVALID_INPUT");
    }
    await expect(t.ctx.settings.update({ "ai.chatModel": "\ud800" }, null)).rejects.toMatchObject({
      code: "INVALID_INPUT",
    });
  });
}
