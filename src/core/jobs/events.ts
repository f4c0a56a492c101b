import type { JobState } from "./schema";

/** A live or stored event of one run. Progress and log events carry their stored `id` (replay cursor). */
export type JobEvent =
  | { type: "progress"; jobId: string; id: number; pct: number; message: string | null; at: string }
  | { type: "log"; jobId: string; id: number; line: string; level?: string; at: string }
  | {
      type: "state";
      jobId: string;
      state: JobState;
      attempts: number;
      error?: string | null;
      result?: unknown;
      at: string;
    };

/** Receives events; must not throw (errors are swallowed so one bad listener cannot stop a run). */
export type JobListener = (event: JobEvent) => void;

/** Fan-out of live events to listeners of one job or of every job ("*"), in this process only. */
export class EventBus {
  private listeners = new Map<string, Set<JobListener>>();

  subscribe(jobId: string, fn: JobListener): () => void {
    let set = this.listeners.get(jobId);
    if (!set) {
      set = new Set();
      this.listeners.set(jobId, set);
    }
    set.add(fn);
    return () => {
      const s = this.listeners.get(jobId);
      if (!s) return;
      s.delete(fn);
      if (s.size === 0) this.listeners.delete(jobId);
    };
  }

  /** Emits a state change of a job. */
  emitState(jobId: string, state: JobState, attempts: number, error?: string | null, result?: unknown) {
    this.emit({ type: "state", jobId, state, attempts, error, result, at: new Date().toISOString() });
  }

  emit(event: JobEvent) {
    for (const key of [event.jobId, "*"]) {
      const set = this.listeners.get(key);
      if (!set) continue;
      for (const fn of [...set]) {
        try {
          fn(event);
        } catch {
          // a listener's failure is its own
        }
      }
    }
  }
}
