// Bubblewrap backend, for hosts without Docker: the harness root filesystem read-only, new namespaces (no
// network but loopback), an unprivileged uid, and limits from cgroups when this process may create them (root),
// from rlimits otherwise. When run as root it drops to an unprivileged host user first, so the sandbox has no
// capabilities on the host and RLIMIT_NPROC applies.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type GroupProcess, runProcess, spawnGroup } from "../core/process";
import { BASE_ENV, chownTree, limitMessage, SANDBOX_UID } from "./docker";
import { EGRESS_MOUNT, bridgeCommand } from "./egress";
import { findRootfs } from "./images";
import { OutputCollector, runResult } from "./output";
import { Watchdogs } from "./watchdogs";
import {
  DEFAULT_LIMITS,
  MiB,
  type ImageInfo,
  type ImageRole,
  type Limits,
  type RunResult,
  type RunSpec,
  type SandboxBackend,
  type SandboxStatus,
} from "./types";

/** Host uid the sandbox runs as when the appliance is root ("nobody"). */
const UNPRIVILEGED_UID = 65534;

/** Path of the bwrap binary, or null when it is not installed. */
export function findBwrap(): string | null {
  return Bun.which("bwrap");
}

/** Runs commands under bubblewrap. */
export class BwrapBackend implements SandboxBackend {
  readonly kind = "bwrap" as const;
  readonly hostUser: { uid: number; gid: number };
  private readonly isRoot = process.getuid?.() === 0;

  constructor(private readonly bwrap = findBwrap() ?? "bwrap") {
    this.hostUser = this.isRoot
      ? { uid: UNPRIVILEGED_UID, gid: UNPRIVILEGED_UID }
      : { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  }

  async image(_role: ImageRole): Promise<ImageInfo> {
    // One root filesystem serves both roles: it holds bun as well as the harness tools.
    const rootfs = findRootfs();
    if (rootfs) return { ref: rootfs.dir, digest: `rootfs:${rootfs.hash}`, tools: rootfs.tools };
    return { ref: "host", digest: "host", tools: await hostTools() };
  }

  async ownWorkDir(dir: string): Promise<void> {
    if (this.isRoot) await chownTree(dir, this.hostUser.uid, this.hostUser.gid);
  }

  /** Which limits this host can enforce: cgroups (memory, pids, CPU) need root and a writable cgroup tree. */
  cgroupSupport(): "v1" | "v2" | null {
    if (!this.isRoot) return null;
    if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return "v2";
    if (existsSync("/sys/fs/cgroup/memory/memory.limit_in_bytes") && existsSync("/sys/fs/cgroup/pids")) return "v1";
    return null;
  }

  async run(spec: RunSpec): Promise<RunResult> {
    const limits: Limits = { ...DEFAULT_LIMITS, ...spec.limits };
    const started = performance.now();
    const image = spec.pinnedImage ?? (await this.image(spec.image ?? "harness"));
    let ended: SandboxStatus | undefined;
    let proc: GroupProcess | undefined;
    const kill = (why: SandboxStatus) => {
      ended ??= why;
      // The whole group: the cgroup wrapper, setpriv and bwrap, whose sandbox dies with it (--die-with-parent).
      proc?.kill();
      if (cgroup) killCgroup(cgroup);
    };
    const out = new OutputCollector(limits.outputBytes, () => kill("OUTPUT_LIMIT"), spec.onOutput);
    const cgroup = createCgroup(this.cgroupSupport(), limits);
    const onAbort = () => kill("ERROR");
    let watchdogs: Watchdogs | undefined;
    try {
      const inner = [
        "prlimit",
        `--nproc=${limits.pids}`,
        `--cpu=${Math.ceil((limits.timeoutMs / 1000) * Math.max(1, limits.cpus)) + 1}`,
        "--nofile=4096",
        "--core=0",
        "--",
        ...(spec.egressSocket ? bridgeCommand(spec.cmd) : spec.cmd),
      ];
      const env = { ...BASE_ENV, ...spec.env };
      const args = [
        this.bwrap,
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        ...rootArgs(image.ref),
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--size",
        String(limits.tmpMb * MiB),
        "--tmpfs",
        "/tmp",
        "--tmpfs",
        "/run",
        "--bind",
        spec.workDir,
        "/work",
        ...(spec.egressSocket ? ["--bind", dirOf(spec.egressSocket), EGRESS_MOUNT] : []),
        ...(spec.mounts ?? []).flatMap((m) => [m.readOnly ? "--ro-bind" : "--bind", m.host, m.sandbox]),
        // The host's / is assembled from binds on a tmpfs: make that tmpfs read-only once all mounts are in.
        ...(image.ref === "host" ? ["--remount-ro", "/"] : []),
        "--chdir",
        spec.cwd ?? "/work",
        "--hostname",
        "sandbox",
        "--uid",
        String(SANDBOX_UID),
        "--gid",
        String(SANDBOX_UID),
        "--clearenv",
        ...Object.entries(env).flatMap(([k, v]) => ["--setenv", k, v]),
        "--",
        ...inner,
      ];
      const dropped = this.isRoot
        ? ["setpriv", `--reuid=${this.hostUser.uid}`, `--regid=${this.hostUser.gid}`, "--clear-groups", ...args]
        : args;
      // The first process joins the cgroups before anything else starts, so every descendant is inside them.
      const cmd = cgroup
        ? [
            "/bin/sh",
            "-c",
            'for d in $(echo "$1" | tr : " "); do echo $$ > "$d/cgroup.procs" || exit 125; done; shift; exec "$@"',
            "sh",
            cgroup.dirs.join(":"),
            ...dropped,
          ]
        : dropped;
      if (spec.signal?.aborted) throw new Error("cancelled");
      spec.signal?.addEventListener("abort", onAbort, { once: true });
      proc = spawnGroup(cmd, {
        env: {},
        onStdout: (chunk) => out.push("stdout", chunk),
        onStderr: (chunk) => out.push("stderr", chunk),
      });
      watchdogs = new Watchdogs(spec.workDir, limits, kill);
      if (cgroup) watchdogs.memory(cgroup.memory);
      const p = await proc.done;
      watchdogs.stop();
      const exitCode = p.code ?? (p.signal ? 137 : null);
      const oom = cgroup ? cgroupOomKilled(cgroup) : false;
      let status: SandboxStatus;
      if (ended) status = ended;
      else if (oom) status = "OOM";
      else if (exitCode === 125 && cgroup && out.text("stderr").includes("cgroup.procs"))
        throw new Error("unable to enter the cgroup");
      else status = exitCode === 0 ? "OK" : "FAILED";
      const message = ended === "ERROR" ? "cancelled" : limitMessage(status, limits);
      return runResult(out, started, { backend: "bwrap", image }, { status, exitCode, message });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return runResult(out, started, { backend: "bwrap", image }, { status: "ERROR", exitCode: null, message });
    } finally {
      watchdogs?.stop();
      spec.signal?.removeEventListener("abort", onAbort);
      if (cgroup) await removeCgroup(cgroup);
    }
  }
}

function rootArgs(rootfs: string): string[] {
  if (rootfs !== "host") return ["--ro-bind", rootfs, "/"];
  // No built root filesystem: the host's /usr, and of /etc only what programs need to start.
  const etc = ["passwd", "group", "nsswitch.conf", "ssl", "ca-certificates", "alternatives", "ld.so.cache", "localtime"]
    .filter((f) => existsSync(`/etc/${f}`))
    .flatMap((f) => ["--ro-bind", `/etc/${f}`, `/etc/${f}`]);
  return [
    "--ro-bind",
    "/usr",
    "/usr",
    ...["bin", "lib", "lib64", "sbin"].flatMap((d) => ["--symlink", `usr/${d}`, `/${d}`]),
    ...etc,
    "--tmpfs",
    "/home",
    "--dir",
    "/work",
  ];
}

let hostToolVersions: Promise<Record<string, string>> | undefined;

/** Versions of the host's tools, for the digest when runs use the host's /usr. */
function hostTools(): Promise<Record<string, string>> {
  const probe = async (cmd: string[], pick = (s: string) => s) => {
    try {
      const r = await runProcess(cmd, { env: { PATH: "/usr/bin:/bin" }, timeoutMs: 10_000 });
      return r.code === 0 ? pick(r.stdout.trim().split("\n")[0] ?? "") : "";
    } catch {
      return "";
    }
  };
  const last = (s: string) => s.split(" ").at(-1) ?? "";
  hostToolVersions ??= (async () => {
    const all: Record<string, string> = {
      bun: await probe(["bun", "--version"]),
      node: await probe(["node", "--version"]),
      git: await probe(["git", "--version"], last),
      python: await probe(["python3", "--version"], last),
    };
    return Object.fromEntries(Object.entries(all).filter(([, v]) => v));
  })();
  return hostToolVersions;
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

interface Cgroup {
  version: "v1" | "v2";
  dirs: string[];
  memory: string;
}

let cgroupSeq = 0;

function createCgroup(version: "v1" | "v2" | null, limits: Limits): Cgroup | null {
  if (!version) return null;
  const name = `devsponsor-sbx/${process.pid}-${++cgroupSeq}-${Date.now()}`;
  const bytes = String(limits.memoryMb * MiB);
  const period = 100_000;
  const quota = String(Math.max(1000, Math.round(limits.cpus * period)));
  try {
    if (version === "v2") {
      const parent = "/sys/fs/cgroup/devsponsor-sbx";
      mkdirSync(parent, { recursive: true });
      writeFileSync("/sys/fs/cgroup/cgroup.subtree_control", "+memory +pids +cpu");
      writeFileSync(join(parent, "cgroup.subtree_control"), "+memory +pids +cpu");
      const dir = `/sys/fs/cgroup/${name}`;
      mkdirSync(dir);
      writeFileSync(join(dir, "memory.max"), bytes);
      writeFileSync(join(dir, "memory.swap.max"), "0");
      writeFileSync(join(dir, "pids.max"), String(limits.pids));
      writeFileSync(join(dir, "cpu.max"), `${quota} ${period}`);
      return { version, dirs: [dir], memory: dir };
    }
    const mem = `/sys/fs/cgroup/memory/${name}`;
    const pids = `/sys/fs/cgroup/pids/${name}`;
    const cpu = `/sys/fs/cgroup/cpu/${name}`;
    for (const d of [mem, pids, cpu]) mkdirSync(d, { recursive: true });
    writeFileSync(join(mem, "memory.limit_in_bytes"), bytes);
    if (existsSync(join(mem, "memory.memsw.limit_in_bytes")))
      writeFileSync(join(mem, "memory.memsw.limit_in_bytes"), bytes);
    writeFileSync(join(pids, "pids.max"), String(limits.pids));
    writeFileSync(join(cpu, "cpu.cfs_period_us"), String(period));
    writeFileSync(join(cpu, "cpu.cfs_quota_us"), quota);
    return { version, dirs: [mem, pids, cpu], memory: mem };
  } catch {
    // Not permitted here (e.g. a read-only cgroup tree in a container): rlimits only.
    return null;
  }
}

function cgroupPids(cg: Cgroup): number[] {
  const pids = new Set<number>();
  for (const d of cg.dirs) {
    try {
      for (const p of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (p) pids.add(Number(p));
    } catch {
      // already gone
    }
  }
  return [...pids];
}

function killCgroup(cg: Cgroup): void {
  for (const pid of cgroupPids(cg)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // exited meanwhile
    }
  }
}

function cgroupOomKilled(cg: Cgroup): boolean {
  try {
    const file = cg.version === "v1" ? "memory.oom_control" : "memory.events";
    const n = /^oom_kill (\d+)$/m.exec(readFileSync(join(cg.memory, file), "utf8"))?.[1];
    return Number(n ?? 0) > 0;
  } catch {
    return false;
  }
}

async function removeCgroup(cg: Cgroup): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    killCgroup(cg);
    let left = 0;
    for (const d of cg.dirs) {
      try {
        rmdirSync(d);
      } catch {
        if (existsSync(d)) left++;
      }
    }
    if (left === 0) return;
    await Bun.sleep(20);
  }
}
