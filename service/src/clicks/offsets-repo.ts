/**
 * The SQL of shipping a spool exactly once: a batch's rows and the spool's new position commit in
 * one transaction, and the position moves only from the one the shipper read (compare-and-set).
 * A shipper that crashed after its commit, or lost a race to another shipper of the same spool,
 * finds the position moved, reads it again and goes on from there: nothing twice, nothing lost.
 */
import type { Sql } from "../db/client.ts";
import type { Click } from "./model.ts";
import { pgArrayLiteral, type ClicksRepo } from "./repo.ts";
import type { Position } from "./spool-reader.ts";

// Two-key advisory locks: (class, hashtext(spool id)). Arbitrary but fixed, next to the other
// linkfort locks (migrations 0x11f0_0001, bootstrap key …0002, seed …0003, receipt prune …0004).
/** Held for one batch's transaction: a second shipper of the spool skips its round instead of racing. */
export const SHIP_LOCK_CLASS = 0x11f0_0005;
/** Held by an instance while it ships a spool it adopted, so only one instance adopts each. */
export const ADOPT_LOCK_CLASS = 0x11f0_0006;

export type ShipOutcome =
  | { kind: "shipped"; written: number }
  /** Another shipper holds this spool's lock right now. */
  | { kind: "busy" }
  /** The position was not the one read: someone else shipped; here is where it is now. */
  | { kind: "moved"; position: Position | undefined };

interface Row { segment: number; byte_offset: number }
const toPosition = (row: Row): Position => ({ segment: Number(row.segment), offset: Number(row.byte_offset) });

export function createOffsetsRepo(sql: Sql, clicks: ClicksRepo) {
  return {
    /** The committed position, or undefined when this spool has never shipped. */
    async position(spoolId: string, conn: Sql = sql): Promise<Position | undefined> {
      const [row] = await conn<Row[]>`select segment, byte_offset from spool_offsets where spool_id = ${spoolId}`;
      return row ? toPosition(row) : undefined;
    },

    /**
     * Writes the batch and moves the position from `from` to `to`, in one transaction. `from`
     * undefined means "never shipped": the row is made, and a concurrent first ship loses.
     * `refused`: ids of clicks stepped over without an event (PostgreSQL refused them as data);
     * a click-cap claim of theirs is settled all the same, since their 302 went out.
     */
    async ship(spoolId: string, from: Position | undefined, to: Position, batch: readonly Click[], refused: readonly string[] = []): Promise<ShipOutcome> {
      return sql.begin(async (txn) => {
        const tx = txn as unknown as Sql;
        const [lock] = await tx<{ ok: boolean }[]>`select pg_try_advisory_xact_lock(${SHIP_LOCK_CLASS}, hashtext(${spoolId})) as ok`;
        if (!lock?.ok) return { kind: "busy" } as const;
        const moved = from === undefined
          ? await tx`insert into spool_offsets (spool_id, segment, byte_offset) values (${spoolId}, ${to.segment}, ${to.offset}) on conflict do nothing`
          : await tx`update spool_offsets set segment = ${to.segment}, byte_offset = ${to.offset}, updated_at = now()
              where spool_id = ${spoolId} and segment = ${from.segment} and byte_offset = ${from.offset}`;
        if (moved.count !== 1) {
          return { kind: "moved", position: await this.position(spoolId, tx) } as const;
        }
        if (refused.length > 0) await tx`delete from click_claims where click_id::text = any(${pgArrayLiteral(refused)}::text[])`;
        return { kind: "shipped", written: await clicks.insertBatch(batch, tx) } as const;
      });
    },

    /**
     * Runs `work` while holding the adoption lock of a spool on one connection; undefined without
     * running it when another instance holds it. A session lock: an adopter that dies mid-way
     * releases it with its connection.
     */
    async whileAdopted<T>(spoolId: string, work: () => Promise<T>): Promise<T | undefined> {
      const conn = await sql.reserve();
      try {
        const [row] = await conn<{ ok: boolean }[]>`select pg_try_advisory_lock(${ADOPT_LOCK_CLASS}, hashtext(${spoolId})) as ok`;
        if (!row?.ok) return undefined;
        try {
          return await work();
        } finally {
          await conn`select pg_advisory_unlock(${ADOPT_LOCK_CLASS}, hashtext(${spoolId}))`.catch(() => {});
        }
      } finally {
        conn.release();
      }
    },
  };
}

export type OffsetsRepo = ReturnType<typeof createOffsetsRepo>;
