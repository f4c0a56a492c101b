import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";

/** Reads `NAME`, or the contents of the file named by `NAME_FILE` (for secrets mounted as files). */
export function envOrFile(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const direct = env[name];
  if (direct !== undefined && direct !== "") return direct;
  const file = env[`${name}_FILE`];
  if (file) return readFileSync(file, "utf8").trim();
  return undefined;
}

const ConfigSchema = z.object({
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  host: z.string().default("0.0.0.0"),
  dataDir: z.string().default("./devsponsor-data"),
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  masterKey: z.string().optional(),
  publicUrl: z.string().url().optional(),
  trustProxy: z.coerce.boolean().default(false),
  logLevel: z.enum(["debug", "info", "warn", "error"]).default("info"),
  /** Log lines also go to this file (appended). */
  logFile: z.string().optional(),
});

/** Boot configuration from the environment (admin settings stored in the database come on top: core/settings). */
export type Config = z.infer<typeof ConfigSchema> & { dataDir: string };

/** Parses and validates the environment; throws a readable error listing every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const parsed = ConfigSchema.safeParse({
    port: env.PORT || undefined,
    host: env.HOST || undefined,
    dataDir: env.DEVSPONSOR_DATA_DIR || undefined,
    databaseUrl: envOrFile("DATABASE_URL", env),
    masterKey: envOrFile("DEVSPONSOR_MASTER_KEY", env),
    publicUrl: env.DEVSPONSOR_PUBLIC_URL || undefined,
    trustProxy: env.DEVSPONSOR_TRUST_PROXY === "true" || undefined,
    logLevel: env.LOG_LEVEL || undefined,
    logFile: env.DEVSPONSOR_LOG_FILE || undefined,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  });
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`invalid configuration:\n${lines}`);
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}
