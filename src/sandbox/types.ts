/** How a sandbox run ended. OK and FAILED are normal exits (zero / non-zero); the others are limits or errors. */
export type SandboxStatus = "OK" | "FAILED" | "TIMEOUT" | "OOM" | "OUTPUT_LIMIT" | "DISK_LIMIT" | "ERROR";

/** Which isolation technology ran a command. */
export type BackendKind = "docker" | "bwrap";

/** Resource limits of one run; every run has all of them. */
export interface Limits {
  /** CPU cores the run may use (fractions allowed with Docker). */
  cpus: number;
  /** Memory in MiB, swap included; exceeding it ends the run with OOM. */
  memoryMb: number;
  /** Processes and threads. */
  pids: number;
  /** Wall-clock time; exceeding it ends the run with TIMEOUT. */
  timeoutMs: number;
  /** stdout + stderr bytes; exceeding it ends the run with OUTPUT_LIMIT. */
  outputBytes: number;
  /** Size of the in-memory /tmp in MiB. */
  tmpMb: number;
  /** Disk the work dir may use in MiB (checked once a second); exceeding it ends the run with DISK_LIMIT. */
  diskMb: number;
}

/** Bytes in a MiB. Multiply, never shift: `2048 << 20` overflows JavaScript's 32-bit shift to a negative number. */
export const MiB = 1024 * 1024;

/** Defaults for one verification step. */
export const DEFAULT_LIMITS: Limits = {
  cpus: 1,
  memoryMb: 1024,
  pids: 256,
  timeoutMs: 10 * 60_000,
  outputBytes: 8 << 20,
  tmpMb: 256,
  diskMb: 8192,
};

/** Which image a run uses: a role resolved to the built image, or an explicit Docker image reference. */
export type ImageRole = "harness" | "prover";

/** A host path shown inside the sandbox. */
export interface Mount {
  host: string;
  sandbox: string;
  readOnly: boolean;
}

/** One command to run in a sandbox. */
export interface RunSpec {
  cmd: string[];
  /** Host directory shown read-write at /work: the only writable place besides /tmp. */
  workDir: string;
  /** Working directory inside the sandbox (default /work). */
  cwd?: string;
  /** The whole environment of the command: nothing from the host leaks in. */
  env?: Record<string, string>;
  image?: ImageRole;
  /** The exact image to use (from `image()` at the start of a multi-step run), so a moved tag cannot change it. */
  pinnedImage?: ImageInfo;
  limits?: Partial<Limits>;
  /** Host path of the egress proxy socket: the run may then reach the allowed hosts through it, and nothing else. */
  egressSocket?: string;
  mounts?: Mount[];
  /** Called with output as it arrives (already limited to Limits.outputBytes). */
  onOutput?: (stream: "stdout" | "stderr", text: string) => void;
  signal?: AbortSignal;
}

/** The image (or root filesystem) a run used, recorded with every run. */
export interface ImageInfo {
  ref: string;
  /** Docker image id (sha256:…) or, for bubblewrap, the content hash the root filesystem was built from. */
  digest: string;
  /** Tool versions recorded when the image was built. */
  tools: Record<string, string>;
}

/** What happened to one run. */
export interface RunResult {
  status: SandboxStatus;
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** All output bytes seen, including any beyond the limit. */
  outputBytes: number;
  durationMs: number;
  backend: BackendKind;
  image: ImageInfo;
  /** Why the run ended with ERROR, or which limit was hit. */
  message?: string;
}

/** An isolation technology able to run commands under limits. */
export interface SandboxBackend {
  readonly kind: BackendKind;
  run(spec: RunSpec): Promise<RunResult>;
  /** The image or root filesystem a role maps to (pinned per run). */
  image(role: ImageRole): Promise<ImageInfo>;
  /** Gives the sandbox user ownership of a host directory it must write to. */
  ownWorkDir(dir: string): Promise<void>;
  /** Host uid:gid the sandbox user writes files as. */
  readonly hostUser: { uid: number; gid: number };
}
