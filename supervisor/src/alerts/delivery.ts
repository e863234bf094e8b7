/**
 * The alert outbox: a bounded FIFO drained one message at a time by its own loop, so whatever
 * the webhook does (slow, 429, 5xx, hung) never reaches the caller of `enqueue`. Messages go out
 * in order (a "resolved" never overtakes its alert); a 429 or a backoff pauses the whole queue,
 * because Discord's limit is per webhook, not per message.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import type { SupervisorMetrics } from "../metrics.ts";
import type { DiscordClient, OutgoingMessage, SendResult } from "./discord.ts";

export interface RetryPolicy {
  /** Tries of one message on 5xx, timeout or network error before it is dropped (default 5). */
  maxAttempts: number;
  /** First pause after a failure, doubled each time (ms, default 1 s). */
  baseMs: number;
  /** Longest pause between tries (ms, default 60 s). */
  maxMs: number;
}

export interface DeliveryOptions {
  client: DiscordClient;
  queueMax: number;
  retry: RetryPolicy;
  /** How long stop() keeps delivering (and waits for a request in flight) before it aborts (ms). */
  stopGraceMs: number;
  metrics: SupervisorMetrics;
  logger: Logger;
}

interface Pending {
  message: OutgoingMessage;
  attempts: number;
  rateLimited: number;
  onSent: () => void;
}

// 429s do not count as failed attempts (the message is fine), but a webhook answering 429
// forever must not hold the queue forever either.
const MAX_RATE_LIMITED = 10;
// Pacing waits on a real server, so it uses a monotonic clock, never the injectable one.
const clock = () => performance.now();

export function createDelivery(opts: DeliveryOptions) {
  const { client, queueMax, retry, metrics, logger } = opts;
  const queue: Pending[] = []; // alert volumes are tiny; shift() on a short array is fine
  const loopAbort = new AbortController(); // ends the loop's pauses
  const halt = new AbortController(); // ends requests in flight and every later send
  let inFlight = false;
  let notBefore = 0;
  let sent = 0;
  let dropped = 0;
  let running: Promise<void> | undefined;
  let loop: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;
  let wake: (() => void) | undefined;

  function drop(item: Pending, reason: "queue_full" | "failed", why: string): void {
    dropped++;
    metrics.alertsDropped.inc({ reason });
    logger.error("alert dropped", { key: item.message.key, resolved: item.message.resolved, reason, why });
  }

  function trim(): void {
    while (queue.length > queueMax) drop(queue.shift()!, "queue_full", `more than ${queueMax} alerts waiting`);
  }

  function retryLater(item: Pending, waitMs: number): void {
    queue.unshift(item);
    trim();
    notBefore = clock() + waitMs;
  }

  function settle(item: Pending, result: SendResult): void {
    const key = item.message.key;
    if (result.kind === "sent") {
      sent++;
      metrics.alertsSent.inc({ severity: item.message.resolved ? "resolved" : item.message.severity });
      item.onSent();
      notBefore = clock() + result.waitMs;
      logger.debug("alert delivered", { key, status: result.status });
    } else if (result.kind === "rejected") {
      drop(item, "failed", result.error);
    } else if (halt.signal.aborted) {
      queue.unshift(item); // cut short by stop(): it stays queued and is reported there
    } else if (result.kind === "rate_limited") {
      if (++item.rateLimited > MAX_RATE_LIMITED) return drop(item, "failed", `rate limited ${MAX_RATE_LIMITED} times`);
      logger.warn("discord rate limited", { key, retry_after_ms: result.retryAfterMs });
      retryLater(item, result.retryAfterMs);
    } else if (++item.attempts >= retry.maxAttempts) {
      drop(item, "failed", `${item.attempts} attempts, last: ${result.error}`);
    } else {
      const waitMs = Math.min(retry.baseMs * 2 ** (item.attempts - 1), retry.maxMs);
      logger.warn("alert delivery failed; retrying", { key, status: result.status, error: result.error, attempt: item.attempts, retry_in_ms: waitMs });
      retryLater(item, waitMs);
    }
  }

  /** Sends what is due, oldest first, until the queue is empty or a pause is owed. */
  async function round(): Promise<void> {
    while (!halt.signal.aborted && queue.length > 0 && clock() >= notBefore) {
      const item = queue.shift()!;
      inFlight = true;
      const result = await client.send(item.message, halt.signal).finally(() => { inFlight = false; });
      settle(item, result);
    }
  }

  function runOnce(): Promise<void> {
    running ??= round()
      .catch((error: unknown) => logger.error("alert round failed", { error }))
      .finally(() => { running = undefined; });
    return running;
  }

  /** Sleeps until the head is due, a new message arrives, or the loop is stopped. */
  function pause(): Promise<void> {
    const ms = queue.length === 0 ? undefined : Math.max(1, notBefore - clock());
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        loopAbort.signal.removeEventListener("abort", done);
        wake = undefined;
        resolve();
      };
      const timer = ms === undefined ? undefined : setTimeout(done, ms);
      loopAbort.signal.addEventListener("abort", done, { once: true });
      wake = done;
    });
  }

  return {
    /** Queues a message; never waits. False once stopped (the caller has logged it anyway). */
    enqueue(message: OutgoingMessage, onSent: () => void): boolean {
      if (halt.signal.aborted) return false;
      queue.push({ message, attempts: 0, rateLimited: 0, onSent });
      trim();
      wake?.();
      return true;
    },
    runOnce,
    start(): void {
      if (loop || loopAbort.signal.aborted) return;
      loop = (async () => {
        // The queue is read and the wake installed in the same tick, so no message can slip
        // between "nothing to do" and the sleep.
        while (!loopAbort.signal.aborted) {
          await runOnce();
          if (!loopAbort.signal.aborted) await pause();
        }
      })();
    },
    /** Delivers what is due within stopGraceMs, then aborts; returns within about that time. */
    stop(): Promise<void> {
      stopping ??= (async () => {
        loopAbort.abort();
        const timer = setTimeout(() => halt.abort(), opts.stopGraceMs);
        try {
          await loop;
          await runOnce();
        } finally {
          clearTimeout(timer);
          halt.abort();
        }
        if (queue.length > 0) logger.warn("alerts not delivered at stop", { count: queue.length, keys: queue.map((p) => p.message.key) });
      })();
      return stopping;
    },
    counts: () => ({ sent, dropped, queued: queue.length + (inFlight ? 1 : 0) }),
  };
}

export type Delivery = ReturnType<typeof createDelivery>;
