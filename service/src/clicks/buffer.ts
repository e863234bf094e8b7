/**
 * The in-process click sink: clicks wait in memory and are written in multi-row batches, every
 * `flushMs` and at shutdown. While PostgreSQL is down the batch is kept and retried; past
 * `bufferMax` the oldest clicks are dropped and counted. `runOnce` is one round, for the timer
 * and for tests.
 */
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Click } from "./model.ts";
import { createClickQueue } from "./queue.ts";
import type { ClicksRepo } from "./repo.ts";
import type { ClickSink } from "./sink.ts";

export interface BufferedSinkOptions {
  repo: ClicksRepo;
  metrics: Metrics;
  logger: Logger;
  /** Pause between rounds (ms); config.clickFlushMs, default 500. */
  flushMs: number;
  /** Most clicks in one INSERT; config.clickBatchMax, default 1000. */
  batchMax: number;
  /** Most clicks held, counting a batch being written; config.clickBufferMax, default 100 000. */
  bufferMax: number;
}

export interface FlushResult {
  written: number;
  /** Not written and not kept: link deleted meanwhile, or refused by PostgreSQL as data. */
  dropped: number;
  /** PostgreSQL could not be reached; the batch is back in the buffer. */
  failed: boolean;
  /** Clicks still held after the round. */
  held: number;
}

// A data error (SQLSTATE class 22) fails the same way on every retry; keeping the batch would
// block every later click behind it.
const isDataError = (error: unknown) =>
  (error as { name?: string }).name === "PostgresError" && String((error as { code?: unknown }).code).startsWith("22");

// At shutdown a short outage still gets a few chances before the remaining clicks are given up.
const STOP_ATTEMPTS = 3;

export function createBufferedClickSink(opts: BufferedSinkOptions): ClickSink & {
  runOnce(): Promise<FlushResult>;
  held(): number;
  start(): void;
} {
  const { repo, metrics, logger, batchMax, bufferMax } = opts;
  const queue = createClickQueue();
  const abort = new AbortController();
  let inFlight = 0;
  let running: Promise<FlushResult> | undefined;
  let failing = false;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const held = () => queue.size() + inFlight;
  const drop = (reason: string, n: number) => { if (n > 0) metrics.clicksDropped.inc({ reason }, n); };

  function trim(): void {
    let dropped = 0;
    for (; queue.size() > 0 && held() > bufferMax; dropped++) queue.dropOldest();
    drop("buffer_full", dropped);
  }

  /** Writes one batch; false when PostgreSQL could not take it and it went back in the buffer. */
  async function writeBatch(batch: Click[], result: FlushResult): Promise<boolean> {
    inFlight = batch.length;
    const done = metrics.clickFlushDuration.startTimer();
    try {
      const written = await repo.insertBatch(batch);
      result.written += written;
      result.dropped += batch.length - written;
      metrics.clicksWritten.inc(written);
      drop("link_deleted", batch.length - written);
      return true;
    } catch (error) {
      if (isDataError(error)) {
        logger.error("click batch refused by postgres; dropped", { count: batch.length, error });
        result.dropped += batch.length;
        drop("rejected", batch.length);
        return true;
      }
      inFlight = 0;
      queue.putBack(batch);
      trim();
      if (!failing) logger.warn("click flush failed; keeping clicks", { held: held(), error });
      failing = true;
      return false;
    } finally {
      inFlight = 0;
      done();
    }
  }

  /** One round: the clicks held when it starts, in batches of at most batchMax. */
  async function round(): Promise<FlushResult> {
    const result: FlushResult = { written: 0, dropped: 0, failed: false, held: 0 };
    // Clicks recorded during the round wait for the next, so a busy instance still yields.
    let budget = queue.size();
    while (budget > 0 && queue.size() > 0) {
      const batch = queue.take(Math.min(batchMax, budget));
      budget -= batch.length;
      if (!(await writeBatch(batch, result))) {
        result.failed = true;
        break;
      }
    }
    if (!result.failed && failing) {
      failing = false;
      logger.info("click flush recovered", { written: result.written });
    }
    result.held = held();
    metrics.clicksBuffered.set(result.held);
    return result;
  }

  function runOnce(): Promise<FlushResult> {
    running ??= round().finally(() => { running = undefined; });
    return running;
  }

  async function flushNow(): Promise<void> {
    // A round already running may have started before the latest clicks; run one more after it.
    if (running) await running;
    await runOnce();
  }

  return {
    runOnce,
    flushNow,
    held,

    record(click: Click): void {
      if (stopped) {
        drop("stopped", 1);
        return;
      }
      queue.push(click);
      metrics.clicksRecorded.inc();
      trim();
      metrics.clicksBuffered.set(held());
    },

    /** The thin timer around runOnce; stop() ends it. */
    start(): void {
      const schedule = () => {
        // unref: a pending flush must not keep a finished process (or test run) alive.
        if (!abort.signal.aborted) timer = setTimeout(tick, opts.flushMs).unref();
      };
      const tick = async () => {
        try {
          if (queue.size() > 0) await runOnce();
        } catch (error) {
          logger.error("click flush round failed", { error });
        } finally {
          schedule();
        }
      };
      schedule();
    },

    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      abort.abort();
      clearTimeout(timer);
      for (let attempt = 0; attempt < STOP_ATTEMPTS && held() > 0; attempt++) {
        if (attempt > 0) await Bun.sleep(opts.flushMs);
        await flushNow();
      }
      const lost = held();
      if (lost === 0) return;
      logger.error("clicks lost at shutdown: postgres unreachable", { count: lost });
      drop("shutdown", lost);
      queue.clear();
      metrics.clicksBuffered.set(0);
    },
  };
}
