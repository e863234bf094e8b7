/**
 * The shipping job around one instance's spool: a loop of `runOnce` rounds (a full batch goes on
 * at once, a caught-up spool waits `idleMs`, a failure backs off up to 5 s), adoption of orphaned
 * spools every `adoptEveryMs`, the spool gauges, and the bounded last ship at shutdown. Rounds
 * never overlap: the loop, `flushNow` and `stop` take turns.
 */
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Adopter } from "./adopt.ts";
import type { RoundResult, SpoolShipper } from "./shipper.ts";
import { touchAlive } from "./spool-dir.ts";
import type { SpoolWriter } from "./spool-writer.ts";

export interface ShippingOptions {
  shipper: SpoolShipper;
  writer: SpoolWriter;
  adopter: Adopter;
  metrics: Metrics;
  logger: Logger;
  /** Pause after a round that found nothing more to ship (ms); config.clickShipMs. */
  idleMs: number;
  adoptEveryMs: number;
  /** Longest the last ship at shutdown may take (ms); what is left stays on disk for the next start. */
  stopTimeoutMs: number;
}

/** What /health and the supervisor show of the spool. */
export interface SpoolBacklog {
  bytes: number;
  /** Not known until PostgreSQL told the committed position once. */
  unshipped_clicks: number | null;
  oldest_unshipped_age_seconds: number;
}

const BACKOFF_MIN_MS = 250;
const BACKOFF_MAX_MS = 5_000;

export function createShipping(opts: ShippingOptions) {
  const { shipper, writer, adopter, metrics, logger } = opts;
  const abort = new AbortController();
  let turn: Promise<unknown> = Promise.resolve();
  let loop: Promise<void> | undefined;
  let failing = false;
  let lastAdoptAt = -Infinity;
  let stopped: Promise<void> | undefined;

  /** Runs `work` after whatever round is in progress. */
  function exclusive<T>(work: () => Promise<T>): Promise<T> {
    const next = turn.then(work, work);
    turn = next.catch(() => {});
    return next;
  }

  function backlog(): SpoolBacklog {
    const own = shipper.unshipped();
    const oldest = [shipper.oldest(), adopter.oldest()].filter((d) => d !== undefined).sort((a, b) => a.getTime() - b.getTime())[0];
    return {
      bytes: writer.bytes(),
      unshipped_clicks: own === undefined ? null : own + adopter.unshipped(),
      oldest_unshipped_age_seconds: oldest ? Math.max(0, (Date.now() - oldest.getTime()) / 1000) : 0,
    };
  }

  function updateGauges(): void {
    const b = backlog();
    if (b.unshipped_clicks !== null) metrics.clickSpoolUnshipped.set(b.unshipped_clicks);
    metrics.clickSpoolOldestAge.set(b.oldest_unshipped_age_seconds);
  }

  /** One round of the own spool; a failure is logged once per outage and reported as undefined. */
  async function round(): Promise<RoundResult | undefined> {
    const done = metrics.clickShipDuration.startTimer();
    try {
      const result = await shipper.runOnce();
      if (failing) logger.info("click shipping recovered");
      failing = false;
      return result;
    } catch (error) {
      if (!failing) logger.warn("click shipping failed; clicks wait in the spool", { error });
      failing = true;
      return undefined;
    } finally {
      done();
      updateGauges();
    }
  }

  async function adoptIfDue(): Promise<void> {
    if (Date.now() - lastAdoptAt < opts.adoptEveryMs) return;
    lastAdoptAt = Date.now();
    touchAlive(shipper.dir);
    await adopter.runOnce().catch((error) => logger.warn("adopting orphaned click spools failed", { error }));
  }

  const pause = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    abort.signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });

  /** Rounds until the own spool is caught up or a round fails; bounded by `deadline`. */
  async function drain(deadline: number): Promise<boolean> {
    while (Date.now() < deadline) {
      const result = await round();
      if (!result) return false;
      if (result.caughtUp) return true;
      if (result.contended) await Bun.sleep(20);
    }
    return false;
  }

  return {
    backlog,
    /** Ships everything appended so far (one attempt, up to 30 s); resolves either way. */
    flushNow: () => exclusive(() => drain(Date.now() + 30_000)).then(() => {}),

    /** Starts the loop: what the spool holds from earlier runs ships first. */
    start(): void {
      touchAlive(shipper.dir);
      loop = (async () => {
        let backoff = BACKOFF_MIN_MS;
        while (!abort.signal.aborted) {
          const result = await exclusive(round);
          await exclusive(adoptIfDue);
          let wait = opts.idleMs;
          if (!result) { wait = backoff; backoff = Math.min(backoff * 2, BACKOFF_MAX_MS); } else backoff = BACKOFF_MIN_MS;
          if (result && !result.caughtUp) wait = result.contended ? 20 : 0;
          if (wait > 0) await pause(wait);
        }
      })();
    },

    /** Ends the loop, closes the writer (its last clicks written), ships what is left within stopTimeoutMs; once. */
    stop(): Promise<void> {
      stopped ??= (async () => {
        abort.abort();
        await loop;
        await writer.close();
        const caughtUp = await exclusive(() => drain(Date.now() + opts.stopTimeoutMs));
        if (!caughtUp) logger.warn("clicks left in the spool at shutdown; the next start ships them", { ...backlog() });
      })();
      return stopped;
    },
  };
}

export type Shipping = ReturnType<typeof createShipping>;
