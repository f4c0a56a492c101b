// Following the escrow's events: a block cursor with its hash, only blocks at the confirmation depth, reorg
// detection (the cursor's block hash changed → rewind and re-read), idempotent recording (one row per tx hash and
// log index). Storage is behind SyncStore so the logic is tested on its own and on the database.
import { type Address, decodeEventLog, type Hex, type Log } from "viem";
import type { ChainConnection } from "./client";
import { ProjectEscrow } from "./contracts.gen";

/** One decoded escrow event. `args` are JSON-safe (bigints as decimal strings). */
export interface EscrowEvent {
  chainId: number;
  contract: Address;
  blockNumber: bigint;
  blockHash: Hex;
  txHash: Hex;
  logIndex: number;
  name: string;
  args: Record<string, string | number | boolean>;
}

/** Where the sync keeps its cursor and events. recordEvents must ignore events it already holds. */
export interface SyncStore {
  getCursor(key: string): Promise<{ block: bigint; hash: Hex } | undefined>;
  saveCursor(key: string, block: bigint, hash: Hex): Promise<void>;
  /** Stores new events (ignoring known tx hash + log index) and returns the ones that were new. */
  recordEvents(events: EscrowEvent[]): Promise<EscrowEvent[]>;
  /** Forgets events of this contract above `block` (after a reorg). */
  dropEventsAfter(chainId: number, contract: Address, block: bigint): Promise<void>;
}

/** One pass of the sync. */
export interface SyncResult {
  from: bigint;
  to: bigint;
  recorded: EscrowEvent[];
  reorg: boolean;
}

const jsonSafe = (v: unknown): string | number | boolean =>
  typeof v === "bigint" ? v.toString() : typeof v === "number" || typeof v === "boolean" ? v : String(v);

/** Decodes escrow logs; logs of other contracts or events are skipped. */
export function decodeEscrowLogs(chainId: number, logs: readonly Log[]): EscrowEvent[] {
  const out: EscrowEvent[] = [];
  for (const log of logs) {
    try {
      const ev = decodeEventLog({ abi: ProjectEscrow.abi, data: log.data, topics: log.topics });
      out.push({
        chainId,
        contract: log.address,
        blockNumber: log.blockNumber!,
        blockHash: log.blockHash!,
        txHash: log.transactionHash!,
        logIndex: log.logIndex!,
        name: ev.eventName,
        args: Object.fromEntries(Object.entries(ev.args ?? {}).map(([k, v]) => [k, jsonSafe(v)])),
      });
    } catch {
      // not one of ours
    }
  }
  return out;
}

/** Settings of a sync. */
export interface SyncOptions {
  escrow: Address;
  deployBlock: bigint;
  confirmations: number;
  /** Blocks read per getLogs call. */
  batchSize?: number;
  /** How far back to re-read when the cursor's block is no longer on the chain. */
  reorgRewind?: number;
}

/** Reads confirmed escrow events after the cursor and records them; call repeatedly (a cron or job). */
export async function syncEscrowEvents(conn: ChainConnection, store: SyncStore, o: SyncOptions): Promise<SyncResult> {
  const chainId = conn.chain.id;
  const key = `escrow:${chainId}:${o.escrow.toLowerCase()}`;
  const head = await conn.publicClient.getBlockNumber({ cacheTime: 0 });
  const safe = head - BigInt(o.confirmations);
  let cursor = await store.getCursor(key);
  let reorg = false;

  if (cursor) {
    const block = await conn.publicClient.getBlock({ blockNumber: cursor.block }).catch(() => undefined);
    if (!block || block.hash !== cursor.hash) {
      // the chain we read before is gone: step back and read again
      reorg = true;
      const back = cursor.block - BigInt(o.reorgRewind ?? 64);
      const rewound = back > o.deployBlock ? back : o.deployBlock - 1n;
      await store.dropEventsAfter(chainId, o.escrow, rewound);
      cursor = undefined;
      if (rewound >= o.deployBlock) {
        const b = await conn.publicClient.getBlock({ blockNumber: rewound });
        cursor = { block: rewound, hash: b.hash };
        await store.saveCursor(key, rewound, b.hash);
      }
    }
  }

  const from = cursor ? cursor.block + 1n : o.deployBlock;
  if (from > safe) return { from, to: from - 1n, recorded: [], reorg };
  const to = safe < from + BigInt((o.batchSize ?? 2_000) - 1) ? safe : from + BigInt((o.batchSize ?? 2_000) - 1);
  const logs = await conn.publicClient.getLogs({ address: o.escrow, fromBlock: from, toBlock: to });
  const recorded = await store.recordEvents(decodeEscrowLogs(chainId, logs));
  const toBlock = await conn.publicClient.getBlock({ blockNumber: to });
  await store.saveCursor(key, to, toBlock.hash);
  return { from, to, recorded, reorg };
}
