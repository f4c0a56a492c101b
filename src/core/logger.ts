/** Structured JSON logger: one line per event, with request and job ids carried in fields. */
import { openSync, writeSync } from "node:fs";
type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// Keys whose values are never written to a log line, whatever their depth.
const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|private[-_]?key|authorization|cookie|master[-_]?key|mnemonic/i;

// Database errors carry the statement's values: drizzle's message ends in "params: …", the drivers' errors have
// `params`/`parameters` and a `detail` that quotes the row ("Key (email)=(…) already exists"). A failed secret
// write would log the secret. Only the statement, the error code and the constraint are kept.
// PostgreSQL quotes the offending value in some messages: `invalid input syntax for type uuid: "…"`,
// `value "…" is out of range for type integer`.
const PARAMS_TAIL = /\nparams: [\s\S]*$/;
const QUOTED_VALUE_TAIL = /: "[\s\S]*"$/;
const OUT_OF_RANGE_VALUE = /value "[\s\S]*" is out of range/;
const VALUE_FIELDS = new Set(["params", "parameters", "args", "detail", "body", "where", "internalQuery"]);

/** An error's message without the values of the statement it ran. */
export const scrubMessage = (message: string) =>
  message
    .replace(PARAMS_TAIL, "")
    .replace(QUOTED_VALUE_TAIL, ': "[value]"')
    .replace(OUT_OF_RANGE_VALUE, 'value "[value]" is out of range');

/** Replaces values of secret-looking keys with "[redacted]" (also used for API responses). */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: scrubMessage(value.message) };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) && v !== null && v !== undefined && v !== "" ? "[redacted]" : redact(v, depth + 1);
  }
  return out;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

let minLevel: Level = (process.env.LOG_LEVEL as Level) in ORDER ? (process.env.LOG_LEVEL as Level) : "info";
let sink: (line: string) => void = (line) => process.stderr.write(line + "\n");

/** Changes where log lines go (tests capture them to prove no secret is logged). */
export function setLogSink(fn: (line: string) => void, level: Level = minLevel) {
  sink = fn;
  minLevel = level;
}

/**
 * Where the appliance logs (from the configuration: LOG_LEVEL, DEVSPONSOR_LOG_FILE): standard error, and when a
 * file is named, also that file (appended, created readable by the owner only).
 */
export function configureLogging(opts: { level: Level; file?: string }) {
  if (!opts.file) return setLogSink((line) => process.stderr.write(`${line}\n`), opts.level);
  const fd = openSync(opts.file, "a", 0o600);
  setLogSink((line) => {
    process.stderr.write(`${line}\n`);
    writeSync(fd, `${line}\n`);
  }, opts.level);
}

/** An error as logged: name, scrubbed message, code, constraint and stack frames (the stack's first line repeats the message). */
function errorFields(err: unknown, depth = 0): unknown {
  if (!(err instanceof Error)) {
    if (err === null || typeof err !== "object") return err;
    return Object.fromEntries(Object.entries(err).filter(([k]) => !VALUE_FIELDS.has(k)));
  }
  const e = err as Error & { code?: unknown; constraint?: unknown; constraint_name?: unknown };
  const out: Record<string, unknown> = { name: e.name, message: scrubMessage(e.message) };
  if (typeof e.code === "string" || typeof e.code === "number") out.code = e.code;
  const constraint = e.constraint_name ?? e.constraint;
  if (typeof constraint === "string") out.constraint = constraint;
  const frames = (e.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
  if (frames.length) out.stack = frames.join("\n");
  if (e.cause && depth < 5) out.cause = errorFields(e.cause, depth + 1);
  return out;
}

function make(base: Record<string, unknown>): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < ORDER[minLevel]) return;
    const f = fields ? { ...fields } : {};
    if ("err" in f) f.err = errorFields(f.err);
    sink(JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...(redact(f) as object) }));
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => make({ ...base, ...fields }),
  };
}

/** The process-wide logger. */
export const log: Logger = make({});
