// Memory-limit watchdog. Without swap, a process that fills its cgroup's memory limit with anonymous memory is
// not always OOM-killed at once: the kernel keeps evicting and re-reading the executable's pages and the run
// crawls for minutes (seen with node and bun at 128-512 MiB). When anonymous memory stays at the limit we end
// the run ourselves and report OOM, as the kernel would have.
import { readFileSync } from "node:fs";

const POLL_MS = 200;
/** Anonymous memory at or above this share of the limit counts as "at the limit". */
const AT_LIMIT = 0.97;
/** How long it may stay there before the run is ended. */
const GRACE_MS = 1500;

/** The memory cgroup directory of a process (cgroup v1 or v2), or null when it cannot be read. */
export function memoryCgroupOf(pid: number): string | null {
  try {
    const lines = readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n");
    const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
    if (v1) return `/sys/fs/cgroup/memory${v1.slice(v1.lastIndexOf(":") + 1)}`;
    const v2 = lines.find((l) => l.startsWith("0::"));
    if (v2) return `/sys/fs/cgroup${v2.slice(3)}`;
  } catch {
    // not our pid namespace, or the process is gone
  }
  return null;
}

/** Anonymous + shared memory (tmpfs) charged to a memory cgroup, in bytes; null when unreadable. */
export function anonBytes(cgroupDir: string): number | null {
  try {
    const stat = readFileSync(`${cgroupDir}/memory.stat`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(stat)?.[1] ?? Number.NaN);
    const v1 = field("total_rss");
    const value = Number.isNaN(v1) ? field("anon") + field("shmem") : v1 + field("total_shmem");
    return Number.isNaN(value) ? null : value;
  } catch {
    return null;
  }
}

/** Polls a cgroup and calls `onOom` once when its anonymous memory stays at `limitBytes`. Returns a stop function. */
export function watchMemory(cgroupDir: string, limitBytes: number, onOom: () => void): () => void {
  let since: number | undefined;
  const timer = setInterval(() => {
    const used = anonBytes(cgroupDir);
    if (used === null) return;
    if (used < limitBytes * AT_LIMIT) {
      since = undefined;
      return;
    }
    since ??= Date.now();
    if (Date.now() - since >= GRACE_MS) {
      clearInterval(timer);
      onOom();
    }
  }, POLL_MS);
  return () => clearInterval(timer);
}
