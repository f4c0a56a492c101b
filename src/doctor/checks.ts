import { connect } from "node:net";
import type { AppContext } from "../core/context";

/** One doctor finding: `fail` blocks a feature, `warn` means optional and not configured. */
export interface CheckResult {
  name: string;
  status: "ok" | "warn" | "fail";
  detail: string;
  fix?: string;
}

type Check = (ctx: AppContext) => Promise<Omit<CheckResult, "name">>;

async function timed<T>(p: Promise<T>, ms = 4000): Promise<T> {
  let t: Timer | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

const database: Check = async (ctx) => {
  const t = performance.now();
  const [row] = await ctx.database.exec<{ v: string }>("select version() as v");
  return {
    status: "ok",
    detail: `${ctx.database.kind}: ${String(row?.v).split(" on ")[0]} (${Math.round(performance.now() - t)} ms)`,
  };
};

const docker: Check = async () => {
  const socket = process.env.DOCKER_HOST?.replace(/^unix:\/\//, "") ?? "/var/run/docker.sock";
  try {
    const res = await timed(fetch("http://localhost/version", { unix: socket } as RequestInit));
    const v = (await res.json()) as { Version?: string };
    return { status: "ok", detail: `Docker engine ${v.Version ?? "?"} at ${socket}` };
  } catch (err) {
    return {
      status: "warn",
      detail: `no Docker engine at ${socket} (${(err as Error).message}); sandboxes fall back to bubblewrap`,
      fix: "apt-get install docker.io && systemctl start docker (or: dockerd --storage-driver=overlay2 &)",
    };
  }
};

const chain: Check = async (ctx) => {
  const { checkChain } = await import("../chain/doctor");
  const r = await checkChain(ctx);
  return { status: r.ok ? "ok" : "fail", detail: r.detail, fix: r.fix };
};

// A real (tiny) chat call, and an embedding when a model is set: the check is that the models answer.
const llm: Check = async (ctx) => (await import("../ai/doctor")).checkModels(ctx);

const sandbox: Check = async () => {
  const { checkSandbox } = await import("../sandbox/doctor");
  const r = await checkSandbox();
  return { status: r.ok ? "ok" : "fail", detail: r.detail, fix: r.fix };
};

const smtp: Check = async (ctx) => {
  const host = ctx.settings.get("smtp.host");
  if (!host) {
    const { outboxSummary } = await import("../notifications/mail");
    const s = await outboxSummary(ctx.database, false);
    return {
      status: "warn",
      detail: `no SMTP relay: e-mails are stored in the outbox, not sent (${s.pending + s.sending} waiting)`,
      fix: "Settings → E-mail",
    };
  }
  const port = ctx.settings.get("smtp.port");
  try {
    const banner = await timed(
      new Promise<string>((resolve, reject) => {
        const s = connect({ host, port }, () => {});
        s.once("data", (d) => {
          resolve(d.toString().trim());
          s.end();
        });
        s.once("error", reject);
      }),
    );
    return banner.startsWith("220")
      ? { status: "ok", detail: `${host}:${port} — ${banner.slice(0, 60)}` }
      : { status: "fail", detail: `unexpected greeting: ${banner.slice(0, 60)}`, fix: "check the SMTP host and port" };
  } catch (err) {
    return {
      status: "fail",
      detail: `${host}:${port} unreachable: ${(err as Error).message}`,
      fix: "check the SMTP host, port and firewall",
    };
  }
};

const github: Check = async (ctx) => {
  const api = ctx.settings.get("github.apiUrl").replace(/\/$/, "");
  try {
    const res = await timed(fetch(`${api}/meta`, { headers: { accept: "application/vnd.github+json" } }));
    if (!res.ok)
      return { status: "fail", detail: `${api}/meta answered ${res.status}`, fix: "check Settings → GitHub → API URL" };
    const app = ctx.settings.get("github.appId");
    return app
      ? { status: "ok", detail: `${api} reachable; GitHub App ${app}` }
      : {
          status: "warn",
          detail: `${api} reachable; no GitHub App configured (private repos need one)`,
          fix: "Settings → GitHub",
        };
  } catch (err) {
    return {
      status: "warn",
      detail: `${api} unreachable (${(err as Error).message}); GitHub features are off, plain git URLs still work`,
      fix: "allow outbound HTTPS to GitHub, or set a GitHub Enterprise URL",
    };
  }
};

// While no admin exists, the setup token to open /setup with (the operator may have missed the first start's log).
const setup: Check = async (ctx) => (await import("../auth/first-admin")).setupCheck(ctx);

// With a GitHub App configured: its JWT, installations and webhook secret; else the reachability check above.
const githubApp: Check = async (ctx) => (await import("./github-app")).checkGitHubApp(ctx, github);

/** The checks `devsponsor doctor` runs, in order. Domains may replace one with a deeper check of their own. */
export const CHECKS: Record<string, Check> = { database, setup, docker, sandbox, chain, llm, smtp, github: githubApp };

/** Runs every check concurrently, each with its own time limit. */
export async function runChecks(ctx: AppContext): Promise<CheckResult[]> {
  return Promise.all(
    Object.entries(CHECKS).map(async ([name, check]) => {
      try {
        return { name, ...(await timed(check(ctx), 30_000)) };
      } catch (err) {
        return { name, status: "fail" as const, detail: (err as Error).message };
      }
    }),
  );
}
