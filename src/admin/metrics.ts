// Prometheus metrics (text exposition format 0.0.4): HTTP counters and durations kept in memory by this process,
// and a few counts from the database (jobs, harness runs, proofs, payments, AI calls), cached a few seconds so a
// scrape stays cheap however often it comes.
import type { AppContext } from "../core/context";
import { safeEqual, sha256Hex } from "../core/crypto";
import { AppError, notFound } from "../core/errors";
import { pageCacheOf } from "../core/http/page-cache";
import { openRunStreams } from "../core/jobs/routes";

/** The duration histogram's upper bounds, in seconds. */
export const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** How long the database counts of a scrape are reused as they are. */
export const COUNTS_TTL_MS = 5_000;
/** Up to this age, older counts still answer a scrape while a new read runs; past it, the scrape waits for it. */
export const COUNTS_STALE_MS = 60_000;

interface Histogram {
  method: string;
  route: string;
  /** The escaped label pairs, made once: a scrape only joins strings. */
  labels: string;
  buckets: number[];
  sum: number;
  count: number;
}

interface Counts {
  jobs: { name: string; state: string; n: number }[];
  harness: { status: string; n: number }[];
  proofs: { status: string; n: number }[];
  payments: { status: string; n: number }[];
  ai: { purpose: string; status: string; n: number }[];
}

/** One process's metrics: request counters and histograms, and the cached database counts. */
export class Metrics {
  private readonly requests = new Map<string, { method: string; route: string; labels: string; n: number }>();
  private readonly durations = new Map<string, Histogram>();
  private counts?: { at: number; value: Promise<Counts> };

  /** Counts one answered request. `route` is the route's pattern (`/projects/:id`), never the raw path. */
  recordRequest(method: string, route: string, status: number, seconds: number) {
    const key = `${method} ${route} ${status}`;
    const c = this.requests.get(key);
    if (c) c.n++;
    else this.requests.set(key, { method, route, labels: labelText({ method, route, status: String(status) }), n: 1 });
    const hkey = `${method} ${route}`;
    let h = this.durations.get(hkey);
    if (!h) {
      h = {
        method,
        route,
        labels: labelText({ method, route }),
        buckets: DURATION_BUCKETS.map(() => 0),
        sum: 0,
        count: 0,
      };
      this.durations.set(hkey, h);
    }
    for (let i = 0; i < DURATION_BUCKETS.length; i++) if (seconds <= DURATION_BUCKETS[i]!) h.buckets[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** The database counts, read at most once per COUNTS_TTL_MS (concurrent scrapes share one read). */
  dbCounts(ctx: Pick<AppContext, "database">, now = Date.now()): Promise<Counts> {
    const cached = this.counts;
    if (cached && now - cached.at < COUNTS_TTL_MS) return cached.value;
    if (cached && now - cached.at < COUNTS_STALE_MS) {
      // Stale but recent counts answer at once and are read again after this scrape is answered (PGlite runs on
      // this thread): a scrape every 15 s never waits for the read.
      this.counts = { at: now, value: cached.value };
      setTimeout(() => {
        readCounts(ctx).then(
          (fresh) => {
            if (this.counts?.at === now) this.counts = { at: now, value: Promise.resolve(fresh) };
          },
          () => {}, // the stale counts stay until the next scrape tries again
        );
      }, 0);
      return cached.value;
    }
    const value = readCounts(ctx);
    this.counts = { at: now, value };
    value.catch(() => {
      if (this.counts?.value === value) this.counts = undefined; // a failed read is not cached
    });
    return value;
  }

  /** The exposition text of everything. */
  async render(ctx: Pick<AppContext, "database" | "live" | "version" | "startedAt">): Promise<string> {
    const counts = await this.dbCounts(ctx);
    const out: string[] = [];
    const family = (name: string, type: "counter" | "gauge" | "histogram", help: string) => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    };

    family("devsponsor_build_info", "gauge", "The running version (always 1).");
    out.push(sample("devsponsor_build_info", { version: ctx.version }, 1));
    family("devsponsor_process_start_time_seconds", "gauge", "When this process started, in seconds since the epoch.");
    out.push(sample("devsponsor_process_start_time_seconds", {}, ctx.startedAt.getTime() / 1000));

    family(
      "devsponsor_http_requests_total",
      "counter",
      "HTTP requests answered by this process, by route, method and status.",
    );
    for (const c of [...this.requests.values()].sort(byLabels)) {
      out.push(`devsponsor_http_requests_total{${c.labels}} ${c.n}`);
    }
    family(
      "devsponsor_http_request_duration_seconds",
      "histogram",
      "Time to answer an HTTP request, by route and method.",
    );
    for (const h of [...this.durations.values()].sort(byLabels)) {
      // each bucket counts every request up to its bound: cumulative, as the format wants
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        out.push(
          `devsponsor_http_request_duration_seconds_bucket{${h.labels},le="${DURATION_BUCKETS[i]}"} ${h.buckets[i]}`,
        );
      }
      out.push(`devsponsor_http_request_duration_seconds_bucket{${h.labels},le="+Inf"} ${h.count}`);
      out.push(`devsponsor_http_request_duration_seconds_sum{${h.labels}} ${h.sum}`);
      out.push(`devsponsor_http_request_duration_seconds_count{${h.labels}} ${h.count}`);
    }

    family("devsponsor_jobs", "gauge", "Background jobs stored, by job name and state.");
    for (const r of counts.jobs) out.push(sample("devsponsor_jobs", { name: r.name, state: r.state }, r.n));
    family("devsponsor_harness_runs", "gauge", "Harness runs (task verifications) stored, by verdict.");
    for (const r of counts.harness) out.push(sample("devsponsor_harness_runs", { verdict: r.status }, r.n));
    family("devsponsor_proofs", "gauge", "Zero-knowledge payment proofs made, by status.");
    for (const r of counts.proofs) out.push(sample("devsponsor_proofs", { status: r.status }, r.n));
    family("devsponsor_payments", "gauge", "Payments to contributors, by state.");
    for (const r of counts.payments) out.push(sample("devsponsor_payments", { state: r.status }, r.n));
    family("devsponsor_ai_calls", "gauge", "Model calls recorded, by purpose and status.");
    for (const r of counts.ai) out.push(sample("devsponsor_ai_calls", { purpose: r.purpose, status: r.status }, r.n));

    family("devsponsor_sse_clients", "gauge", "Open Server-Sent Events streams of this process, by stream.");
    out.push(sample("devsponsor_sse_clients", { stream: "live" }, ctx.live?.size ?? 0));
    out.push(sample("devsponsor_sse_clients", { stream: "runs" }, openRunStreams()));
    const cache = pageCacheOf(ctx.database).stats();
    family("devsponsor_page_cache_requests_total", "counter", "Cached pages and lists asked for, by result.");
    out.push(sample("devsponsor_page_cache_requests_total", { result: "hit" }, cache.hits));
    out.push(sample("devsponsor_page_cache_requests_total", { result: "miss" }, cache.misses));
    family("devsponsor_page_cache_bytes", "gauge", "Bytes of rendered pages this process keeps.");
    out.push(sample("devsponsor_page_cache_bytes", {}, cache.bytes));
    return `${out.join("\n")}\n`;
  }
}

const byLabels = (a: { route: string; method: string }, b: { route: string; method: string }) =>
  a.route === b.route ? a.method.localeCompare(b.method) : a.route.localeCompare(b.route);

/** A label value escaped as the format asks: backslash, double quote and line feed. */
export const escapeLabel = (v: string) =>
  /[\\"\n]/.test(v) ? v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n") : v;

/** `k="v",…` with the values escaped. */
const labelText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
    .join(",");

function sample(name: string, labels: Record<string, string>, value: number): string {
  const l = labelText(labels);
  const v = Number.isFinite(value) ? String(value) : value > 0 ? "+Inf" : value < 0 ? "-Inf" : "NaN";
  return l ? `${name}{${l}} ${v}` : `${name} ${v}`;
}

async function readCounts(ctx: Pick<AppContext, "database">): Promise<Counts> {
  // one statement, one round trip: every family's counts as (family, a, b, n) rows
  const rows = await ctx.database.exec<{ k: string; a: string; b: string | null; n: string }>(
    `select 'jobs' as k, name as a, state as b, count(*) as n from jobs group by 2, 3
     union all select 'harness', status, null, count(*) from task_verifications group by 2
     union all select 'proofs', status, null, count(*) from zk_proofs group by 2
     union all select 'payments', status, null, count(*) from payments group by 2
     union all select 'ai', purpose, status, count(*) from ai_calls group by 2, 3
     order by 1, 2, 3`,
  );
  const counts: Counts = { jobs: [], harness: [], proofs: [], payments: [], ai: [] };
  for (const r of rows) {
    const n = Number(r.n);
    if (r.k === "jobs") counts.jobs.push({ name: r.a, state: r.b ?? "", n });
    else if (r.k === "ai") counts.ai.push({ purpose: r.a, status: r.b ?? "", n });
    else counts[r.k as "harness" | "proofs" | "payments"].push({ status: r.a, n });
  }
  return counts;
}

const registries = new WeakMap<object, Metrics>();

/** The metrics of an app context (one per running app). */
export function metricsOf(ctx: object): Metrics {
  let m = registries.get(ctx);
  if (!m) {
    m = new Metrics();
    registries.set(ctx, m);
  }
  return m;
}

/**
 * Checks a scrape's bearer token against the `security.metricsToken` setting: 404 while none is set (the endpoint
 * is off), 401 without the right one. Both sides are hashed first so the comparison takes the same time whatever
 * was sent.
 */
export function checkScrapeToken(ctx: Pick<AppContext, "settings">, authorization: string | null) {
  const token = ctx.settings.get("security.metricsToken");
  if (!token) throw notFound();
  const sent = /^Bearer\s+(\S+)$/i.exec(authorization?.trim() ?? "")?.[1] ?? "";
  if (!safeEqual(sha256Hex(sent), sha256Hex(token))) {
    throw new AppError("UNAUTHORIZED", "A valid metrics bearer token is required.", 401);
  }
}
