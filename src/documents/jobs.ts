import type { AppContext } from "../core/context";
import { FatalJobError } from "../core/jobs";
import {
  backfillPassages,
  INGEST_JOB,
  ingestDocument,
  moveLegacyFiles,
  PermanentIngestError,
  vectorStore,
} from "./service";
import { indexSync } from "./sync";

type On = { start(fn: () => Promise<void> | void): void; stop(fn: () => Promise<void> | void): void };

/** How often a node brings the projects it has searched up to date with the database, ahead of the next search. */
export const INDEX_REFRESH_MS = 3000;

/**
 * Defines the ingestion job. At start: moves this node's legacy upload files into the database and queues the
 * passages of documents indexed before they were kept there; then keeps this node's vector store in step with the
 * database in the background. Closes the vector store (opened lazily on first use) at shutdown.
 */
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
  let timer: ReturnType<typeof setInterval> | undefined;
  let refreshing: Promise<unknown> | undefined;
  on.start(async () => {
    try {
      const moved = await moveLegacyFiles(ctx);
      const queued = await backfillPassages(ctx);
      if (moved || queued) ctx.log.info("documents moved into the database", { files: moved, reindexing: queued });
    } catch (err) {
      ctx.log.error("moving documents into the database failed; will try at the next start", { err });
    }
    timer = setInterval(() => {
      if (refreshing || !ctx.vectors) return; // nothing searched here yet: the first search syncs
      refreshing = indexSync(ctx, vectorStore(ctx))
        .refreshKnown()
        .catch((err) => ctx.log.warn("vector index refresh failed; will retry", { err }))
        .finally(() => {
          refreshing = undefined;
        });
    }, INDEX_REFRESH_MS);
  });
  on.stop(async () => {
    clearInterval(timer);
    await refreshing;
    await ctx.vectors?.close();
  });
}
