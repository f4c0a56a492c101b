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
  if (ctx.settings.get("chain.mode") === "dev") return { status: "ok", detail: "embedded dev chain (started with the server)" };
  const url = ctx.settings.get("chain.rpcUrl");
  if (!url) return { status: "fail", detail: "chain mode is rpc but no RPC URL is set", fix: "Settings → Chain → RPC URL" };
  try {
    const res = await timed(
      fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      }),
    );
    const id = Number.parseInt(((await res.json()) as { result: string }).result, 16);
    const want = ctx.settings.get("chain.chainId");
    if (id !== want) return { status: "fail", detail: `RPC answers chain id ${id}, settings say ${want}`, fix: "Settings → Chain → Chain id" };
    return { status: "ok", detail: `RPC ${new URL(url).host} on chain ${id}` };
  } catch (err) {
    return { status: "fail", detail: `RPC unreachable: ${(err as Error).message}`, fix: "check Settings → Chain → RPC URL" };
  }
};

const llm: Check = async (ctx) => {
  const provider = ctx.settings.get("ai.provider");
  if (provider === "none") {
    return { status: "warn", detail: "no model configured: template planner and retrieval-only sidebar", fix: "Settings → AI models" };
  }
  const base = ctx.settings.get("ai.baseUrl").replace(/\/$/, "");
  const url = provider === "ollama" ? `${base}/api/tags` : `${base}/models`;
  try {
    const key = ctx.settings.get("ai.apiKey");
    const res = await timed(fetch(url, { headers: key ? { authorization: `Bearer ${key}` } : {} }));
    if (!res.ok) return { status: "fail", detail: `${url} answered ${res.status}`, fix: "check the model server URL and API key" };
    const body = (await res.json()) as { models?: { name: string }[]; data?: { id: string }[] };
    const names = (body.models?.map((m) => m.name) ?? body.data?.map((m) => m.id) ?? []).slice(0, 50);
    const model = ctx.settings.get("ai.chatModel");
    const found = names.some((n) => n === model || n.startsWith(`${model}:`));
    return found
      ? { status: "ok", detail: `${provider} at ${base} serves ${model}` }
      : { status: "fail", detail: `${model} not among ${names.length} models at ${base}`, fix: `ollama pull ${model}, or pick a listed model` };
  } catch (err) {
    return { status: "fail", detail: `model server unreachable: ${(err as Error).message}`, fix: "start the model server or fix Settings → AI → URL" };
  }
};

const smtp: Check = async (ctx) => {
  const host = ctx.settings.get("smtp.host");
  if (!host) return { status: "warn", detail: "no SMTP relay: e-mails are stored in the outbox, not sent", fix: "Settings → E-mail" };
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
    return { status: "fail", detail: `${host}:${port} unreachable: ${(err as Error).message}`, fix: "check the SMTP host, port and firewall" };
  }
};

const github: Check = async (ctx) => {
  const api = ctx.settings.get("github.apiUrl").replace(/\/$/, "");
  try {
    const res = await timed(fetch(`${api}/meta`, { headers: { accept: "application/vnd.github+json" } }));
    if (!res.ok) return { status: "fail", detail: `${api}/meta answered ${res.status}`, fix: "check Settings → GitHub → API URL" };
    const app = ctx.settings.get("github.appId");
    return app
      ? { status: "ok", detail: `${api} reachable; GitHub App ${app}` }
      : { status: "warn", detail: `${api} reachable; no GitHub App configured (private repos need one)`, fix: "Settings → GitHub" };
  } catch (err) {
    return {
      status: "warn",
      detail: `${api} unreachable (${(err as Error).message}); GitHub features are off, plain git URLs still work`,
      fix: "allow outbound HTTPS to GitHub, or set a GitHub Enterprise URL",
    };
  }
};

/** The checks `devsponsor doctor` runs, in order. Domains may replace one with a deeper check of their own. */
export const CHECKS: Record<string, Check> = { database, docker, chain, llm, smtp, github };

/** Runs every check concurrently, each with its own time limit. */
export async function runChecks(ctx: AppContext): Promise<CheckResult[]> {
  return Promise.all(
    Object.entries(CHECKS).map(async ([name, check]) => {
      try {
        return { name, ...(await timed(check(ctx), 8000)) };
      } catch (err) {
        return { name, status: "fail" as const, detail: (err as Error).message };
      }
    }),
  );
}
