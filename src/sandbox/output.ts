import type { RunResult } from "./types";

/** Collects a run's stdout and stderr up to a byte budget shared by both streams. */
export class OutputCollector {
  private readonly parts = { stdout: [] as string[], stderr: [] as string[] };
  private readonly decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
  private kept = 0;
  /** Every byte seen, including those past the budget. */
  total = 0;
  exceeded = false;

  constructor(
    private readonly limit: number,
    private readonly onExceeded: () => void,
    private readonly onOutput?: (stream: "stdout" | "stderr", text: string) => void,
  ) {}

  push(stream: "stdout" | "stderr", chunk: Uint8Array): void {
    this.total += chunk.byteLength;
    if (this.exceeded) return;
    const room = this.limit - this.kept;
    const take = chunk.byteLength <= room ? chunk : chunk.subarray(0, Math.max(0, room));
    this.kept += take.byteLength;
    const text = this.decoders[stream].decode(take, { stream: true });
    if (text) {
      this.parts[stream].push(text);
      this.onOutput?.(stream, text);
    }
    if (take.byteLength < chunk.byteLength) {
      this.exceeded = true;
      this.onExceeded();
    }
  }

  text(stream: "stdout" | "stderr"): string {
    return this.parts[stream].join("") + this.decoders[stream].decode();
  }
}

/** A run's result: how it ended, with the streams it printed, their byte count and its time since `started`. */
export function runResult(
  out: OutputCollector,
  started: number,
  where: Pick<RunResult, "backend" | "image">,
  end: Pick<RunResult, "status" | "exitCode" | "message">,
): RunResult {
  return {
    status: end.status,
    exitCode: end.exitCode,
    stdout: out.text("stdout"),
    stderr: out.text("stderr"),
    outputBytes: out.total,
    durationMs: performance.now() - started,
    ...where,
    message: end.message,
  };
}
