// The one input layer: refuses, before any SQL, what the database cannot store (NUL, lone surrogates, numbers
// beyond exact range, malformed ids), and the shared zod pieces route and service schemas use for ids and ints.
import { Elysia } from "elysia";
import { z } from "zod";
import { invalidInput, notFound } from "../errors";

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** PostgreSQL's `integer` range, the type of every counter and version column. */
export const INT32_MAX = 2_147_483_647;

/** Whether `s` is a UUID in its 8-4-4-4-12 form (either case). */
export const isUuid = (s: unknown): s is string => typeof s === "string" && UUID_RE.test(s);

/** A UUID, lower-cased: the form the database returns, so ids compare equal however they were typed. */
export const uuid = () =>
  z
    .string()
    .regex(UUID_RE, "must be a UUID")
    .transform((s) => s.toLowerCase());

/** A whole number in [min, max] (an `integer` column by default), from a number or a numeric string. */
export const intInRange = (min = 0, max = INT32_MAX) =>
  z.coerce.number().int("must be a whole number").min(min).max(max);

// PostgreSQL's timestamptz starts at 4713 BC; JavaScript dates reach back to 271821 BC (and end before
// PostgreSQL's 294276 AD, so only the lower end needs a check).
const TIMESTAMP_MIN = Date.UTC(-4712, 0, 1);

/** A time from text (an ISO date or timestamp) that a timestamp column can hold; undefined otherwise. */
export function storableDate(value: unknown): Date | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const ms = Date.parse(value);
  return ms >= TIMESTAMP_MIN ? new Date(ms) : undefined;
}

/** Whether a string can be stored: PostgreSQL refuses NUL, and a lone surrogate has no UTF-8 form. */
export const isStorableText = (s: string) => s.isWellFormed() && !s.includes("\u0000");

/**
 * The path (`a.b.0`) of the first value in `value` the database could not store: bad text in a key or string,
 * or a number that is not finite or beyond ±2^53 (JSON's `1e309` is Infinity; `99999999999999999999999` is
 * no longer the number that was sent). Null when everything is storable. Iterative: bodies may nest deeply.
 */
export function unstorablePath(value: unknown): string | null {
  const stack: [unknown, string][] = [[value, ""]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === "string") {
      if (!isStorableText(v)) return path || "_";
    } else if (typeof v === "number") {
      if (!Number.isFinite(v) || Math.abs(v) > Number.MAX_SAFE_INTEGER) return path || "_";
    } else if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v[i], path ? `${path}.${i}` : String(i)]);
    } else if (v !== null && typeof v === "object" && !(v instanceof Blob)) {
      for (const [k, child] of Object.entries(v)) {
        const p = path ? `${path}.${k}` : k;
        if (!isStorableText(k)) return path || "_";
        stack.push([child, p]);
      }
    }
  }
  return null;
}

// Ids by name: `id` and `…Id` path and query values are UUIDs everywhere except where a route says otherwise.
const ID_NAME = /^(id|[a-z][A-Za-z]*Id)$/;
// Routes whose `:id` is a name, not a row id (cron entries have stable dotted ids).
const NAMED_ID_ROUTES = new Set(["/api/admin/cron/:id/run"]);
// Integer path values by name (draft versions).
const INT_PARAMS = new Set(["version"]);

function checkParams(route: string, params: Record<string, string | null | undefined>) {
  for (const [name, value] of Object.entries(params)) {
    // Elysia gives null for a value whose percent-encoding is not UTF-8.
    if (typeof value !== "string" || !isStorableText(value)) throw notFound();
    if (ID_NAME.test(name) && !NAMED_ID_ROUTES.has(route)) {
      if (!isUuid(value)) throw notFound();
      params[name] = value.toLowerCase();
    } else if (INT_PARAMS.has(name) && !(/^[1-9]\d{0,9}$/.test(value) && Number(value) <= INT32_MAX)) {
      throw notFound();
    }
  }
}

function checkQuery(query: Record<string, unknown>) {
  const fields: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (!isStorableText(name)) {
      fields._ = "contains characters that cannot be stored";
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    if (values.some((v) => typeof v === "string" && !isStorableText(v))) {
      fields[name] = "contains characters that cannot be stored";
    } else if (ID_NAME.test(name)) {
      // An empty filter (a form's "any" choice) means no filter.
      if (value === "") delete query[name];
      else if (!isUuid(value)) fields[name] = "must be a UUID";
      else query[name] = value.toLowerCase();
    }
  }
  if (Object.keys(fields).length) throw invalidInput(fields);
}

/**
 * Applies the input rules to every route registered after it: path ids that are not UUIDs are 404, bad query
 * values and unstorable bodies are 400 INVALID_INPUT. Runs at transform, after parsing and before validation.
 */
export const inputGuard = () =>
  new Elysia({ name: "input-guard" }).onTransform({ as: "global" }, ({ body, query, params, route }) => {
    if (params) checkParams(route, params as Record<string, string | null | undefined>);
    if (query) checkQuery(query as Record<string, unknown>);
    if (body !== undefined && body !== null && typeof body !== "object" && typeof body !== "string") return;
    const bad = unstorablePath(body);
    if (bad) throw invalidInput({ [bad]: "contains characters or numbers that cannot be stored" });
  });
