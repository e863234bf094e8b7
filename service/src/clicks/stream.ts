/**
 * The Redis-stream click sink: XADD each click to one stream that every instance's consumer
 * (consumer.ts) reads as a group, batched per event-loop turn (append.ts). When its batch fails
 * (Redis down or slow) or is refused (the stream is at CLICK_STREAM_MAXLEN: the consumers are
 * behind) the click goes to the in-process buffered sink instead, which writes to PostgreSQL
 * itself: a redirect never fails, never waits on PostgreSQL, and no click it answered for is
 * deleted from the stream unread (trim.ts deletes only acknowledged entries).
 */
import type Redis from "ioredis";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Click } from "./model.ts";
import type { ClickSink } from "./sink.ts";
import { createStreamAppender, isStreamFull } from "./append.ts";

/**
 * A stream entry is one field, `k`, holding a JSON array [id, urlId, code, at ms, referrer,
 * agent, ip] (null when absent): one argument to send and one value to parse per click, where a
 * field per property cost the redirect and the consumer seven of each.
 */
const FIELD = "k";

export function encodeClick(click: Click): string {
  return JSON.stringify([click.id, click.urlId, click.shortCode, click.at.getTime(), click.referrer ?? null, click.userAgent ?? null, click.clientIp ?? null]);
}

export const clickFields = (click: Click): string[] => [FIELD, encodeClick(click)];

const UUID = /^[0-9a-f-]{36}$/i;
const optional = (value: unknown) => (typeof value === "string" ? value : undefined);

function checked(id: unknown, urlId: number, code: unknown, atMs: number, rest: Pick<Click, "referrer" | "userAgent" | "clientIp">): Click | undefined {
  const at = new Date(atMs);
  if (typeof id !== "string" || !UUID.test(id) || !Number.isInteger(urlId) || urlId < 1 || typeof code !== "string" || !code || Number.isNaN(at.getTime())) return undefined;
  return { id, urlId, shortCode: code, at, ...rest };
}

/** A stream entry's flat field list back into a click; undefined for an entry we did not write. */
export function parseClickFields(flat: readonly string[]): Click | undefined {
  if (flat.length === 2 && flat[0] === FIELD) {
    let v: unknown;
    try { v = JSON.parse(flat[1]!); } catch { return undefined; }
    if (!Array.isArray(v) || v.length !== 7) return undefined;
    return checked(v[0], Number(v[1]), v[2], Number(v[3]), { referrer: optional(v[4]), userAgent: optional(v[5]), clientIp: optional(v[6]) });
  }
  // A field per property: entries written before the one-field format, still in a stream after an upgrade.
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  return checked(m.get("id"), Number(m.get("u")), m.get("c"), Number(m.get("t")), { referrer: m.get("r"), userAgent: m.get("a"), clientIp: m.get("ip") });
}

export interface StreamSinkOptions {
  redis: { command: Redis; readonly up: boolean };
  /** Takes the clicks the stream could not: the buffered sink. */
  fallback: ClickSink;
  metrics: Metrics;
  logger: Logger;
  /** config.clickStreamKey, default lf:clicks. */
  key: string;
  /** config.clickStreamMaxLen, default 1 000 000: past it batches are refused, not trimmed. */
  maxLen: number;
}

/** Why clicks go to the fallback: the label of linkfort_clicks_fallback_total. */
export type FallbackReason = "unavailable" | "full";

/**
 * After "full", the stream counts as accepting again only below this share of the cap. Under
 * sustained overload it sits at the cap, taking a batch whenever a trim made room and refusing
 * the next: without the margin that would log two lines a second.
 */
const ACCEPTING_AGAIN_BELOW = 0.9;

export function createStreamClickSink(opts: StreamSinkOptions): ClickSink {
  const { redis, fallback, metrics, logger } = opts;
  const appender = createStreamAppender({ redis: redis.command, key: opts.key, maxLen: opts.maxLen, field: FIELD });
  let fallingBack: FallbackReason | undefined;

  async function toFallback(click: Click, reason: FallbackReason, error: unknown): Promise<void> {
    metrics.clicksFallback.inc({ reason });
    // One line when the stream starts refusing (or the reason changes), one when it is back: not one per click.
    if (fallingBack !== reason) {
      const why = reason === "full" ? "click stream full; using in-process buffer" : "click stream unavailable; using in-process buffer";
      logger.warn(why, { reason, error });
    }
    fallingBack = reason;
    await fallback.record(click);
  }

  const stored = (length: number) => {
    metrics.clicksRecorded.inc();
    if (fallingBack === "full" && length >= opts.maxLen * ACCEPTING_AGAIN_BELOW) return;
    if (fallingBack) logger.info("click stream recovered", { reason: fallingBack, length });
    fallingBack = undefined;
  };

  return {
    record(click: Click): Promise<void> {
      // Down: do not even try; ioredis would refuse at once anyway (no offline queue).
      if (!redis.up) return toFallback(click, "unavailable", "redis not ready");
      // A batch that timed out may still land; the click id makes the fallback's copy a no-op.
      return appender.append(encodeClick(click)).then(stored, (error: unknown) => toFallback(click, isStreamFull(error) ? "full" : "unavailable", error));
    },
    // The stream's clicks are written by the consumers; only the fallback holds any here.
    flushNow: () => fallback.flushNow(),
    stop: () => fallback.stop(),
  };
}
