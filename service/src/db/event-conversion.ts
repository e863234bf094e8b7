/**
 * The online half of migration 0003: copies a populated 32-bit `events` into the partitioned,
 * 64-bit `events_v2` in small transactions while the mirror triggers repeat every new write,
 * then swaps the two tables in one short transaction and drops the old one. Each step is
 * resumable (the position lives in linkfort_events_conversion) and safe to repeat; the caller
 * (event-partitions.ts) runs them under its advisory lock, so one instance at a time does.
 */
import type { Sql } from "./client.ts";
import { errorCode } from "./errors.ts";

export interface CopyProgress {
  copiedUpTo: number;
  highId: number;
}

/** The copy's position, or undefined when no conversion is pending. */
export async function conversionProgress(conn: Sql): Promise<CopyProgress | undefined> {
  const [table] = await conn<{ exists: boolean }[]>`select to_regclass('linkfort_events_conversion') is not null as exists`;
  if (!table?.exists) return undefined;
  const [row] = await conn<{ high_id: string; copied_up_to: string }[]>`select high_id, copied_up_to from linkfort_events_conversion`;
  return row ? { highId: Number(row.high_id), copiedUpTo: Number(row.copied_up_to) } : undefined;
}

/** The oldest month the copy needs a partition for (older rows go to events_default). */
export async function oldestEventMonth(conn: Sql, maxMonthsBack: number): Promise<string | undefined> {
  const [row] = await conn<{ month: string | null }[]>`
    select to_char(greatest(
      date_trunc('month', (select min("timestamp") from events)),
      date_trunc('month', now() at time zone 'UTC') - make_interval(months => ${maxMonthsBack})
    ), 'YYYY-MM-DD') as month`;
  return row?.month ?? undefined;
}

/**
 * Copies the next `rows` ids (a range, so gaps make a batch smaller) and moves the position in
 * the same transaction. FOR SHARE keeps a row from being deleted between this read and its copy:
 * a DELETE waits for the commit and its mirror trigger then deletes the copy too.
 */
export async function copyBatch(sql: Sql, rows: number): Promise<CopyProgress | undefined> {
  return sql.begin(async (tx) => {
    const [state] = await tx<{ high_id: string; copied_up_to: string }[]>`
      select high_id, copied_up_to from linkfort_events_conversion for update`;
    if (!state) return undefined;
    const highId = Number(state.high_id);
    const from = Number(state.copied_up_to);
    if (from >= highId) return { highId, copiedUpTo: from };
    const to = Math.min(highId, from + rows);
    await tx`
      insert into events_v2
      select * from events where id > ${from} and id <= ${to} order by id for share
      on conflict do nothing`;
    await tx`update linkfort_events_conversion set copied_up_to = ${to}`;
    return { highId, copiedUpTo: to };
  });
}

/**
 * Swaps events_v2 in; false when a lock was not granted within `lockTimeoutMs` (a long reader
 * or writer holds events: try again later rather than queue every request behind the swap).
 */
export async function swapTables(sql: Sql, lockTimeoutMs: number): Promise<boolean> {
  try {
    await sql.begin(async (tx) => {
      await tx`select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`;
      await tx`select linkfort_swap_events()`;
    });
    return true;
  } catch (error) {
    if (errorCode(error) === "55P03") return false;
    throw error;
  }
}

/** Drops the pre-conversion table once it is out of the way; false while a lock is not granted. */
export async function dropOldEvents(sql: Sql, lockTimeoutMs: number): Promise<boolean> {
  try {
    await sql.begin(async (tx) => {
      await tx`select set_config('lock_timeout', ${`${lockTimeoutMs}ms`}, true)`;
      await tx`drop table if exists events_old`;
    });
    return true;
  } catch (error) {
    if (errorCode(error) === "55P03") return false;
    throw error;
  }
}
