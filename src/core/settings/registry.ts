import { z } from "zod";

/** One admin setting: its type, default, environment override, and whether it is a secret. */
export interface SettingDef<S extends z.ZodType = z.ZodType> {
  schema: S;
  default: z.infer<S>;
  label: string;
  help?: string;
  secret?: boolean;
}

const def = <S extends z.ZodType>(schema: S, dflt: z.infer<S>, label: string, extra: Partial<SettingDef<S>> = {}) =>
  ({ schema, default: dflt, label, ...extra }) as SettingDef<S>;

const url = z.url().or(z.literal(""));
const address = z.string().regex(/^(0x[0-9a-fA-F]{40})?$/, "Enter a 0x… address (40 hex digits), or leave it empty.");

/**
 * Everything an admin configures, in one typed registry. Keys are `section.name`; the environment variable
 * `DEVSPONSOR_SECTION_NAME` (upper snake case) overrides the stored value.
 */
export const SETTINGS = {
  "instance.name": def(z.string().min(1).max(80), "DevSponsor", "Instance name"),
  "instance.publicUrl": def(url, "", "Public URL", { help: "Used in e-mails, OAuth callbacks and webhooks." }),
  "instance.corsOrigins": def(z.array(z.url()).max(20), [], "Extra allowed CORS origins"),

  "ai.provider": def(z.enum(["none", "ollama", "openai-compatible"]), "none", "Model provider", {
    help: "With none, the template planner drafts milestones and the sidebar answers from retrieval only.",
  }),
  "ai.baseUrl": def(url, "http://127.0.0.1:11434", "Model server URL"),
  "ai.chatModel": def(z.string().max(200), "llama3.1", "Chat model"),
  "ai.embeddingModel": def(z.string().max(200), "", "Embedding model", {
    help: "Empty: retrieval uses LanceDB full-text search.",
  }),
  "ai.apiKey": def(z.string().max(500), "", "Model server API key", { secret: true }),
  "ai.temperature": def(z.number().min(0).max(2), 0.2, "Temperature"),
  "ai.sidebarPerMinute": def(z.number().int().min(1).max(600), 20, "Sidebar requests per user per minute"),

  "chain.mode": def(z.enum(["dev", "rpc"]), "dev", "Chain", { help: "dev: the embedded chain; rpc: a real node." }),
  "chain.rpcUrl": def(url, "", "RPC URL"),
  "chain.chainId": def(z.number().int().positive(), 31337, "Chain id"),
  "chain.escrowAddress": def(address, "", "Escrow contract address"),
  "chain.verifierAddress": def(address, "", "Verifier contract address"),
  "chain.priceFeedAddress": def(address, "", "Price feed (AggregatorV3) address"),
  "chain.treasuryAddress": def(address, "", "Treasury address"),
  "chain.workerKey": def(
    z.string().regex(/^(0x[0-9a-fA-F]{64})?$/, "Enter a 0x… private key (64 hex digits), or leave it empty."),
    "",
    "Worker key",
    {
      secret: true,
    },
  ),
  "chain.harnessKey": def(
    z.string().regex(/^(0x[0-9a-fA-F]{64})?$/, "Enter a 0x… private key (64 hex digits), or leave it empty."),
    "",
    "Harness key",
    {
      secret: true,
      help: "Signs verification reports; the escrow accepts only reports signed by it.",
    },
  ),
  "chain.confirmations": def(z.number().int().min(0).max(100), 2, "Confirmations required"),
  "chain.explorerUrl": def(url, "", "Block explorer URL", {
    help: "Transactions link to <URL>/tx/<hash> on the admin pages; empty: no links.",
  }),
  "chain.rpcTimeoutMs": def(z.number().int().min(1000).max(600_000), 60_000, "RPC request timeout (ms)", {
    help: "How long one request to the node may take; slow nodes need tens of seconds to estimate gas.",
  }),

  "funding.pointRateUsdCents": def(z.number().int().min(1), 5000, "Point rate (US cents per point)"),
  "funding.platformFeeBps": def(z.number().int().min(0).max(2000), 250, "Platform fee (basis points)"),
  "funding.yieldFeeBps": def(z.number().int().min(0).max(5000), 1000, "Treasury share of yield (basis points)"),
  "funding.quoteTtlSeconds": def(z.number().int().min(30).max(86400), 900, "Quote validity (seconds)"),

  "github.baseUrl": def(url, "https://github.com", "GitHub URL", { help: "GitHub Enterprise Server: its URL." }),
  "github.apiUrl": def(url, "https://api.github.com", "GitHub API URL"),
  "github.appId": def(z.string().max(40), "", "GitHub App id"),
  "github.appSlug": def(z.string().max(100), "", "GitHub App slug", { help: "Set by the one-click setup." }),
  "github.clientId": def(z.string().max(100), "", "OAuth client id"),
  "github.clientSecret": def(z.string().max(200), "", "OAuth client secret", { secret: true }),
  "github.privateKey": def(z.string().max(10000), "", "GitHub App private key (PEM)", { secret: true }),
  "github.webhookSecret": def(z.string().max(200), "", "Webhook secret", { secret: true }),

  "auth.localSignup": def(z.boolean(), true, "Allow sign-up with e-mail and password", {
    help: "Off: new people sign in with GitHub only.",
  }),
  "auth.sessionDays": def(z.number().int().min(1).max(365), 30, "Session lifetime (days)"),
  "auth.trustLocalEmails": def(z.boolean(), false, "Trust e-mail addresses of local accounts", {
    help: "On: an e-mail invite can be accepted by the local account with that address without the e-mailed link (air-gapped installs without SMTP).",
  }),
  "auth.inviteTtlDays": def(z.number().int().min(1).max(90), 14, "Invites expire after (days)"),

  "smtp.host": def(z.string().max(200), "", "SMTP host", { help: "Empty: e-mails are stored, not sent." }),
  "smtp.port": def(z.number().int().min(1).max(65535), 587, "SMTP port"),
  "smtp.secure": def(z.boolean(), false, "SMTP over TLS"),
  "smtp.user": def(z.string().max(200), "", "SMTP user"),
  "smtp.password": def(z.string().max(200), "", "SMTP password", { secret: true }),
  "smtp.from": def(z.string().max(200), "DevSponsor <devsponsor@localhost>", "From address"),

  "tasks.maxOpenClaims": def(z.number().int().min(1).max(50), 3, "Open claims per contributor"),
  "tasks.claimExpiryDays": def(z.number().int().min(1).max(365), 14, "Days to link work before a claim expires", {
    help: "Claimers are warned two days before.",
  }),
  "sandbox.backend": def(z.enum(["auto", "docker", "bwrap"]), "auto", "Sandbox backend"),
  "sandbox.cpus": def(z.number().min(0.1).max(64), 1, "CPUs per run"),
  "sandbox.memoryMb": def(z.number().int().min(64).max(65536), 1024, "Memory per run (MB)"),
  "sandbox.diskMb": def(z.number().int().min(64).max(1_048_576), 8192, "Work dir disk per run (MB)"),
  "sandbox.timeoutSeconds": def(z.number().int().min(5).max(7200), 600, "Wall-clock limit per step (s)"),
  "security.allowedRepoHosts": def(
    z.array(z.string().trim().min(1).max(200)).max(100),
    [],
    "Repository hosts allowed on private networks",
    {
      help: "Host names (git.lan, *.corp.example), networks (10.1.0.0/16) or server paths (/srv/git) repository URLs may point to (host names and networks also count for outgoing webhooks); anything local or private is refused otherwise.",
    },
  ),
  "security.metricsToken": def(z.string().max(200), "", "Metrics bearer token", {
    secret: true,
    help: "GET /metrics (Prometheus) answers only with Authorization: Bearer <token>; empty: /metrics is off (404).",
  }),
  "webhooks.disableAfterFailures": def(
    z.number().int().min(1).max(1000),
    10,
    "Disable a webhook after failed deliveries",
    {
      help: "Deliveries in a row that failed (each retried for 24 hours, or refused at once with a 4xx); the org's owners are told.",
    },
  ),
  "webhooks.disableAfterHours": def(z.number().int().min(1).max(720), 24, "Disable a webhook after hours of failures", {
    help: "Hours in which every attempt failed; the org's owners are told.",
  }),
  "sandbox.allowedRegistries": def(
    z.array(z.string().max(200)).max(50),
    ["registry.npmjs.org"],
    "Install egress allow-list",
  ),
} satisfies Record<string, SettingDef>;

export type SettingKey = keyof typeof SETTINGS;
export type SettingValue<K extends SettingKey> = z.infer<(typeof SETTINGS)[K]["schema"]>;

const envNames = new Map<string, string>();

/** `ai.baseUrl` → `DEVSPONSOR_AI_BASE_URL` (remembered: every settings read asks). */
export const envName = (key: string) => {
  let name = envNames.get(key);
  if (name === undefined) {
    name = `DEVSPONSOR_${key
      .replace(/\./g, "_")
      .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
      .toUpperCase()}`;
    if (envNames.size < 1000) envNames.set(key, name);
  }
  return name;
};

/** The shape of a setting's value, read from its schema (a union takes its first option's). */
export type SettingKind = "number" | "boolean" | "list" | "text";

/** What kind of value a setting holds, from its schema alone. */
export function settingKind(key: SettingKey): SettingKind {
  const kindOf = (schema: z.ZodType): SettingKind => {
    const def = schema._zod.def as { type: string; options?: z.ZodType[] };
    if (def.type === "number") return "number";
    if (def.type === "boolean") return "boolean";
    if (def.type === "array") return "list";
    if (def.type === "union" && def.options?.length) return kindOf(def.options[0]);
    return "text";
  };
  return kindOf((SETTINGS[key] as SettingDef).schema);
}

/** The allowed values of a setting whose schema is an enum; undefined for any other. */
export function settingOptions(key: SettingKey): readonly string[] | undefined {
  const schema = (SETTINGS[key] as SettingDef).schema;
  return schema instanceof z.ZodEnum ? (schema.options as string[]) : undefined;
}

/**
 * Turns text (an environment variable or a form field) into the setting's type as its schema says: a text
 * setting stays the string it was, whatever it looks like ("12345", "true", "null"). Lists are comma separated
 * or, in the environment, a JSON array.
 */
export function parseSettingText(key: SettingKey, raw: string): unknown {
  switch (settingKind(key)) {
    case "number":
      return raw.trim() === "" ? Number.NaN : Number(raw);
    case "boolean":
      return raw === "true" || raw === "1";
    case "list":
      if (raw.trim().startsWith("[")) {
        try {
          return JSON.parse(raw);
        } catch {
          return raw; // refused by the schema with its own message
        }
      }
      return raw
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean);
    default:
      return raw;
  }
}
