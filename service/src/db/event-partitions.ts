/**
 * The event partition job: one round per interval, on every instance, but under a PostgreSQL
 * advisory lock so only one does the work at a time and the others skip the round. A round
 * finishes a pending conversion of the old events table (event-conversion.ts), adds the monthly
 * partitions up to `monthsAhead` months after the current one, and, with a retention set, drops
 * whole partitions older than that. Every step is idempotent: a round cut short by a crash or
 * shutdown is completed by the next one, here or on another instance.
 */
import type { Job } from "../lib/jobs.ts";
import type { Logger } from "../lib/logger.ts";
import type { Sql } from "./client.ts";
import { errorCode, isForeignKeyViolation } from "./errors.ts";
import { conversionProgress, copyBatch, dropOldEvents, oldestEventMonth, swapTables } from "./event-conversion.ts";

// Arbitrary but fixed: every linkfort process must use the same number (migrate.ts uses 0x11f0_0001).
const PARTITION_LOCK_ID = 0x11f0_0013;
/** The copy creates monthly partitions this far back at most; older rows go to events_default. */
const HISTORY_MONTHS_MAX = 120;
/** Attempts at the swap's locks within one round, a second apart. */
const SWAP_ATTEMPTS = 30;
/** Times in a row a copy batch may meet a concurrent delete before the round gives up. */
const COPY_RACE_RETRIES = 5;
/** Pause between rounds while a conversion is unfinished (ms): every event write costs double until the copy is done. */
const CONVERSION_RETRY_MS = 60_000;

export interface EventPartitionSettings {
  /** Monthly partitions kept ready after the current month. */
  monthsAhead: number;
  /** Months of events kept before the current one; 0 keeps everything. */
  retentionMonths: number;
  /** Ids per transaction of the conversion copy. */
  copyBatchRows: number;
  /** Longest wait for a lock of a DDL statement (ms); past it the step is retried later, so requests never queue behind it long. */
  lockTimeoutMs: number;
  /** Pause between rounds (ms). */
  everyMs: number;
}

export interface RoundReport {
  /** False when another instance held the lock (the round did nothing). */
  ran: boolean;
  added: string[];
  dropped: string[];
  /** Ids still to copy of a pending conversion; 0 when none is pending. */
  conversionRemaining: number;
  swapped: boolean;
}

export interface PartitionObserver {
  /** After each round, on every instance: months covered after the current one, conversion ids left. */
  observe(report: { monthsAhead: number; conversionRemaining: number }): void;
}

const PARTITION_NAME = /^events_p(\d{4})(\d{2})$/;

export function createEventPartitions(sql: Sql, settings: EventPartitionSettings, logger: Logger, observer?: PartitionObserver) {
  let stopping = false;

  /** Runs `work` in a transaction with a short lock_timeout; false when a lock was not granted. */
  async function withShortLocks(work: (tx: Sql) => Promise<unknown>): Promise<boolean> {
    try {
      await sql.begin(async (tx) => {
        await tx`select set_config('lock_timeout', ${`${settings.lockTimeoutMs}ms`}, true)`;
        await work(tx as unknown as Sql);
      });
      return true;
    } catch (error) {
      if (errorCode(error) === "55P03") return false;
      throw error;
    }
  }

  /** One partition per transaction: an ATTACH holds its locks until commit. */
  async function addPartitions(fromMonth: string | undefined): Promise<string[]> {
    const months = await sql<{ month: string; name: string }[]>`
      select to_char(m, 'YYYY-MM-DD') as month, 'events_p' || to_char(m, 'YYYYMM') as name
      from generate_series(
        date_trunc('month', coalesce(${fromMonth ?? null}::date, (now() at time zone 'UTC')::date)),
        date_trunc('month', now() at time zone 'UTC') + make_interval(months => ${settings.monthsAhead}),
        interval '1 month') m
      where to_regclass('events_p' || to_char(m, 'YYYYMM')) is null`;
    const added: string[] = [];
    for (const { month, name } of months) {
      if (stopping) break;
      const ok = await withShortLocks((tx) =>
        tx`select linkfort_add_event_partition(coalesce(to_regclass('events_v2'), 'events'::regclass), ${month}::date)`);
      if (ok) added.push(name);
      else logger.warn("event partition not added: its locks were busy; the next round tries again", { partition: name });
    }
    return added;
  }

  /** Whole monthly partitions of `events` that ended before the retention; never events_default. */
  async function dropExpired(): Promise<string[]> {
    if (settings.retentionMonths === 0) return [];
    const [now] = await sql<{ year: number; month: number }[]>`
      select extract(year from now() at time zone 'UTC')::int as year, extract(month from now() at time zone 'UTC')::int as month`;
    if (!now) return [];
    const cutoff = now.year * 12 + (now.month - 1) - settings.retentionMonths;
    const parts = await sql<{ name: string }[]>`
      select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      where i.inhparent = 'events'::regclass order by c.relname`;
    const dropped: string[] = [];
    for (const { name } of parts) {
      const match = PARTITION_NAME.exec(name);
      if (!match || stopping) continue;
      if (Number(match[1]) * 12 + (Number(match[2]) - 1) >= cutoff) continue;
      // DROP of a partition takes the parent's lock for a moment; a detach first would not help.
      const ok = await withShortLocks((tx) => tx`drop table ${tx(name)}`);
      if (ok) dropped.push(name);
      else logger.warn("expired event partition not dropped: its locks were busy; the next round tries again", { partition: name });
    }
    return dropped;
  }

  async function convert(): Promise<{ remaining: number; swapped: boolean }> {
    let progress = await conversionProgress(sql);
    if (!progress) return { remaining: 0, swapped: false };
    await addPartitions(await oldestEventMonth(sql, HISTORY_MONTHS_MAX));
    const started = performance.now();
    for (let raced = 0; progress && progress.copiedUpTo < progress.highId && !stopping;) {
      try {
        progress = await copyBatch(sql, settings.copyBatchRows);
        raced = 0;
      } catch (error) {
        // A link or user deleted between the batch's read and its foreign-key check: the rows
        // are gone from events too, so the same batch read again copies without them.
        if (!isForeignKeyViolation(error) || ++raced > COPY_RACE_RETRIES) throw error;
      }
    }
    if (!progress || progress.copiedUpTo < progress.highId) return { remaining: progress ? progress.highId - progress.copiedUpTo : 0, swapped: false };
    logger.info("events conversion: copy complete", { high_id: progress.highId, copy_ms: Math.round(performance.now() - started) });
    for (let attempt = 1; attempt <= SWAP_ATTEMPTS && !stopping; attempt++) {
      const at = performance.now();
      if (await swapTables(sql, settings.lockTimeoutMs)) {
        logger.info("events conversion: partitioned events swapped in", { attempt, swap_ms: Math.round(performance.now() - at) });
        return { remaining: 0, swapped: true };
      }
      await Bun.sleep(1_000);
    }
    logger.warn("events conversion: the swap's locks were busy; the next round tries again");
    return { remaining: 0, swapped: false };
  }

  async function work(): Promise<RoundReport> {
    const { remaining, swapped } = await convert();
    const converting = remaining > 0 || (await conversionProgress(sql)) !== undefined;
    const [old] = await sql<{ exists: boolean }[]>`select to_regclass('events_old') is not null as exists`;
    if (!converting && old?.exists) {
      const at = performance.now();
      if (await dropOldEvents(sql, settings.lockTimeoutMs)) logger.info("events conversion: old table dropped", { drop_ms: Math.round(performance.now() - at) });
      else logger.warn("events conversion: old table not dropped yet: its locks were busy; the next round tries again");
    }
    const added = await addPartitions(undefined);
    const dropped = converting ? [] : await dropExpired();
    if (added.length > 0 || dropped.length > 0) logger.info("event partitions changed", { added, dropped });
    return { ran: true, added, dropped, conversionRemaining: remaining, swapped };
  }

  /** What every instance exports after each round, whether it held the lock or not. */
  async function observe(): Promise<void> {
    if (!observer) return;
    const [row] = await sql<{ months: number }[]>`
      select count(*)::int as months from generate_series(1, ${settings.monthsAhead}) k
      where to_regclass('events_p' || to_char(date_trunc('month', now() at time zone 'UTC') + make_interval(months => k), 'YYYYMM')) is not null`;
    const progress = await conversionProgress(sql);
    observer.observe({ monthsAhead: row?.months ?? 0, conversionRemaining: progress ? progress.highId - progress.copiedUpTo : 0 });
  }

  /** One round under the advisory lock; `ran: false` when another instance holds it. */
  async function runOnce(): Promise<RoundReport> {
    const conn = await sql.reserve();
    try {
      const [row] = await conn<{ ok: boolean }[]>`select pg_try_advisory_lock(${PARTITION_LOCK_ID}) as ok`;
      if (!row?.ok) return { ran: false, added: [], dropped: [], conversionRemaining: 0, swapped: false };
      try {
        return await work();
      } finally {
        await conn`select pg_advisory_unlock(${PARTITION_LOCK_ID})`.catch(() => {});
      }
    } finally {
      conn.release();
    }
  }

  /** A copy pending, or the old table not dropped yet (its DROP needs a moment when urls is idle). */
  async function conversionUnfinished(): Promise<boolean> {
    const [row] = await sql<{ unfinished: boolean }[]>`
      select to_regclass('linkfort_events_conversion') is not null or to_regclass('events_old') is not null as unfinished`;
    return row?.unfinished ?? false;
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<unknown> | undefined;
  const tick = () => {
    running = runOnce()
      .then(observe)
      .catch((error: unknown) => logger.error("event partition job failed; the next round tries again", { error }))
      .then(() => conversionUnfinished().catch(() => false))
      .then((pending) => {
        running = undefined;
        if (!stopping) timer = setTimeout(tick, pending ? CONVERSION_RETRY_MS : settings.everyMs);
      });
  };

  const job: Job = {
    name: "event partitions",
    start() {
      stopping = false;
      tick();
    },
    async stop() {
      stopping = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
  return { runOnce, job };
}
