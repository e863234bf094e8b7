/**
 * The SQL of click-receipt pruning: deleting receipts older than a cutoff in small batches, under
 * an advisory lock so one instance at a time does it (the others skip their round).
 */
import type { Sql } from "../db/client.ts";

// Arbitrary but fixed, like the other linkfort locks (migrations 0x11f0_0001, bootstrap key 0x11f0_0002, seed 0x11f0_0003).
export const RECEIPT_PRUNE_LOCK_ID = 0x11f0_0004;

export function createReceiptsRepo(sql: Sql) {
  return {
    /**
     * Runs `work` on one connection while holding the prune lock; undefined without running it
     * when another session holds the lock. A session lock: an instance that dies mid-prune
     * releases it with its connection.
     */
    async whileLocked<T>(work: (conn: Sql) => Promise<T>): Promise<T | undefined> {
      const conn = await sql.reserve();
      try {
        const [row] = await conn<{ locked: boolean }[]>`select pg_try_advisory_lock(${RECEIPT_PRUNE_LOCK_ID}) as locked`;
        if (!row?.locked) return undefined;
        try {
          return await work(conn);
        } finally {
          await conn`select pg_advisory_unlock(${RECEIPT_PRUNE_LOCK_ID})`.catch(() => {});
        }
      } finally {
        conn.release();
      }
    },

    /** Deletes at most `limit` receipts seen before `cutoff` (via the seen_at index); returns how many. */
    async deleteBatch(conn: Sql, cutoff: Date, limit: number): Promise<number> {
      const rows = await conn`
        delete from click_receipts where click_id in (
          select click_id from click_receipts where seen_at < ${cutoff.toISOString()}::timestamptz limit ${limit}
        )`;
      return rows.count;
    },
  };
}

export type ReceiptsRepo = ReturnType<typeof createReceiptsRepo>;
