// The form kit every page route uses: read a form, validate it with the JSON API's zod schema, keep what was typed
// with plain field errors, flash a message after a redirect, and send signed-out visitors to sign in.
import { z } from "zod";
import type { Principal } from "../context";
import { AppError, type FieldErrors } from "../errors";

/** A form as the route read it: one string per field, or every value of a field the schema wants as a list. */
export type FormValues = Record<string, string | string[]>;

/** What a form page shows again after a failed save: the values typed, field errors, and a message for the top. */
export interface FormState<V extends FormValues = FormValues> {
  values: V;
  errors: FieldErrors;
  message: string;
}

/** The result of `parseForm`: the schema's output, or the form to render again. */
export type FormResult<T> = { ok: true; data: T; values: FormValues } | ({ ok: false } & FormState);

/** A one-line notice at the top of a page. */
export interface Flash {
  kind: "error" | "success";
  message: string;
}

/** Plain-language messages for zod's built-in checks; a schema's own message always wins over these. */
function plainMessage(issue: z.core.$ZodRawIssue): string | undefined {
  switch (issue.code) {
    case "invalid_type":
      if (issue.input === undefined || issue.input === null || issue.input === "") return "This field is required.";
      if (issue.expected === "number" || issue.expected === "int" || issue.expected === "bigint")
        return "Enter a number.";
      if (issue.expected === "boolean") return "Choose yes or no.";
      if (issue.expected === "array") return "Choose at least one.";
      return "This value is not valid.";
    case "too_small": {
      const min = Number(issue.minimum);
      if (issue.origin === "string") return min <= 1 ? "This field is required." : `Use at least ${min} characters.`;
      if (issue.origin === "array" || issue.origin === "set")
        return min <= 1 ? "Choose at least one." : `Choose at least ${min}.`;
      return `Enter ${issue.inclusive === false ? "more than" : "at least"} ${min}.`;
    }
    case "too_big": {
      const max = Number(issue.maximum);
      if (issue.origin === "string") return `Use at most ${max} characters.`;
      if (issue.origin === "array" || issue.origin === "set") return `Choose at most ${max}.`;
      return `Enter ${issue.inclusive === false ? "less than" : "at most"} ${max}.`;
    }
    case "invalid_value":
      return issue.values.length === 1 ? `Must be ${String(issue.values[0])}.` : "Choose one of the listed options.";
    case "invalid_format":
      if (issue.format === "email") return "Enter an e-mail address.";
      if (issue.format === "url") return "Enter a full URL (https://…).";
      if (issue.format === "uuid" || issue.format === "guid") return "This id is not valid.";
      return "The format is not valid.";
    case "not_multiple_of":
      return `Use a multiple of ${String(issue.divisor)}.`;
    case "unrecognized_keys":
      return `Unknown field${issue.keys.length > 1 ? "s" : ""}: ${issue.keys.join(", ")}.`;
    default:
      return undefined;
  }
}

// zod's defaults ("Invalid input: expected string, received undefined") are for developers. Installed once, here,
// so the HTML forms and the JSON API (same schemas, validated in the services) say the same plain thing.
z.config({ customError: plainMessage });

/** Whether a field of an object schema takes a list (checkbox groups, multi-selects). */
function wantsList(schema: unknown, key: string): boolean {
  const shape = (schema as { shape?: Record<string, unknown> }).shape;
  let s = shape?.[key] as { def?: { type: string; innerType?: unknown; in?: unknown } } | undefined;
  // look through optional(), default(), nullable() and pipes to the type the field really takes
  for (let i = 0; s?.def && i < 8; i++) {
    if (s.def.type === "array" || s.def.type === "set") return true;
    s = (s.def.innerType ?? s.def.in) as typeof s;
  }
  return false;
}

/**
 * A form body as plain fields: strings only (files and objects are left to the route), `_csrf` and `_confirm` removed, empty
 * strings dropped so optional fields stay optional. A repeated field keeps every value only when listed in `lists`;
 * otherwise its first value counts.
 */
export function readForm(body: unknown): Record<string, string>;
export function readForm(body: unknown, lists: readonly string[]): FormValues;
export function readForm(body: unknown, lists: readonly string[] = []): FormValues {
  const out: FormValues = {};
  if (!body || typeof body !== "object") return out;
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    if (k === "_csrf" || k === "_confirm") continue; // the CSRF token and a confirmation's question (auth guard)
    const all = (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string" && x !== "");
    if (lists.includes(k)) out[k] = all;
    else if (all.length) out[k] = all[0]!;
  }
  return out;
}

/** One string field of a read form ("" when missing). */
export function formText(values: FormValues, name: string): string {
  const v = values[name];
  return Array.isArray(v) ? (v[0] ?? "") : (v ?? "");
}

/** Every value of a repeated field of a read form (checkbox groups; read with the field in `lists`). */
export function formList(values: FormValues, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : v ? [v] : [];
}

/** Reads a form and validates it with the same zod schema the JSON API uses. */
export function parseForm<S extends z.ZodType>(schema: S, body: unknown): FormResult<z.output<S>> {
  const lists = Object.keys((schema as { shape?: object }).shape ?? {}).filter((k) => wantsList(schema, k));
  const values = readForm(body, lists);
  const parsed = schema.safeParse(values);
  if (parsed.success) return { ok: true, data: parsed.data, values };
  return { ok: false, values, ...formFailure(parsed.error.issues) };
}

/** Field errors from zod issues: the first message of each field, keyed by its dotted path ("_" for the form). */
function formFailure(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): Omit<FormState, "values"> {
  const errors: FieldErrors = {};
  for (const issue of issues) errors[issue.path.map(String).join(".") || "_"] ??= issue.message;
  return { errors, message: "Check the fields marked below." };
}

/**
 * Runs a save and returns its value, or the form to render again when the service refused the input
 * (INVALID_INPUT and its field errors). Any other error is thrown on to the error page.
 */
export async function trySave<T, V extends FormValues>(
  values: V,
  save: () => Promise<T>,
): Promise<{ ok: true; value: T } | ({ ok: false } & FormState<V>)> {
  try {
    return { ok: true, value: await save() };
  } catch (err) {
    const form = formError(err, values);
    if (!form) throw err;
    return { ok: false, ...form };
  }
}

/** The form state of an INVALID_INPUT error (its field errors and message), or null for any other error. */
export function formError<V extends FormValues>(err: unknown, values: V = {} as V): FormState<V> | null {
  if (!(err instanceof AppError) || err.code !== "INVALID_INPUT") return null;
  return { values, errors: { ...((err.details.fields ?? {}) as FieldErrors) }, message: err.message };
}

/** A 303 redirect after a form post, with optional Set-Cookie values; htmx requests get HX-Redirect instead. */
export function seeOther(request: Request, location: string, cookies: string[] = []): Response {
  const headers = new Headers();
  for (const c of cookies) headers.append("set-cookie", c);
  if (request.headers.get("hx-request") === "true") {
    headers.set("hx-redirect", location);
    return new Response(null, { status: 204, headers });
  }
  headers.set("location", location);
  return new Response(null, { status: 303, headers });
}

/** The redirect to the sign-in page that comes back to this page (path and query) afterwards. */
export function signInRedirect(request: Request): Response {
  const url = new URL(request.url);
  return seeOther(request, `/signin?next=${encodeURIComponent(url.pathname + url.search)}`);
}

/**
 * The sign-in guard of a page: the caller, or the redirect to sign in that the route returns as it is.
 * `const p = await signedIn(request, principal); if (p instanceof Response) return p;`
 */
export async function signedIn(
  request: Request,
  principal: Principal | null | (() => Promise<Principal | null>),
): Promise<Principal | Response> {
  const p = typeof principal === "function" ? await principal() : principal;
  return p ?? signInRedirect(request);
}

/** What every page's layout needs from the caller: who they are (for the header) and the CSRF token for forms. */
export function pageProps(p: Principal) {
  const emailUnverified = p.via === "session" && !!p.email && p.emailVerified === false;
  return { viewer: { name: p.name, isAdmin: p.isAdmin, emailUnverified }, csrf: p.csrfToken };
}

/** A path with a flash key for the page it leads to (`/orgs/1?done=created`); read back with `readFlash`. */
export function withFlash(path: string, key: string, param = "done"): string {
  const [base, hash] = path.split("#", 2);
  const sep = base!.includes("?") ? "&" : "?";
  return `${base}${sep}${param}=${encodeURIComponent(key)}${hash ? `#${hash}` : ""}`;
}

/** A path carrying an error message for the page it leads to (`?error=…`), cut to a length a URL can carry. */
export function withError(path: string, message: string): string {
  return withFlash(path, message.slice(0, 300), "error");
}

/**
 * The flash of a page from its query string: `?done=<key>` (or another `param`) shows the success message
 * `messages[key]`; unknown keys show nothing, so a link cannot make up text. With `errors`, `?error=` shows its text
 * as an error (for pages that redirect back with a service's message).
 */
export function readFlash(
  query: Request | URLSearchParams | Record<string, unknown>,
  messages: Record<string, string> = {},
  opts: { param?: string; errors?: boolean } = {},
): Flash | undefined {
  const get = (k: string): string | undefined => {
    if (query instanceof Request) return new URL(query.url).searchParams.get(k) ?? undefined;
    if (query instanceof URLSearchParams) return query.get(k) ?? undefined;
    const v = query[k];
    return typeof v === "string" ? v : undefined;
  };
  const error = opts.errors ? get("error") : undefined;
  if (error) return { kind: "error", message: error };
  const key = get(opts.param ?? "done");
  return key && Object.hasOwn(messages, key) ? { kind: "success", message: messages[key]! } : undefined;
}
