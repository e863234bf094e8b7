/**
 * The supervisor's one Alerter: every alert is logged, deduplicated by key, listed for /status
 * and, when a webhook is configured, handed to the delivery loop. `raise` and `resolve` only
 * touch memory, so they return at once and never throw, whatever Discord does.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import { VERSION } from "../../../service/src/lib/version.ts";
import type { SupervisorMetrics } from "../metrics.ts";
import type { AlertSnapshot, StatusSnapshot } from "../status/snapshot.ts";
import type { Alert, Alerter } from "./alert.ts";
import { createDedup } from "./dedup.ts";
import { createDelivery, type Delivery, type RetryPolicy } from "./delivery.ts";
import { createDiscordClient, type OutgoingMessage } from "./discord.ts";

export interface AlerterOptions {
  /** DISCORD_WEBHOOK_URL; unset: alerts only go to the log (still deduplicated and listed). */
  webhookUrl?: string;
  /** ALERT_DEDUP_MS: the same key is sent at most once in this window (ms, default 10 min). */
  dedupMs: number;
  /** ALERT_QUEUE_MAX: messages waiting for delivery; past it the oldest is dropped (default 100). */
  queueMax: number;
  metrics: SupervisorMetrics;
  logger: Logger;
  /** For tests and proxies; default the global fetch. */
  fetch?: typeof fetch;
  /** Default `linkfort-supervisor/<version> (+self-hosted)`. */
  userAgent?: string;
  /** Clock for dedup windows and alert timestamps (Unix ms, default Date.now). */
  now?: () => number;
  /** Longest wait for one webhook request (ms, default 5 s). */
  requestTimeoutMs?: number;
  /** Retries on 5xx / network errors (default 5 attempts, 1 s doubling to at most 60 s). */
  retry?: Partial<RetryPolicy>;
  /** How long stop() may keep delivering before it gives up (ms, default 2 s). */
  stopGraceMs?: number;
  /** Entries kept for /status (default 50). */
  recentMax?: number;
}

export interface AlertService extends Alerter {
  /** One delivery round (what is due, in order); the loop calls it, so can tests. */
  runOnce(): Promise<void>;
  /** Starts the delivery loop; a no-op without a webhook. */
  start(): void;
  /** Stops the loop; returns within about stopGraceMs even if the webhook hangs. */
  stop(): Promise<void>;
  snapshot(): StatusSnapshot["alerts"];
}

export const defaultUserAgent = `linkfort-supervisor/${VERSION} (+self-hosted)`;
const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseMs: 1_000, maxMs: 60_000 };

export function createAlerter(opts: AlerterOptions): AlertService {
  const { metrics, logger } = opts;
  const now = opts.now ?? Date.now;
  const recentMax = opts.recentMax ?? 50;
  const dedup = createDedup(opts.dedupMs, now);
  const recent: AlertSnapshot[] = []; // newest first
  const delivery: Delivery | undefined = opts.webhookUrl === undefined ? undefined : createDelivery({
    client: createDiscordClient({
      webhookUrl: opts.webhookUrl, userAgent: opts.userAgent ?? defaultUserAgent,
      timeoutMs: opts.requestTimeoutMs ?? 5_000, ...(opts.fetch ? { fetch: opts.fetch } : {}),
    }),
    queueMax: opts.queueMax,
    retry: { ...DEFAULT_RETRY, ...opts.retry },
    stopGraceMs: opts.stopGraceMs ?? 2_000,
    metrics,
    logger,
  });

  /** Lists the message and queues it; the listing is flagged delivered once Discord took it. */
  function send(message: OutgoingMessage): void {
    const entry: AlertSnapshot = {
      at: new Date(message.at).toISOString(), key: message.key, severity: message.severity,
      title: message.title, resolved: message.resolved, delivered: false,
    };
    recent.unshift(entry);
    if (recent.length > recentMax) recent.length = recentMax;
    delivery?.enqueue(message, () => { entry.delivered = true; });
  }

  // A broken logger or a malformed alert must still not throw into the health loop.
  function guarded(what: string, body: () => void): void {
    try {
      body();
    } catch (error) {
      try { logger.error(`alert ${what} failed`, { error }); } catch { /* nothing left to tell */ }
    }
  }

  return {
    raise(alert: Alert) {
      guarded("raise", () => {
        const shouldSend = dedup.shouldSend(alert);
        const fields = { key: alert.key, severity: alert.severity, title: alert.title, detail: alert.detail, suppressed: !shouldSend };
        if (alert.severity === "critical") logger.error("alert raised", fields);
        else if (alert.severity === "warning") logger.warn("alert raised", fields);
        else logger.info("alert raised", fields);
        if (!shouldSend) return metrics.alertsSuppressed.inc();
        send({ ...alert, resolved: false, at: now() });
      });
    },
    resolve(key: string, detail?: string) {
      guarded("resolve", () => {
        const alert = dedup.clear(key);
        if (!alert) return;
        logger.info("alert resolved", { key, severity: alert.severity, title: alert.title, detail });
        send({ ...alert, detail: detail ?? `cleared: ${alert.title}`, resolved: true, at: now() });
      });
    },
    runOnce: () => delivery?.runOnce() ?? Promise.resolve(),
    start: () => delivery?.start(),
    stop: () => delivery?.stop() ?? Promise.resolve(),
    snapshot() {
      const counts = delivery?.counts() ?? { sent: 0, dropped: 0, queued: 0 };
      return { recent: recent.map((entry) => ({ ...entry })), ...counts };
    },
  };
}
