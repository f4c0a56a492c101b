// A harness run: fetch the repository at one commit, install its dependencies (network only to the allowed
// registries, or none at all when the dependency cache has the lockfile), run the verification steps without
// network in a fixed environment, parse every test's outcome and build the digest the harness key signs.

import { randomBytes } from "node:crypto";
import {
  appendFileSync,
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import type { Hex } from "viem";
import { AppError } from "../core/errors";
import { isPlainPath, readPlainFile } from "../core/safe-fs";
import { DEFAULT_EGRESS_ALLOW, type EgressProxy, startEgressProxy } from "../sandbox/egress";
import { sandboxDir } from "../sandbox/images";
import { type BackendChoice, openSandbox } from "../sandbox/index";
import type { ImageInfo, Limits, RunResult, SandboxBackend } from "../sandbox/types";
import { type AcceptanceOptions, missingPinned, readBundle, UNPINNED, writePinnedFiles } from "./acceptance";
import { dependencyKey, restoreDeps, saveDeps } from "./cache";
import { detectPlan, type Plan, type PlanOverrides, resultsDir, type StepConfig } from "./detect";
import { buildDigest, type DigestStep, type HarnessDigest, type Leaf, reportHash, type Verdict } from "./digest";
import { type ProtectedChange, protectedChanges, TOP_LEVEL_RUNNER_CONFIG } from "./protect";
import { compareWithBase, fetchRepo, publicRepoUrl } from "./repo";
import { ID_SEPARATOR, looksLikeTap, type ParsedTest, parseResults, uniqueTests } from "./results";
import { evaluateRule, type RuleTest } from "./rule";
import { selectToolchain } from "./toolchain";

/** Options of one harness run. */
export interface HarnessRunOptions extends PlanOverrides {
  repo: string;
  ref: string;
  /** Token for private HTTPS remotes; used by git on the host only. */
  token?: string;
  /** Names the dependency cache (a project id); defaults to the repository URL. */
  project?: string;
  /** 2 runs the steps twice: tests whose outcome changes are reported as flaky and the run is not paid. */
  repeat?: 1 | 2;
  /**
   * A task's pinned acceptance tests: the work's changes to protected paths refuse the run, the pinned files are
   * put over the checkout, and the rule (rule.ts) decides the verdict instead of the steps' exit codes.
   */
  acceptance?: AcceptanceOptions;
  /** The rule's minimum of passing tests for a task without named tests (default 1). */
  minPassing?: number;
  /** The same suite's results at the base commit (see HarnessRunResult.tests): what counts as a regression. */
  baseTests?: readonly RuleTest[] | null;
  /** Hosts the install may reach (through the appliance's proxy); [] installs offline. */
  egressAllow?: string[];
  backend?: BackendChoice | SandboxBackend;
  /** Limits of each verification step (and of the install, with a longer default time). */
  limits?: Partial<Limits>;
  /** Holds runs/ and cache/ (default: DEVSPONSOR_HARNESS_DIR, else the sandbox dir). */
  baseDir?: string;
  keepWorkDir?: boolean;
  onLog?: (line: string) => void;
  onProgress?: (pct: number, message: string) => void;
  signal?: AbortSignal;
}

/** A step as it ran: the digest's fields plus what varies between runs (time, output). */
export interface StepRun extends DigestStep {
  durationMs: number;
  tests: ParsedTest[];
  message?: string;
}

/** Everything a run produced. */
export interface HarnessRunResult {
  id: string;
  digest: HarnessDigest;
  /** keccak256 of the canonical digest: the attestation's `digest`. */
  reportHash: Hex;
  result: Verdict;
  install: { command: string; status: RunResult["status"] | "CACHED"; durationMs: number } | null;
  cache: "hit" | "miss" | "none";
  steps: StepRun[];
  image: ImageInfo;
  /** Egress attempts during the install (allowed or refused). */
  egress: { host: string; port: number; allowed: boolean }[];
  runDir: string;
  logFile: string;
  durationMs: number;
  /** Every test as a rule reads it (step leaves only for steps that did not end OK), flaky ones as not passed. */
  tests: RuleTest[];
  /** The base commit compared with, when the run had a pin. */
  baseCommit: string | null;
  /** Protected paths the work changed: the run was refused and no step ran. */
  protectedChanges: ProtectedChange[];
  /** Why the verdict is not PASSED, in words (the rule's reason, a refusal, a failed install); null when passed. */
  reason: string | null;
  /** The rule holds with flaky tests counted as not passed: what the harness may sign (PASSED, or FLAKY). */
  ruleHolds: boolean;
}

/** Environment every step sees: fixed time zone, locale, timestamps, home in the work dir, no network tools. */
export function stepEnv(sourceDateEpoch: number, offline: boolean): Record<string, string> {
  const env: Record<string, string> = {
    HOME: "/work/home",
    TZ: "UTC",
    LANG: "C.UTF-8",
    LC_ALL: "C.UTF-8",
    SOURCE_DATE_EPOCH: String(sourceDateEpoch),
    CI: "true",
    TMPDIR: "/tmp",
    PYTHONHASHSEED: "0",
    PYTHONDONTWRITEBYTECODE: "1",
    PIP_NO_CACHE_DIR: "1",
    GOFLAGS: "-mod=readonly",
    GOTOOLCHAIN: "local",
    GOCACHE: "/work/home/.cache/go-build",
    GOMODCACHE: "/work/home/go/pkg/mod",
    CARGO_HOME: "/work/home/.cargo",
    npm_config_cache: "/work/home/.npm",
    npm_config_update_notifier: "false",
    npm_config_fund: "false",
    npm_config_audit: "false",
    BUN_INSTALL_CACHE_DIR: "/work/home/.bun/install/cache",
  };
  if (offline)
    Object.assign(env, { GOPROXY: "off", CARGO_NET_OFFLINE: "true", npm_config_offline: "true", PIP_NO_INDEX: "1" });
  return env;
}

const INSTALL_TIMEOUT_MS = 15 * 60_000;

/** Runs the harness once. Throws AppError for problems outside the repository's code (fetch, sandbox, config). */
export async function runHarness(opts: HarnessRunOptions): Promise<HarnessRunResult> {
  const started = performance.now();
  const base = opts.baseDir ?? (process.env.DEVSPONSOR_HARNESS_DIR || sandboxDir());
  const cacheDir = join(base, "cache");
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(base, "runs"), { recursive: true });
  chmodSync(join(base, "runs"), 0o711);
  pruneRuns(join(base, "runs"));
  const runDir = mkdtempSync(join(base, "runs", `${new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14)}-`));
  // The sandbox user (another uid under bubblewrap) must reach work/, nothing else here.
  chmodSync(runDir, 0o711);
  const id = runDir.slice(runDir.lastIndexOf("/") + 1);
  const work = join(runDir, "work");
  const src = join(work, "src");
  const logFile = join(runDir, "run.log");
  const log = (line: string) => {
    const stamped = `[${((performance.now() - started) / 1000).toFixed(2)}s] ${line}`;
    appendFileSync(logFile, `${stamped}\n`);
    opts.onLog?.(stamped);
  };
  const progress = (pct: number, msg: string) => {
    log(msg);
    opts.onProgress?.(Math.round(pct), msg);
  };
  const cancelled = () => {
    if (opts.signal?.aborted) throw new AppError("CANCELLED", "The run was cancelled.", 409);
  };

  let proxy: EgressProxy | undefined;
  try {
    progress(0, `fetching ${publicRepoUrl(opts.repo)} at ${opts.ref}`);
    const commit = await fetchRepo({
      repo: opts.repo,
      ref: opts.ref,
      dest: src,
      cacheDir,
      token: opts.token,
      onLog: log,
      signal: opts.signal,
    });
    log(`commit ${commit.commit} tree ${commit.tree}`);
    cancelled();

    // 0. Acceptance: what the work changed against the base, and the pinned test files.
    const acc = opts.acceptance;
    let baseCommit: string | null = null;
    let refused: ProtectedChange[] = [];
    let pinned = new Map<string, Buffer>();
    let runnerConfig: Map<string, Buffer> | null = null;
    if (acc) {
      const pinBase = acc.pin?.kind === "commit" ? acc.pin.commit : acc.pin?.baseCommit;
      const cmp = pinBase
        ? await compareWithBase({
            repo: opts.repo,
            cacheDir,
            base: pinBase,
            head: commit.commit,
            token: opts.token,
            onLog: log,
            signal: opts.signal,
          })
        : null;
      baseCommit = cmp?.base ?? null;
      if (cmp) {
        log(`base ${cmp.base}: ${cmp.changes.length} path(s) changed`);
        refused = await protectedChanges(cmp.changes, cmp.read);
        for (const r of refused) log(`protected path changed: ${r.path} (${r.why})`);
        runnerConfig = new Map();
        for (const [path, f] of await cmp.filesAt("head", TOP_LEVEL_RUNNER_CONFIG))
          if (f.mode === "100644" || f.mode === "100755") runnerConfig.set(path, f.data);
      }
      if (acc.pin?.kind === "bundle") {
        pinned = await readBundle(acc.pin.tar);
      } else if (cmp) {
        for (const [path, f] of await cmp.filesAt("base", acc.testFiles)) {
          // A pinned symlink could point anywhere once written: pinned tests are plain files only.
          if (f.mode === "100644" || f.mode === "100755") pinned.set(path, f.data);
          else log(`pinned path ${path} is not a plain file at the base commit; left out`);
        }
      }
      log(`${pinned.size} pinned test file(s), ${acc.named.length} named acceptance test(s)`);
      // A named test file the pin does not hold would be the contributor's own file: the work could write the
      // very tests it is judged by. Such a run is refused until the sponsor commits the file or bundles it.
      if (acc.pin)
        for (const path of missingPinned(acc.testFiles, pinned)) {
          log(`pinned test file missing: ${path}`);
          refused.push({ path, why: UNPINNED });
        }
    }

    const backend =
      typeof opts.backend === "object"
        ? opts.backend
        : await openSandbox(opts.backend ?? "auto").catch((err) => {
            throw new AppError("SANDBOX_UNAVAILABLE", (err as Error).message, 503);
          });
    const image = await backend.image("harness").catch((err) => {
      throw new AppError(
        "SANDBOX_UNAVAILABLE",
        `sandbox image missing (scripts/build-sandbox-images): ${(err as Error).message}`,
        503,
      );
    });
    log(`sandbox ${backend.kind}, image ${image.digest}`);
    // Refused before anything of the work is read or run (its manifest may not even make a plan).
    if (refused.length) {
      const reason = refusalReason(refused);
      const digest = buildDigest({
        repository: { url: publicRepoUrl(opts.repo), ...commit },
        environment: environmentOf(backend, image, commit.committer.time),
        dependencies: null,
        steps: [],
        tests: [],
        acceptance: {
          baseCommit,
          named: (acc?.named ?? []).map((n) => ({ id: n, status: "missing" as const })),
          minPassing: opts.minPassing ?? 1,
          newFailures: [],
          protectedChanges: refused,
        },
        flaky: [],
        result: "FAILED",
      });
      const hash = reportHash(digest);
      writeFileSync(join(runDir, "digest.json"), `${JSON.stringify(digest, null, 2)}\n`);
      progress(100, `FAILED: refused, ${reason}`);
      return {
        id,
        digest,
        reportHash: hash,
        result: "FAILED",
        install: null,
        cache: "none",
        steps: [],
        image,
        egress: [],
        runDir,
        logFile,
        durationMs: performance.now() - started,
        tests: [],
        baseCommit,
        protectedChanges: refused,
        reason,
        ruleHolds: false,
      };
    }
    const plan: Plan = detectPlan(src, opts);
    log(`${plan.ecosystem} project, ${plan.steps.length} step(s)`);
    // The toolchain versions the repository asks for go first on PATH (TOOLCHAIN_UNAVAILABLE when the image lacks
    // one); the digest's environment records the versions chosen.
    const toolchain = selectToolchain(src, plan, image.tools);
    for (const note of toolchain.notes) log(`toolchain: ${note}`);
    image.tools = toolchain.tools;
    mkdirSync(join(work, "home"), { recursive: true });
    const env = (offline: boolean) => ({ ...stepEnv(commit.committer.time, offline), ...toolchain.env });
    const onOutput = (_s: "stdout" | "stderr", text: string) => {
      for (const line of text.split("\n")) if (line) opts.onLog?.(line);
      appendFileSync(logFile, text);
    };

    // 1. Dependencies.
    let install: HarnessRunResult["install"] = null;
    let cache: HarnessRunResult["cache"] = "none";
    let lockHash: string | null = null;
    let installFailed: StepRun | null = null;
    if (plan.install) {
      const key = dependencyKey(src, plan.install.inputs, plan.install.run, image.digest);
      lockHash = key.hash;
      const project = opts.project ?? publicRepoUrl(opts.repo);
      progress(10, `dependencies: ${plan.install.run} (lockfile ${lockHash.slice(0, 12)})`);
      if (!key.cacheable) log("dependency cache not used: an install input is a link or not a plain file");
      if (key.cacheable && (await restoreDeps(cacheDir, project, lockHash, work))) {
        cache = "hit";
        install = { command: plan.install.run, status: "CACHED", durationMs: 0 };
        log("dependencies restored from the cache");
        await backend.ownWorkDir(work);
      } else {
        cache = key.cacheable ? "miss" : "none";
        await backend.ownWorkDir(work);
        const before = new Set(readdirSync(src));
        const allow = opts.egressAllow ?? DEFAULT_EGRESS_ALLOW;
        if (allow.length) proxy = await startEgressProxy(allow, runDir);
        const r = await backend.run({
          cmd: ["sh", "-c", plan.install.run],
          workDir: work,
          cwd: "/work/src",
          env: env(allow.length === 0),
          egressSocket: proxy?.socketPath,
          pinnedImage: image,
          limits: {
            ...opts.limits,
            timeoutMs: opts.limits?.timeoutMs
              ? Math.max(opts.limits.timeoutMs, INSTALL_TIMEOUT_MS)
              : INSTALL_TIMEOUT_MS,
          },
          onOutput,
          signal: opts.signal,
        });
        for (const e of proxy?.events ?? []) if (!e.allowed) log(`egress refused: ${e.host}:${e.port}`);
        install = { command: plan.install.run, status: r.status, durationMs: r.durationMs };
        log(`install ${r.status}${r.message ? ` (${r.message})` : ""} in ${(r.durationMs / 1000).toFixed(1)}s`);
        if (r.status === "OK" && !(isPlainPath(work, src, "dir") && isPlainPath(work, join(work, "home"), "dir"))) {
          // The install swapped the checkout or home for a symlink (to the host's / perhaps): nothing is read.
          installFailed = failedInstall(plan.install.run, r, "the install replaced the work dir's src or home");
        } else if (r.status === "OK") {
          // Archived now, before any test code runs, so a test cannot poison the cache.
          const added = readdirSync(src)
            .filter((f) => !before.has(f))
            .map((f) => `src/${f}`);
          if (key.cacheable) await saveDeps(cacheDir, project, lockHash, work, [...added, "home"]);
        } else if (r.status === "ERROR") {
          throw new AppError("SANDBOX_ERROR", `install could not run: ${r.message}`, 500);
        } else {
          installFailed = failedInstall(plan.install.run, r, r.message);
        }
      }
    } else {
      await backend.ownWorkDir(work);
    }
    cancelled();

    // 2. Verification steps, without network; twice when asked.
    const rounds = installFailed ? 0 : (opts.repeat ?? 1);
    const runs: StepRun[][] = [];
    for (let round = 0; round < rounds; round++) {
      if (runnerConfig) {
        // The runner config as committed (and checked against the base), whatever the install or a run did to it.
        for (const name of TOP_LEVEL_RUNNER_CONFIG)
          if (!runnerConfig.has(name)) rmSync(join(src, name), { recursive: true, force: true });
        for (const path of writePinnedFiles(src, runnerConfig)) await backend.ownWorkDir(path);
      }
      if (pinned.size) {
        // After the install and before each round: whatever ran before may have edited or replaced them.
        for (const path of writePinnedFiles(src, pinned)) await backend.ownWorkDir(path);
        log(`pinned test files written over the checkout${rounds > 1 ? ` (run ${round + 1})` : ""}`);
      }
      const results: StepRun[] = [];
      for (const [i, step] of plan.steps.entries()) {
        cancelled();
        const share = 55 / (rounds * plan.steps.length);
        progress(
          40 + share * (round * plan.steps.length + i),
          `${step.kind} ${step.name}: ${step.run}${rounds > 1 ? ` (run ${round + 1} of ${rounds})` : ""}`,
        );
        const outDir = resultsDirFor(work);
        await backend.ownWorkDir(outDir.host);
        const stepRun = await runStep(backend, image, step, work, outDir, env(true), opts, onOutput);
        log(
          `${step.name}: ${stepRun.status} exit ${stepRun.exitCode} — ${stepRun.passed} passed, ${stepRun.failed} failed, ${stepRun.skipped} skipped`,
        );
        results.push(stepRun);
      }
      runs.push(results);
    }

    // 3. Digest.
    progress(95, "building the digest");
    const steps = installFailed ? [installFailed] : runs[0]!;
    const flaky = runs.length > 1 ? flakyIds(runs[0]!, runs[1]!) : [];
    const leaves = leavesOf(steps);
    const rule = evaluateRule({
      tests: leaves,
      named: acc?.named ?? [],
      minPassing: opts.minPassing ?? 1,
      baseTests: acc ? (opts.baseTests ?? null) : null,
      flaky,
    });
    const result: Verdict = flaky.length ? "FLAKY" : rule.holds ? "PASSED" : "FAILED";
    const reason =
      result === "PASSED"
        ? null
        : result === "FLAKY"
          ? `Tests changed verdict between two runs: ${flaky.slice(0, 10).join(", ")}${flaky.length > 10 ? ", …" : ""}`
          : installFailed
            ? `The install failed: ${installFailed.message ?? installFailed.status}`
            : [
                rule.reason,
                // What the sandbox said of steps that did not end OK (a timeout, a memory limit, stdout not read).
                ...steps
                  .filter((s) => (s.status !== "OK" || s.tests.length === 0) && s.message)
                  .map((s) => `${s.name}: ${s.status} (${s.message})`),
              ]
                .filter(Boolean)
                .join(". ");
    const digest = buildDigest({
      repository: { url: publicRepoUrl(opts.repo), ...commit },
      environment: environmentOf(backend, image, commit.committer.time),
      dependencies: plan.install && lockHash ? { command: plan.install.run, lockfileHash: lockHash } : null,
      steps: steps.map(({ durationMs: _d, tests: _t, message: _m, ...s }) => s),
      tests: leaves,
      acceptance: acc
        ? {
            baseCommit,
            named: rule.named,
            minPassing: opts.minPassing ?? 1,
            newFailures: rule.newFailures,
            protectedChanges: [],
          }
        : null,
      flaky,
      result,
      minPassing: opts.minPassing,
    });
    const hash = reportHash(digest);
    writeFileSync(join(runDir, "digest.json"), `${JSON.stringify(digest, null, 2)}\n`);
    progress(
      100,
      `${result}: ${leaves.filter((l) => l.passed).length}/${leaves.length} leaves passed, root ${digest.merkle.root.slice(0, 16)}…, report ${hash}`,
    );
    return {
      id,
      digest,
      reportHash: hash,
      result,
      install,
      cache,
      steps,
      image,
      egress: proxy?.events ?? [],
      runDir,
      logFile,
      durationMs: performance.now() - started,
      tests: leaves.map((l) => ({ id: l.id, passed: l.passed && !flaky.includes(l.id) })),
      baseCommit,
      protectedChanges: [],
      reason,
      ruleHolds: rule.holds && !installFailed,
    };
  } catch (err) {
    log(`error: ${(err as Error).message}`);
    throw err;
  } finally {
    await proxy?.close();
    if (!opts.keepWorkDir) rmSync(work, { recursive: true, force: true });
  }
}

/** The refusal of a run, each path with its reason. */
function refusalReason(refused: readonly ProtectedChange[]): string {
  const missing = refused.filter((r) => r.why === UNPINNED).map((r) => r.path);
  const changed = refused.filter((r) => r.why !== UNPINNED).map((r) => `${r.path} (${r.why})`);
  return [
    changed.length
      ? `The work changes protected paths (test-runner, CI or test-library config): ${changed.join("; ")}`
      : "",
    missing.length
      ? `The acceptance test files ${missing.join(", ")} are not in the pinned commit or bundle: the sponsor commits them to the repository (then re-pins the task) or uploads them as a hidden bundle`
      : "",
  ]
    .filter(Boolean)
    .join(". ");
}

function environmentOf(backend: SandboxBackend, image: ImageInfo, sourceDateEpoch: number) {
  return {
    backend: backend.kind,
    imageDigest: image.digest,
    tools: image.tools,
    tz: "UTC",
    lang: "C.UTF-8",
    sourceDateEpoch,
  };
}

/** Where one step's runner writes its report: on the host, and inside the sandbox. */
interface ResultsDir {
  host: string;
  sandbox: string;
}

/**
 * A fresh results directory for one step, outside the checkout and named by a per-step secret:
 * /work/out/<32 hex>/. out/ itself is made by the host (root under Docker) with mode 0711, so the sandbox user can
 * reach the secret directory only by its name and cannot list out/ to find it. The harness reads reports only
 * from there: a junit.xml committed to the repository, or written by a test at a path it can guess, is never read.
 * What this does not stop: code running inside the test process (or a child of it) can read the runner's own
 * command line or environment, where the secret is, and write or rewrite the report before the runner does.
 */
function resultsDirFor(work: string): ResultsDir {
  const out = join(work, "out");
  // Whatever an install or an earlier step left at out/ (a symlink into the host, a directory of its files) goes.
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { mode: 0o711 });
  chmodSync(out, 0o711);
  const secret = randomBytes(16).toString("hex");
  const host = join(out, secret);
  mkdirSync(host, { mode: 0o700 });
  return { host, sandbox: `/work/out/${secret}` };
}

async function runStep(
  backend: SandboxBackend,
  image: ImageInfo,
  step: StepConfig,
  work: string,
  results: ResultsDir,
  env: Record<string, string>,
  opts: HarnessRunOptions,
  onOutput: (s: "stdout" | "stderr", text: string) => void,
): Promise<StepRun> {
  // Detected commands name the step's public results dir (detect.resultsDir): it becomes the secret one.
  const run = step.run.split(resultsDir(step.name)).join(results.sandbox);
  const r = await backend.run({
    cmd: ["sh", "-c", run],
    workDir: work,
    cwd: "/work/src",
    pinnedImage: image,
    env: { ...env, DEVSPONSOR_RESULTS_DIR: results.sandbox },
    limits: { ...opts.limits, ...step.limits },
    onOutput,
    signal: opts.signal,
  });
  if (r.status === "ERROR") throw new AppError("SANDBOX_ERROR", `step ${step.name} could not run: ${r.message}`, 500);
  const stdoutRefused = !!opts.acceptance && readsStdoutTap(step, r, work, results.host);
  const { tests, duplicates } = uniqueTests(step.name, stdoutRefused ? [] : readTests(step, r, work, results.host));
  const count = (s: ParsedTest["status"]) => tests.filter((t) => t.status === s).length;
  return {
    name: step.name,
    kind: step.kind,
    command: step.run,
    results: step.results,
    status: r.status,
    exitCode: r.exitCode,
    passed: count("passed"),
    failed: count("failed"),
    skipped: count("skipped"),
    durationMs: r.durationMs,
    tests,
    message: stdoutRefused
      ? "TAP on stdout is not read for a task's acceptance tests (the code under test can print it); configure a command that writes JUnit XML to $DEVSPONSOR_RESULTS_DIR"
      : [r.message, duplicatesNote(duplicates)].filter(Boolean).join("; ") || undefined,
  };
}

/** What a step's report says of ids its runner reported more than once (see uniqueTests). */
function duplicatesNote(ids: readonly string[]): string | null {
  if (ids.length === 0) return null;
  const shown = ids.slice(0, 3).map((id) => JSON.stringify(id));
  const more = ids.length > 3 ? ` and ${ids.length - 3} more` : "";
  return `${ids.length === 1 ? "a test id was" : `${ids.length} test ids were`} reported more than once (${shown.join(", ")}${more}): each counts as one test, passed only if no report of it failed`;
}

/** True when a step's only results are TAP lines on stdout, a channel any test can print to. */
function readsStdoutTap(step: StepConfig, r: RunResult, work: string, outDir: string): boolean {
  if (step.results === "tap") return !step.resultFile;
  if (step.results !== "auto" || !looksLikeTap(r.stdout)) return false;
  return !(isPlainPath(work, outDir, "dir") && readdirSync(outDir).some((f) => f.endsWith(".xml")));
}

function failedInstall(command: string, r: RunResult, message?: string): StepRun {
  return {
    name: "install",
    kind: "test",
    command,
    results: "exit",
    status: r.status === "OK" ? "FAILED" : r.status,
    exitCode: r.exitCode,
    passed: 0,
    failed: 1,
    skipped: 0,
    durationMs: r.durationMs,
    tests: [],
    message,
  };
}

function readTests(step: StepConfig, r: RunResult, work: string, outDir: string): ParsedTest[] {
  // The sandbox wrote these files: read them only as plain files inside the work dir.
  const report = (f: string) => readPlainFile(work, join(outDir, f))?.toString("utf8") ?? "";
  const junitFiles = () =>
    isPlainPath(work, outDir, "dir")
      ? readdirSync(outDir)
          .filter((f) => f.endsWith(".xml"))
          .sort()
      : [];
  switch (step.results) {
    case "exit":
      return [];
    case "junit": {
      const files = step.resultFile ? [step.resultFile] : junitFiles();
      return files.flatMap((f) => parseResults("junit", report(f)));
    }
    case "auto": {
      const files = junitFiles();
      if (files.length) return files.flatMap((f) => parseResults("junit", report(f)));
      return looksLikeTap(r.stdout) ? parseResults("tap", r.stdout) : [];
    }
    case "tap":
      return parseResults("tap", step.resultFile ? report(step.resultFile) : r.stdout);
    default:
      return parseResults(step.results, step.results === "cargo" ? `${r.stdout}\n${r.stderr}` : r.stdout);
  }
}

/**
 * Leaves of a run: one per test that passed or failed, and a failed leaf under the step's name for a step that
 * did not end OK. A step's exit code never gives a passed leaf: a step that crashed before reporting any test
 * contributes no passed test.
 */
export function leavesOf(steps: readonly StepRun[]): Leaf[] {
  return steps.flatMap((s) => [
    ...(s.status === "OK" ? [] : [{ id: s.name, passed: false }]),
    ...s.tests
      .filter((t) => t.status !== "skipped")
      .map((t) => ({ id: `${s.name}${ID_SEPARATOR}${t.id}`, passed: t.status === "passed" })),
  ]);
}

/** Ids (leaf ids) whose outcome differs between two runs of the same steps. */
export function flakyIds(a: readonly StepRun[], b: readonly StepRun[]): string[] {
  // Ids are unique within a step (uniqueTests) and steps prefix them.
  const outcome = (steps: readonly StepRun[]) => new Map(leavesOf(steps).map((l) => [l.id, l.passed]));
  const first = outcome(a);
  const second = outcome(b);
  const ids = new Set([...first.keys(), ...second.keys()]);
  return [...ids].filter((id) => first.get(id) !== second.get(id)).sort();
}

/** How long run logs and digests are kept on disk (the job's events keep their own copy). */
const RUN_RETENTION_MS = 14 * 24 * 3600_000;

/** Removes run directories older than the retention (and work dirs a crash left behind). */
export function pruneRuns(runsDir: string, maxAgeMs = RUN_RETENTION_MS): void {
  const cutoff = Date.now() - maxAgeMs;
  for (const name of existsSync(runsDir) ? readdirSync(runsDir) : []) {
    const dir = join(runsDir, name);
    try {
      if (statSync(dir).mtimeMs < cutoff) rmSync(dir, { recursive: true, force: true });
    } catch {
      // removed meanwhile
    }
  }
}
