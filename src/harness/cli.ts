// `devsponsor harness run --repo URL|PATH --ref SHA|BRANCH [--test-command CMD] [--json]`
// Exit codes: 0 every check passed, 1 a check failed (or was flaky), 2 the run could not be done.
import { parseArgs } from "node:util";
import { AppError } from "../core/errors";
import type { BackendChoice } from "../sandbox/index";
import type { StepConfig, StepKind } from "./detect";
import { runHarness } from "./run";

const USAGE = `Usage: devsponsor harness run --repo URL|PATH --ref SHA|BRANCH [options]

Runs a repository's checks at one commit in a sandbox and prints the signed-report digest.

Options:
  --test-command CMD      test command (default: detected: bun, npm, pytest, go test, cargo test)
  --install-command CMD   dependency install command (default: detected from the lockfile)
  --step KIND:NAME=CMD    an extra check; KIND is lint, analysis or acceptance (repeatable)
  --repeat 2              run the checks twice; differing results are reported as flaky
  --allow-egress HOSTS    comma-separated registries the install may reach ("" = offline)
  --backend docker|bwrap  sandbox backend (default: Docker when reachable, else bubblewrap)
  --timeout SECONDS       time limit of each step
  --json                  print the digest and report hash as JSON
  --verbose               stream the run's log to stderr

Environment: GITHUB_TOKEN (used by git on this host only), DEVSPONSOR_HARNESS_DIR (runs and caches).
Exit status: 0 all checks passed, 1 a check failed, 2 error.`;

/** Entry of the `harness` subcommand. */
export async function harnessCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "run") {
    console.error(USAGE);
    return sub === "--help" || sub === "-h" ? 0 : 2;
  }
  let values: Record<string, string | boolean | string[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: rest,
      options: {
        repo: { type: "string" },
        ref: { type: "string" },
        "test-command": { type: "string" },
        "install-command": { type: "string" },
        step: { type: "string", multiple: true },
        repeat: { type: "string" },
        "allow-egress": { type: "string" },
        backend: { type: "string" },
        timeout: { type: "string" },
        json: { type: "boolean" },
        verbose: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.repo || !values.ref) {
    console.error(`--repo and --ref are required\n\n${USAGE}`);
    return 2;
  }
  const steps: StepConfig[] = [];
  for (const spec of (values.step as string[] | undefined) ?? []) {
    const m = /^(lint|analysis|acceptance|test):([\w.-]+)=(.+)$/s.exec(spec);
    if (!m) {
      console.error(`--step must look like lint:eslint=CMD (got ${spec})`);
      return 2;
    }
    steps.push({ kind: m[1] as StepKind, name: m[2]!, run: m[3]!, results: "auto" });
  }
  const backend = (values.backend as string | undefined) ?? "auto";
  if (!["auto", "docker", "bwrap"].includes(backend)) {
    console.error("--backend must be docker or bwrap");
    return 2;
  }
  const timeout = values.timeout ? Number(values.timeout) : undefined;
  if (timeout !== undefined && !(timeout > 0)) {
    console.error("--timeout must be a number of seconds");
    return 2;
  }
  const egress = values["allow-egress"] as string | undefined;

  try {
    const run = await runHarness({
      repo: values.repo as string,
      ref: values.ref as string,
      token: process.env.GITHUB_TOKEN || undefined,
      testCommand: values["test-command"] as string | undefined,
      installCommand: values["install-command"] as string | undefined,
      steps,
      repeat: values.repeat === "2" ? 2 : 1,
      egressAllow:
        egress === undefined
          ? undefined
          : egress
              .split(",")
              .map((h) => h.trim())
              .filter(Boolean),
      backend: backend as BackendChoice,
      limits: timeout ? { timeoutMs: timeout * 1000 } : undefined,
      onLog: values.verbose ? (line) => process.stderr.write(`${line}\n`) : undefined,
    });
    if (values.json) {
      console.log(JSON.stringify({ reportHash: run.reportHash, digest: run.digest }, null, 2));
    } else {
      const d = run.digest;
      console.log(`${run.result}  ${d.repository.url} @ ${d.repository.commit}`);
      for (const s of run.steps) {
        console.log(
          `  ${s.status.padEnd(12)} ${s.name} (${s.kind}): ${s.passed} passed, ${s.failed} failed, ${s.skipped} skipped  [${(s.durationMs / 1000).toFixed(1)}s]`,
        );
      }
      for (const t of d.tests.filter((l) => !l.passed)) console.log(`  failed: ${t.id}`);
      for (const id of d.flaky) console.log(`  flaky:  ${id}`);
      console.log(`  tree ${d.repository.tree}  image ${d.environment.imageDigest}`);
      console.log(
        `  report root ${d.merkle.root} (${d.merkle.testCount} tests, ${d.merkle.passedCount} passed, all-tests root ${d.merkle.allRoot})`,
      );
      console.log(`  report hash ${run.reportHash}`);
      console.log(`  log ${run.logFile}`);
    }
    return run.result === "PASSED" ? 0 : 1;
  } catch (err) {
    const message = err instanceof AppError ? `${err.code}: ${err.message}` : (err as Error).message;
    if (values.json) console.log(JSON.stringify({ error: { message } }));
    console.error(`harness: ${message}`);
    return 2;
  }
}
