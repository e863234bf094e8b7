/**
 * The redirect cache of one instance, built once in deps.ts: the LRU, the Redis tier, the
 * cached lookup and pub/sub invalidation, wired to each other.
 */
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { RedisClients } from "../redis.ts";
import type { Resolution, Resolve } from "../redirect/model.ts";
import { cachedResolve, type CachedResolve, type ResolveWithSource } from "./cached-resolve.ts";
import { createInvalidation } from "./invalidation.ts";
import { createLru } from "./lru.ts";
import { createRedisTier } from "./redis-tier.ts";

export interface CacheOptions {
  /** The PostgreSQL lookup the cache sits in front of. */
  resolve: Resolve;
  /** Undefined without REDIS_URL: LRU only, invalidation stays within this instance. */
  redis: RedisClients | undefined;
  metrics: Metrics;
  logger: Logger;
  maxEntries: number;
  ttlMs: number;
  negativeTtlMs: number;
  /** Milliseconds; tests inject a clock (default Date.now). */
  now?: () => number;
}

export function createCache(opts: CacheOptions) {
  const lru = createLru<Resolution>({ maxEntries: opts.maxEntries, now: opts.now });
  const tier = createRedisTier(opts.redis);
  const resolve: CachedResolve = cachedResolve(opts.resolve, {
    lru, tier, metrics: opts.metrics, ttlMs: opts.ttlMs, negativeTtlMs: opts.negativeTtlMs,
  });
  const invalidation = createInvalidation({
    redis: opts.redis, tier, logger: opts.logger, forget: resolve.forget, clear: resolve.clear,
  });
  invalidation.start();
  const resolveWithSource: ResolveWithSource = resolve.withSource;
  return {
    /** Drop-in for the PostgreSQL Resolve. */
    resolve,
    /** The same lookup, also saying where the answer came from (for `X-Cache`). */
    resolveWithSource,
    /** urls' onChanged: PUT/DELETE of a link. */
    linkChanged: invalidation.linkChanged,
    /** users' onDeleted: the user's links went with them. */
    userDeleted: invalidation.userDeleted,
    /** Entries in this instance's LRU. */
    get size(): number {
      return lru.size;
    },
    stop(): void {
      invalidation.stop();
    },
  };
}

export type Cache = ReturnType<typeof createCache>;
