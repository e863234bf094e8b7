/**
 * Reads the click stream as one consumer group shared by every instance and writes the clicks
 * with the same idempotent statement as the buffer (repo.ts). A round takes, in this order: this
 * consumer's own unacked entries (a failed insert), entries idle on another consumer for
 * `claimIdleMs` (it died: XAUTOCLAIM), then new ones. XACK only after the insert committed; a
 * crash in between redelivers entries the click ids make harmless. Between rounds, at most once
 * a second, it deletes the entries every group has acknowledged (trim.ts).
 */
import type Redis from "ioredis";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import { createBacklogGauges } from "./backlog.ts";
import type { Click } from "./model.ts";
import type { ClicksRepo } from "./repo.ts";
import { parseClickFields } from "./stream.ts";
import { createStreamTrimmer } from "./trim.ts";

export interface ClickConsumerOptions {
  /** The command connection; the consumer duplicates it, since a blocking read would stall XADDs. */
  redis: Redis;
  repo: ClicksRepo;
  metrics: Metrics;
  logger: Logger;
  key: string;
  group: string;
  /** host:port:pid, unique per running instance. */
  consumer: string;
  /** Most entries per round; config.clickStreamBatch, default 500. */
  batch: number;
  /** Longest wait for new entries in a round of the loop (ms); config.clickStreamBlockMs. */
  blockMs: number;
  /** Idle time after which another consumer's entries are claimed (ms); config.clickStreamClaimIdleMs. */
  claimIdleMs: number;
  /** Test hook: runs after a batch is read, before it is written. Hanging it plays a consumer that died mid-batch. */
  onRead?: (ids: readonly string[]) => Promise<void>;
}

export interface ConsumeResult {
  read: number;
  claimed: number;
  written: number;
  acked: number;
  /** The insert failed (PostgreSQL down); the entries stay pending on this consumer. */
  failed: boolean;
}

interface Entry { id: string; fields: string[] | null }

const entriesOf = (list: unknown): Entry[] =>
  Array.isArray(list) ? list.map((e) => { const [id, f] = e as [string, unknown]; return { id, fields: Array.isArray(f) ? (f as string[]) : null }; }) : [];

// Same rule as the buffer: a data error (SQLSTATE class 22) fails identically on every retry.
const isDataError = (error: unknown) =>
  (error as { name?: string }).name === "PostgresError" && String((error as { code?: unknown }).code).startsWith("22");

/** Pause after a failed round before the next, so an outage is not a busy loop (ms). */
const RETRY_MS = 250;
/** Pause after a round that emptied the stream: clicks then reach PostgreSQL within about this (ms). */
const GATHER_MS = 100;

export function createClickConsumer(opts: ClickConsumerOptions) {
  const { repo, metrics, logger, key, group, consumer, batch } = opts;
  // No command timeout below the block time: a blocked read is the normal state.
  const redis = opts.redis.duplicate({ connectionName: "linkfort-clicks", commandTimeout: opts.blockMs + 2_000 });
  redis.on("error", () => {}); // the command connection already reports outages
  const abort = new AbortController();
  let groupReady = false;
  let claimCursor = "0-0";
  let loop: Promise<void> | undefined;
  const pause = (ms: number) => new Promise<void>((resolve) => {
    if (abort.signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    abort.signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
  // Backlog gauges for the click-stream alerts, read between rounds; never throws.
  const backlog = createBacklogGauges({ redis: opts.redis, metrics, key, group });
  // The stream's only deletion: what every group has acknowledged. Never throws.
  const trimmer = createStreamTrimmer({ redis: opts.redis, metrics, logger, key });

  async function ensureGroup(): Promise<void> {
    if (groupReady) return;
    // From 0, not $: clicks added before any consumer existed are read too.
    await redis.call("XGROUP", "CREATE", key, group, "0", "MKSTREAM").catch((error: Error) => {
      if (!String(error.message).startsWith("BUSYGROUP")) throw error;
    });
    groupReady = true;
  }

  const readGroup = async (id: string, block?: number) => {
    const args = ["GROUP", group, consumer, "COUNT", String(batch), ...(block ? ["BLOCK", String(block)] : []), "STREAMS", key, id];
    const reply = (await redis.call("XREADGROUP", ...args)) as [string, unknown][] | null;
    return entriesOf(reply?.[0]?.[1]);
  };

  async function claim(): Promise<{ entries: Entry[]; gone: string[] }> {
    const reply = (await redis.call("XAUTOCLAIM", key, group, consumer, String(opts.claimIdleMs), claimCursor, "COUNT", String(batch))) as unknown[];
    claimCursor = String(reply[0]);
    const gone = Array.isArray(reply[2]) ? (reply[2] as string[]) : [];
    return { entries: entriesOf(reply[1]), gone };
  }

  async function nextEntries(block: number | undefined): Promise<{ entries: Entry[]; claimed: number; gone: string[] }> {
    const own = await readGroup("0");
    if (own.length > 0) return { entries: own, claimed: 0, gone: [] };
    const { entries, gone } = await claim();
    if (entries.length > 0 || gone.length > 0) {
      metrics.clickStreamClaimed.inc(entries.length);
      logger.info("click entries claimed from an idle consumer", { count: entries.length, trimmed: gone.length });
      return { entries, claimed: entries.length, gone };
    }
    if (abort.signal.aborted) return { entries: [], claimed: 0, gone: [] };
    return { entries: await readGroup(">", block), claimed: 0, gone: [] };
  }

  /** Writes the parsed clicks; false when PostgreSQL could not take them (keep them pending). */
  async function write(clicks: Click[], result: ConsumeResult): Promise<boolean> {
    try {
      result.written = await repo.insertBatch(clicks);
      metrics.clicksWritten.inc(result.written);
      return true;
    } catch (error) {
      if (!isDataError(error)) {
        logger.warn("click stream batch not written; left pending", { count: clicks.length, error });
        return false;
      }
      logger.error("click batch refused by postgres; dropped", { count: clicks.length, error });
      metrics.clicksDropped.inc({ reason: "rejected" }, clicks.length);
      return true;
    }
  }

  async function round(block: number | undefined): Promise<ConsumeResult> {
    const result: ConsumeResult = { read: 0, claimed: 0, written: 0, acked: 0, failed: false };
    await ensureGroup();
    let next;
    try {
      next = await nextEntries(block);
    } catch (error) {
      // The group vanished with Redis's data (restart without persistence): create it again.
      if (String((error as Error).message).includes("NOGROUP")) groupReady = false;
      throw error;
    }
    const { entries, claimed, gone } = next;
    result.read = entries.length;
    result.claimed = claimed;
    if (entries.length === 0 && gone.length === 0) return result;
    await opts.onRead?.(entries.map((e) => e.id));
    const clicks: Click[] = [];
    let bad = gone.length;
    for (const e of entries) {
      const click = e.fields ? parseClickFields(e.fields) : undefined;
      if (click) clicks.push(click);
      else bad++;
    }
    if (bad > 0) metrics.clicksDropped.inc({ reason: "unreadable" }, bad);
    if (!(await write(clicks, result))) return { ...result, failed: true };
    const ids = [...entries.map((e) => e.id), ...gone];
    result.acked = Number(await redis.call("XACK", key, group, ...ids));
    metrics.clickStreamAcked.inc(result.acked);
    return result;
  }

  return {
    /** One round without blocking, for tests; the loop blocks up to blockMs for new entries. */
    runOnce: (block?: number) => round(block),

    /** The thin loop around runOnce; stop() ends it after the round in progress. */
    start(): void {
      loop = (async () => {
        let failing = false;
        while (!abort.signal.aborted) {
          let ok = false;
          let full = false;
          try {
            const result = await round(opts.blockMs);
            ok = !result.failed;
            full = result.read >= batch;
          } catch (error) {
            if (!failing) logger.warn("click stream read failed", { error });
          }
          if (ok && failing) logger.info("click stream reads recovered");
          failing = !ok;
          await backlog.maybeRun(); // gauges for the click-stream alerts
          await trimmer.maybeRun();
          if (!ok && !abort.signal.aborted) await Bun.sleep(RETRY_MS);
          // Caught up: let the next batch gather instead of waking for every few clicks (each
          // round is several Redis round trips and one PostgreSQL commit). A full batch means a
          // backlog, and the next round starts at once.
          if (ok && !full) await pause(GATHER_MS);
        }
      })();
    },

    /** Stops reading; the round in progress finishes its insert and XACK first. Nothing read is lost: unacked entries stay pending for another consumer. */
    async stop(): Promise<void> {
      abort.abort();
      await loop;
      redis.disconnect();
    },
  };
}

export type ClickConsumer = ReturnType<typeof createClickConsumer>;
