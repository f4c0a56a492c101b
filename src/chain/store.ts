// The event sync's storage on the database (chain_cursors, chain_events).
import { and, eq, gt, sql } from "drizzle-orm";
import type { Hex } from "viem";
import type { Db } from "../core/db";
import type { EscrowEvent, SyncStore } from "./events";
import { chainCursors, chainEvents } from "./schema";

/** SyncStore over the database; recording is idempotent on (chain id, tx hash, log index). */
export function dbSyncStore(db: Db): SyncStore {
  return {
    async getCursor(key) {
      const [row] = await db.select().from(chainCursors).where(eq(chainCursors.key, key));
      return row ? { block: row.blockNumber, hash: row.blockHash as Hex } : undefined;
    },
    async saveCursor(key, block, hash) {
      await db
        .insert(chainCursors)
        .values({ key, blockNumber: block, blockHash: hash })
        .onConflictDoUpdate({
          target: chainCursors.key,
          set: { blockNumber: block, blockHash: hash, updatedAt: sql`now()` },
        });
    },
    async recordEvents(events) {
      if (events.length === 0) return [];
      const inserted = await db
        .insert(chainEvents)
        .values(
          events.map((e) => ({
            chainId: e.chainId,
            contract: e.contract.toLowerCase(),
            blockNumber: e.blockNumber,
            blockHash: e.blockHash,
            txHash: e.txHash,
            logIndex: e.logIndex,
            name: e.name,
            args: e.args,
          })),
        )
        .onConflictDoNothing()
        .returning({ txHash: chainEvents.txHash, logIndex: chainEvents.logIndex });
      const fresh = new Set(inserted.map((r) => `${r.txHash}:${r.logIndex}`));
      return events.filter((e: EscrowEvent) => fresh.has(`${e.txHash}:${e.logIndex}`));
    },
    async dropEventsAfter(chainId, contract, block) {
      await db
        .delete(chainEvents)
        .where(
          and(
            eq(chainEvents.chainId, chainId),
            eq(chainEvents.contract, contract.toLowerCase()),
            gt(chainEvents.blockNumber, block),
          ),
        );
    },
  };
}
