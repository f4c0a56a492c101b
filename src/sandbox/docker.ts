// Docker backend: one throw-away container per run, read-only image, no network, all capabilities dropped,
// non-root, cgroup limits on memory, pids and CPU; wall-clock and output limits enforced here.
import { chown } from "node:fs/promises";
import { Writable } from "node:stream";
import type Docker from "dockerode";
import { runProcess } from "../core/process";
import { bridgeCommand, EGRESS_MOUNT } from "./egress";
import { imageRef, toolsFromLabels } from "./images";
import { memoryCgroupOf } from "./memwatch";
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

/** Uid and gid of the `runner` user in our images. */
export const SANDBOX_UID = 1000;

/** Base environment of every run; the spec's env is added on top. */
export const BASE_ENV: Record<string, string> = {
  PATH: "/usr/local/bin:/usr/bin:/bin",
  LANG: "C.UTF-8",
  TZ: "UTC",
  HOME: "/tmp",
};

/** dockerode and ssh2 under it are ~15 MiB resident: loaded when a sandbox is first opened, not at boot. */
function loadDockerode(): typeof Docker {
  return require("dockerode");
}

/** Docker socket path: DOCKER_HOST (unix://…) or the default. */
export function dockerSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  const host = env.DOCKER_HOST;
  return host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}

/** Runs commands in Docker containers through the engine's API. */
export class DockerBackend implements SandboxBackend {
  readonly kind = "docker" as const;
  readonly hostUser = { uid: SANDBOX_UID, gid: SANDBOX_UID };
  readonly docker: Docker;

  constructor(docker?: Docker) {
    this.docker = docker ?? new (loadDockerode())({ socketPath: dockerSocketPath() });
  }

  /** True when the engine answers a ping. */
  async available(): Promise<boolean> {
    try {
      await this.docker.ping();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Removes sandbox containers that stopped long ago: left behind when the appliance died mid-run. Recent ones
   * may still be read by a run, so only those created before `olderThanMs` go.
   */
  async sweep(olderThanMs = 60 * 60_000): Promise<number> {
    const stale = await this.docker.listContainers({
      all: true,
      filters: { label: ["org.devsponsor.sandbox=1"], status: ["exited", "dead", "created"] },
    });
    const cutoff = (Date.now() - olderThanMs) / 1000;
    const old = stale.filter((c) => c.Created < cutoff);
    await Promise.all(
      old.map((c) =>
        this.docker
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => {}),
      ),
    );
    return old.length;
  }

  async image(role: ImageRole): Promise<ImageInfo> {
    const ref = imageRef(role);
    const info = await this.docker.getImage(ref).inspect();
    return { ref, digest: info.Id, tools: toolsFromLabels(info.Config?.Labels) };
  }

  async ownWorkDir(dir: string): Promise<void> {
    await chownTree(dir, this.hostUser.uid, this.hostUser.gid);
  }

  async run(spec: RunSpec): Promise<RunResult> {
    const limits: Limits = { ...DEFAULT_LIMITS, ...spec.limits };
    const started = performance.now();
    let image: ImageInfo = { ref: imageRef(spec.image ?? "harness"), digest: "", tools: {} };
    let container: Docker.Container | undefined;
    let ended: SandboxStatus | undefined;
    let watchdogs: Watchdogs | undefined;
    const kill = (why: SandboxStatus) => {
      ended ??= why;
      container?.kill({ signal: "SIGKILL" }).catch(() => {});
    };
    const out = new OutputCollector(limits.outputBytes, () => kill("OUTPUT_LIMIT"), spec.onOutput);
    const onAbort = () => kill("ERROR");
    try {
      image = spec.pinnedImage ?? (await this.image(spec.image ?? "harness"));
      const binds = [`${spec.workDir}:/work:rw`];
      if (spec.egressSocket) binds.push(`${dirOf(spec.egressSocket)}:${EGRESS_MOUNT}:rw`);
      for (const m of spec.mounts ?? []) binds.push(`${m.host}:${m.sandbox}:${m.readOnly ? "ro" : "rw"}`);
      const env = { ...BASE_ENV, ...spec.env };
      container = await this.docker.createContainer({
        // The id, not the tag: the run uses exactly the image it records.
        Image: image.digest,
        Cmd: spec.egressSocket ? bridgeCommand(spec.cmd) : spec.cmd,
        Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
        User: `${SANDBOX_UID}:${SANDBOX_UID}`,
        WorkingDir: spec.cwd ?? "/work",
        NetworkDisabled: true,
        AttachStdout: true,
        AttachStderr: true,
        Labels: { "org.devsponsor.sandbox": "1" },
        HostConfig: {
          NetworkMode: "none",
          Memory: limits.memoryMb * MiB,
          MemorySwap: limits.memoryMb * MiB,
          PidsLimit: limits.pids,
          NanoCpus: Math.round(limits.cpus * 1e9),
          ReadonlyRootfs: true,
          Tmpfs: { "/tmp": `rw,nosuid,nodev,size=${limits.tmpMb}m` },
          Binds: binds,
          CapDrop: ["ALL"],
          SecurityOpt: ["no-new-privileges"],
          IpcMode: "private",
          Ulimits: [{ Name: "nofile", Soft: 4096, Hard: 4096 }],
          // Output is read from the attached streams; the engine must not also store gigabytes of it.
          LogConfig: { Type: "none", Config: {} },
        },
      });
      const stream = await container.attach({ stream: true, stdout: true, stderr: true });
      const sink = (name: "stdout" | "stderr") =>
        new Writable({
          write(chunk: Buffer, _enc, done) {
            out.push(name, chunk);
            done();
          },
        });
      const streamEnded = new Promise<void>((resolve) => {
        stream.on("end", resolve);
        stream.on("close", resolve);
        stream.on("error", () => resolve());
      });
      this.docker.modem.demuxStream(stream, sink("stdout"), sink("stderr"));
      if (spec.signal?.aborted) throw new Error("cancelled");
      spec.signal?.addEventListener("abort", onAbort, { once: true });
      await container.start();
      watchdogs = new Watchdogs(spec.workDir, limits, kill);
      const pid = (await container.inspect()).State.Pid;
      const cgroup = pid ? memoryCgroupOf(pid) : null;
      if (cgroup) watchdogs.memory(cgroup);
      const waited = (await container.wait()) as { StatusCode: number };
      watchdogs.stop();
      // Let the last frames arrive, but never hang on a stream a killed container left open.
      await Promise.race([streamEnded, Bun.sleep(2000)]);
      const state = (await container.inspect()).State;
      const exitCode = waited.StatusCode;
      let status: SandboxStatus;
      if (ended) status = ended;
      else if (state.OOMKilled) status = "OOM";
      else status = exitCode === 0 ? "OK" : "FAILED";
      const message = ended === "ERROR" ? "cancelled" : limitMessage(status, limits);
      return runResult(out, started, { backend: "docker", image }, { status, exitCode, message });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return runResult(out, started, { backend: "docker", image }, { status: "ERROR", exitCode: null, message });
    } finally {
      watchdogs?.stop();
      spec.signal?.removeEventListener("abort", onAbort);
      await container?.remove({ force: true }).catch(() => {});
    }
  }
}

/** A readable line for a limit status. */
export function limitMessage(status: SandboxStatus, limits: Limits): string | undefined {
  switch (status) {
    case "TIMEOUT":
      return `killed after the ${limits.timeoutMs} ms time limit`;
    case "OOM":
      return `killed at the ${limits.memoryMb} MiB memory limit`;
    case "OUTPUT_LIMIT":
      return `killed after more than ${limits.outputBytes} bytes of output`;
    case "DISK_LIMIT":
      return `killed after the work dir grew past the ${limits.diskMb} MiB disk limit`;
    default:
      return undefined;
  }
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

/** A chown of a huge tree (a work dir full of node_modules) is given up after this. */
const CHOWN_TIMEOUT_MS = 10 * 60_000;

/** chown -R without following symlinks. */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  const r = await runProcess(["chown", "-R", "-h", `${uid}:${gid}`, dir], { timeoutMs: CHOWN_TIMEOUT_MS });
  if (r.code !== 0) {
    // Fall back to the top directory only (e.g. not root: files are already ours).
    await chown(dir, uid, gid).catch(() => {});
  }
}
