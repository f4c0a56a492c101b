#!/usr/bin/env bun
// The `devsponsor` command: the appliance's one entry point.
import { parseArgs } from "node:util";
import { loadConfig } from "./core/config";
import { VERSION } from "./core/boot";

type Command = (argv: string[]) => Promise<number>;

/** Every subcommand, loaded only when used (keeps `version` and `doctor` fast). */
const COMMANDS: Record<string, { help: string; run: () => Promise<Command> }> = {
  serve: {
    help: "serve [--port N] [--data-dir DIR] [--role web|worker|all]\n                                                  run the appliance; on one PostgreSQL, web nodes serve HTTP and\n                                                  enqueue, worker nodes run jobs and cron (and answer /health), all (default) both",
    run: async () => serve,
  },
  migrate: {
    help: "migrate                              apply database migrations and exit",
    run: async () => migrate,
  },
  doctor: {
    help: "doctor                               check database, Docker, chain, LLM, SMTP, GitHub",
    run: async () => (await import("./doctor/cli")).doctorCommand,
  },
  backup: {
    help: "backup FILE                          archive database, vectors and uploads",
    run: async () => (await import("./backup/cli")).backupCommand,
  },
  restore: {
    help: "restore FILE [--force]               restore an archive into the data dir",
    run: async () => (await import("./backup/cli")).restoreCommand,
  },
  admin: {
    help: "admin create --email E --password-file F   create a platform admin",
    run: async () => (await import("./auth/cli")).adminCommand,
  },
  audit: {
    help: "audit verify [--json]                check the audit trail's hash chain",
    run: async () => (await import("./audit/cli")).auditCommand,
  },
  chain: {
    help: "chain deploy|status                  deploy the escrow, or check the chain and contracts",
    run: async () => (await import("./chain/cli")).chainCommand,
  },
  zk: {
    help: "zk contribute                        add a phase-2 contribution to the proving key",
    run: async () => (await import("./zk/cli")).zkCommand,
  },
  harness: {
    help: "harness run --repo URL|PATH --ref SHA [--json]   run a repository's checks in a sandbox",
    run: async () => (await import("./harness/cli")).harnessCommand,
  },
  version: { help: "version                              print the version", run: async () => version },
};

async function version() {
  console.log(`devsponsor ${VERSION}`);
  return 0;
}

function commonFlags(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: "string" }, "data-dir": { type: "string" }, host: { type: "string" } },
    allowPositionals: true,
    strict: false,
  });
  return loadConfig(process.env, {
    port: values.port ? Number(values.port) : undefined,
    dataDir: values["data-dir"] as string | undefined,
    host: values.host as string | undefined,
  });
}

const ROLES = ["web", "worker", "all"] as const;

async function serve(argv: string[]) {
  const config = commonFlags(argv);
  const { values } = parseArgs({ args: argv, options: { role: { type: "string" } }, strict: false });
  const role = (values.role ?? process.env.DEVSPONSOR_ROLE ?? "all") as (typeof ROLES)[number];
  if (!ROLES.includes(role)) throw new Error(`--role must be one of ${ROLES.join(", ")} (got ${String(role)})`);
  if (role !== "all" && !config.databaseUrl) {
    // the embedded database belongs to one process: a web node alone would queue jobs nobody runs
    throw new Error(`--role ${role} needs DATABASE_URL (one PostgreSQL shared by the nodes); without it use --role all`);
  }
  const { configureLogging } = await import("./core/logger");
  configureLogging({ level: config.logLevel, file: config.logFile });
  const { startServer } = await import("./server");
  const running = await startServer(config, { role });
  let signals = 0;
  const onSignal = (sig: string) => {
    signals++;
    if (signals > 1) process.exit(130); // a second Ctrl-C means now
    running.stop(sig).then(
      () => process.exit(0),
      (err) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", () => onSignal("SIGTERM"));
  process.on("SIGINT", () => onSignal("SIGINT"));
  return await new Promise<number>(() => {}); // runs until a signal
}

async function migrate(argv: string[]) {
  const config = commonFlags(argv);
  const { bootstrap } = await import("./core/boot");
  const ctx = await bootstrap(config);
  await ctx.database.close();
  console.log(`migrations applied (${ctx.database.kind})`);
  return 0;
}

function usage() {
  const lines = Object.values(COMMANDS).map((c) => `  devsponsor ${c.help}`);
  return `DevSponsor ${VERSION}: self-hosted developer funding\n\nUsage:\n${lines.join("\n")}\n\nEnvironment: PORT, DEVSPONSOR_DATA_DIR, DATABASE_URL, DEVSPONSOR_MASTER_KEY, DEVSPONSOR_ROLE (see README).`;
}

/** Runs the CLI and returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [name = "serve", ...rest] = argv;
  if (name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return 0;
  }
  if (name === "--version" || name === "-v") return version();
  const cmd = COMMANDS[name];
  if (!cmd) {
    console.error(`unknown command: ${name}\n\n${usage()}`);
    return 2;
  }
  try {
    return await (await cmd.run())(rest);
  } catch (err) {
    console.error(`devsponsor ${name}: ${(err as Error).message}`);
    if (process.env.LOG_LEVEL === "debug") console.error(err);
    return 1;
  }
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
