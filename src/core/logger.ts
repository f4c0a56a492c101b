/** Structured JSON logger: one line per event, with request and job ids carried in fields. */
type Level = "debug" | "info" | "warn" | "error";
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// Keys whose values are never written to a log line, whatever their depth.
const SECRET_KEY = /pass(word)?|secret|token|api[-_]?key|private[-_]?key|authorization|cookie|master[-_]?key|mnemonic/i;

/** Replaces values of secret-looking keys with "[redacted]" (also used for API responses). */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value instanceof Error) return { name: value.name, message: value.message };
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

function errorFields(err: unknown) {
  if (!(err instanceof Error)) return err;
  const out: Record<string, unknown> = { name: err.name, message: err.message, stack: err.stack };
  if (err.cause) out.cause = errorFields(err.cause);
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
