import { describe, expect, test } from "bun:test";
import { z } from "zod";
import type { Principal } from "../context";
import { invalidInput, notFound } from "../errors";
import { formError, parseForm, readFlash, readForm, seeOther, signedIn, trySave, withError, withFlash } from "./form";

const Schema = z.object({
  name: z.string().trim().min(1, "Enter a name."),
  title: z.string().max(5),
  points: z.coerce.number().int().min(1),
  roles: z.array(z.enum(["owner", "member"])).min(1),
  note: z.string().optional(),
});

const user: Principal = { userId: "u1", name: "Ada", isAdmin: false, via: "session", csrfToken: "t" };

describe("readForm", () => {
  test.each([
    ["drops _csrf and empty strings", { _csrf: "x", a: "1", b: "" }, [], { a: "1" }],
    ["ignores files and objects", { a: new Blob(["x"]), b: { c: 1 }, d: "ok" }, [], { d: "ok" }],
    ["first value of a repeated field", { a: ["1", "2"] }, [], { a: "1" }],
    ["every value of a listed field", { a: ["1", "", "2"] }, ["a"], { a: ["1", "2"] }],
    ["a listed field sent once is a list", { a: "1" }, ["a"], { a: ["1"] }],
    ["no body", undefined, [], {}],
  ])("%s", (_name, body, lists, expected) => {
    expect(readForm(body, lists as string[])).toEqual(expected as Record<string, string>);
  });
});

describe("parseForm", () => {
  test("valid: the schema's output, lists found from the schema", () => {
    const r = parseForm(Schema, { _csrf: "x", name: " Ada ", title: "abc", points: "3", roles: "owner", note: "" });
    expect(r).toEqual({
      ok: true,
      data: { name: "Ada", title: "abc", points: 3, roles: ["owner"] },
      values: { name: " Ada ", title: "abc", points: "3", roles: ["owner"] },
    });
  });

  test("invalid: plain messages per field, the schema's own message kept, values kept", () => {
    const r = parseForm(Schema, { name: "  ", title: "toolong", points: "x", roles: ["owner", "boss"] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.values).toEqual({ name: "  ", title: "toolong", points: "x", roles: ["owner", "boss"] });
    expect(r.errors).toEqual({
      name: "Enter a name.",
      title: "Use at most 5 characters.",
      points: "Enter a number.",
      "roles.1": "Choose one of the listed options.",
    });
    expect(r.message).toBe("Check the fields marked below.");
  });

  test("a missing field says it is required, not what zod expected", () => {
    const r = parseForm(z.object({ a: z.string(), b: z.email(), c: z.number().min(2) }), { b: "nope", c: "1" });
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors).toEqual({ a: "This field is required.", b: "Enter an e-mail address.", c: "Enter a number." });
  });
});

describe("trySave and formError", () => {
  test("a refused save gives the form back with the service's field errors", async () => {
    const r = await trySave({ name: "x" }, async () => {
      throw invalidInput({ name: "Taken." }, "Not saved.");
    });
    expect(r).toEqual({ ok: false, values: { name: "x" }, errors: { name: "Taken." }, message: "Not saved." });
  });

  test("a successful save returns its value", async () => {
    expect(await trySave({}, async () => 7)).toEqual({ ok: true, value: 7 });
  });

  test("other errors are thrown on", async () => {
    await expect(trySave({}, async () => Promise.reject(notFound("Org")))).rejects.toThrow("Org not found.");
    expect(formError(new Error("x"))).toBeNull();
  });
});

describe("sign-in guard and redirects", () => {
  test("a signed-out visitor is sent to sign in and back to the page", async () => {
    const r = await signedIn(new Request("http://x/orgs/1?tab=a"), async () => null);
    expect(r).toBeInstanceOf(Response);
    expect((r as Response).status).toBe(303);
    expect((r as Response).headers.get("location")).toBe("/signin?next=%2Forgs%2F1%3Ftab%3Da");
  });

  test("a signed-in caller passes", async () => {
    expect(await signedIn(new Request("http://x/orgs"), user)).toBe(user);
    expect(await signedIn(new Request("http://x/orgs"), async () => user)).toBe(user);
  });

  test("htmx requests get HX-Redirect", () => {
    const r = seeOther(new Request("http://x/", { headers: { "hx-request": "true" } }), "/a", ["c=1"]);
    expect(r.status).toBe(204);
    expect(r.headers.get("hx-redirect")).toBe("/a");
    expect(r.headers.get("set-cookie")).toBe("c=1");
  });
});

describe("flash", () => {
  const messages = { created: "Organization created." };
  test.each([
    ["a known key", "/o?done=created", {}, { kind: "success", message: "Organization created." }],
    ["an unknown key shows nothing", "/o?done=hacked", {}, undefined],
    ["error text only where asked for", "/o?error=Nope", {}, undefined],
    ["error text", "/o?error=Nope&done=created", { errors: true }, { kind: "error", message: "Nope" }],
    [
      "another parameter",
      "/o?funding=created",
      { param: "funding" },
      { kind: "success", message: "Organization created." },
    ],
  ])("%s", (_name, url, opts, expected) => {
    expect(readFlash(new Request(`http://x${url}`), messages, opts)).toEqual(expected as never);
    expect(readFlash(new URL(`http://x${url}`).searchParams, messages, opts)).toEqual(expected as never);
  });

  test("withFlash and withError keep the path's query and anchor", () => {
    expect(withFlash("/p/1", "saved")).toBe("/p/1?done=saved");
    expect(withFlash("/p/1?a=1#funding", "quoted", "funding")).toBe("/p/1?a=1&funding=quoted#funding");
    expect(withError("/p/1#funding", "Too short & wrong")).toBe("/p/1?error=Too%20short%20%26%20wrong#funding");
    expect(withError("/p", "x".repeat(400)).length).toBeLessThan(320);
  });
});
