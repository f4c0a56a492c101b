// Work-dir size watchdog. The work dir is a host directory shared with the sandbox (the checkout goes in, reports
// come out), so without a cap a run could fill the host's disk. Its disk usage is measured with `du` once a second
// (one pass over a 50k-file node_modules takes ~0.1 s); past the limit the run is ended with DISK_LIMIT. A run that
// writes very fast can overshoot by what it writes in that second.

import { runProcess } from "../core/process";

const POLL_MS = 1000;

/** A `du` that takes longer (a tree of millions of files) gives no answer this time. */
const DU_TIMEOUT_MS = 30_000;

/** Disk usage of a directory tree in bytes (`du -s -B1 -x`), or null when it cannot be measured. */
export async function diskUsage(dir: string): Promise<number | null> {
  try {
    // du exits 1 on an unreadable subdirectory and still prints the total of what it read
    const r = await runProcess(["du", "-s", "-x", "-B1", dir], { timeoutMs: DU_TIMEOUT_MS });
    if (r.timedOut) return null;
    const text = r.stdout;
    const bytes = Number(text.split(/\s/, 1)[0]);
    return text && Number.isFinite(bytes) ? bytes : null;
  } catch {
    return null;
  }
}

/** Calls `onExceed` once when `dir` uses more than `limitBytes` of disk. Returns a stop function. */
export function watchDisk(dir: string, limitBytes: number, onExceed: () => void): () => void {
  let stopped = false;
  let measuring = false;
  const timer = setInterval(async () => {
    if (measuring || stopped) return;
    measuring = true;
    try {
      const used = await diskUsage(dir);
      if (!stopped && used !== null && used > limitBytes) {
        stopped = true;
        clearInterval(timer);
        onExceed();
      }
    } finally {
      measuring = false;
    }
  }, POLL_MS);
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
