/**
 * The Redis-stream click sink: XADD each click to one stream that every instance's consumer
 * (consumer.ts) reads as a group. When the XADD fails (Redis down or slow) the click goes to the
 * in-process buffered sink instead, so a redirect never fails and never waits on PostgreSQL.
 */
import type Redis from "ioredis";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { Click } from "./model.ts";
import type { ClickSink } from "./sink.ts";

/** Field names in a stream entry; short, since every click carries them. */
const F = { id: "id", url: "u", code: "c", at: "t", referrer: "r", agent: "a", ip: "ip" } as const;

export function clickFields(click: Click): string[] {
  const fields = [F.id, click.id, F.url, String(click.urlId), F.code, click.shortCode, F.at, String(click.at.getTime())];
  if (click.referrer !== undefined) fields.push(F.referrer, click.referrer);
  if (click.userAgent !== undefined) fields.push(F.agent, click.userAgent);
  if (click.clientIp !== undefined) fields.push(F.ip, click.clientIp);
  return fields;
}

/** A stream entry's flat field list back into a click; undefined for an entry we did not write. */
export function parseClickFields(flat: readonly string[]): Click | undefined {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) m.set(flat[i]!, flat[i + 1]!);
  const id = m.get(F.id);
  const urlId = Number(m.get(F.url));
  const code = m.get(F.code);
  const at = new Date(Number(m.get(F.at)));
  if (!id || !/^[0-9a-f-]{36}$/i.test(id) || !Number.isInteger(urlId) || urlId < 1 || !code || Number.isNaN(at.getTime())) return undefined;
  return { id, urlId, shortCode: code, at, referrer: m.get(F.referrer), userAgent: m.get(F.agent), clientIp: m.get(F.ip) };
}

export interface StreamSinkOptions {
  redis: { command: Redis; readonly up: boolean };
  /** Takes the clicks the stream could not: the buffered sink. */
  fallback: ClickSink;
  metrics: Metrics;
  logger: Logger;
  /** config.clickStreamKey, default lf:clicks. */
  key: string;
  /** config.clickStreamMaxLen, default 1 000 000 (approximate trim). */
  maxLen: number;
}

export function createStreamClickSink(opts: StreamSinkOptions): ClickSink {
  const { redis, fallback, metrics, logger, key } = opts;
  const maxLen = String(opts.maxLen);
  let falling = false;

  async function toFallback(click: Click, error: unknown): Promise<void> {
    metrics.clicksFallback.inc();
    // One line when the stream starts failing, one when it is back: not one per click.
    if (!falling) logger.warn("click stream unavailable; using in-process buffer", { error });
    falling = true;
    await fallback.record(click);
  }

  return {
    async record(click: Click): Promise<void> {
      // Down: do not even try; ioredis would refuse at once anyway (no offline queue).
      if (!redis.up) return toFallback(click, "redis not ready");
      try {
        await redis.command.xadd(key, "MAXLEN", "~", maxLen, "*", ...clickFields(click));
        metrics.clicksRecorded.inc();
        if (falling) logger.info("click stream recovered");
        falling = false;
      } catch (error) {
        // A timed-out XADD may still land; the click id makes the second copy a no-op.
        await toFallback(click, error);
      }
    },
    // The stream's clicks are written by the consumers; only the fallback holds any here.
    flushNow: () => fallback.flushNow(),
    stop: () => fallback.stop(),
  };
}
