import type { AppContext } from "../core/context";
import { FatalJobError } from "../core/jobs";
import { INGEST_JOB, ingestDocument, PermanentIngestError } from "./service";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** Defines the ingestion job and closes the vector store (opened lazily on first use) at shutdown. */
export async function setupDocuments(ctx: AppContext, on: On) {
  ctx.jobs.define<{ documentId: string; version: number }>(
    INGEST_JOB,
    async (payload, run) => {
      try {
        return await ingestDocument(ctx, payload.documentId, payload.version, (pct, msg) => run.progress(pct, msg));
      } catch (err) {
        if (err instanceof PermanentIngestError) throw new FatalJobError(err.message, { cause: err });
        throw err;
      }
    },
    { concurrency: 2, maxAttempts: 3, backoffMs: 2000, timeoutMs: 30 * 60_000 },
  );
  on.stop(async () => {
    await ctx.vectors?.close();
  });
}
