// A run's limits that the kernel does not enforce by itself, watched while it runs: its time, its work dir's size
// (./diskwatch.ts) and, once its memory cgroup is known, its memory (./memwatch.ts). Each calls `kill` with the
// status the run ends with.
import { watchDisk } from "./diskwatch";
import { watchMemory } from "./memwatch";
import { type Limits, MiB, type SandboxStatus } from "./types";

/** The watchdogs of one run; `stop` ends them all (safe to call more than once). */
export class Watchdogs {
  private readonly stops: (() => void)[] = [];

  constructor(
    workDir: string,
    private readonly limits: Limits,
    private readonly kill: (why: SandboxStatus) => void,
  ) {
    const timer = setTimeout(() => kill("TIMEOUT"), limits.timeoutMs);
    this.stops.push(
      () => clearTimeout(timer),
      watchDisk(workDir, limits.diskMb * MiB, () => kill("DISK_LIMIT")),
    );
  }

  /** Also watches the run's memory cgroup, ending the run with OOM when it stays at the limit. */
  memory(cgroupDir: string): void {
    this.stops.push(watchMemory(cgroupDir, this.limits.memoryMb * MiB, () => this.kill("OOM")));
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }
}
