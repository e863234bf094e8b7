/**
 * Builds the click path for deps.ts: with Redis, the stream sink (the buffer as its fallback)
 * and this instance's consumer; without, the buffer alone. CLICKS=off hands redirects a sink
 * that keeps nothing, while the consumer still drains what other instances add.
 */
import { hostname } from "node:os";
import type { ServiceConfig } from "../config.ts";
import type { Sql } from "../db/client.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { RedisClients } from "../redis.ts";
import { createBufferedClickSink } from "./buffer.ts";
import { createClickConsumer, type ClickConsumer } from "./consumer.ts";
import { createClicksRepo } from "./repo.ts";
import type { ClickSink } from "./sink.ts";
import { createStreamClickSink } from "./stream.ts";

export interface ClickPipeline {
  sink: ClickSink;
  consumer: ClickConsumer | undefined;
  /** In shutdown order: the consumer finishes its batch and acks, then the buffer's last flush. */
  closers: (() => Promise<void>)[];
}

export function wireClicks(deps: { config: ServiceConfig; sql: Sql; redis: RedisClients | undefined; metrics: Metrics; logger: Logger }): ClickPipeline {
  const { config, redis, metrics, logger } = deps;
  const repo = createClicksRepo(deps.sql);
  const buffered = createBufferedClickSink({
    repo, metrics, logger,
    flushMs: config.clickFlushMs, batchMax: config.clickBatchMax, bufferMax: config.clickBufferMax,
  });
  buffered.start();
  if (!redis) return { sink: config.clicks ? buffered : withoutClicks(buffered), consumer: undefined, closers: [() => buffered.stop()] };

  const stream = createStreamClickSink({ redis, fallback: buffered, metrics, logger, key: config.clickStreamKey, maxLen: config.clickStreamMaxLen });
  const consumer = createClickConsumer({
    redis: redis.command, repo, metrics, logger,
    key: config.clickStreamKey, group: config.clickStreamGroup,
    consumer: `${hostname()}:${config.port}:${process.pid}`,
    batch: config.clickStreamBatch, blockMs: config.clickStreamBlockMs, claimIdleMs: config.clickStreamClaimIdleMs,
  });
  consumer.start();
  return { sink: config.clicks ? stream : withoutClicks(stream), consumer, closers: [() => consumer.stop(), () => stream.stop()] };
}

/** CLICKS=off: redirects record nothing; flushing still reaches what the real sink holds. */
const withoutClicks = (sink: ClickSink): ClickSink => ({ record: () => {}, flushNow: () => sink.flushNow(), stop: () => sink.stop() });
