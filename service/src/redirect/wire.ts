/**
 * Builds the redirect's cache from the config: the LRU, the Redis tier, the set of live codes,
 * the lookup over them and the invalidation that keeps them honest. Starts nothing: the invalidation listener is a
 * job that `serve` starts once it listens.
 */
import { createGate, createInvalidation } from "../cache/invalidation.ts";
import { createLiveCodes } from "../cache/live-codes.ts";
import { createLru } from "../cache/lru.ts";
import { createRedisTier, TOMBSTONE_MS } from "../cache/redis-tier.ts";
import type { ServiceConfig } from "../config.ts";
import type { Sql } from "../db/client.ts";
import type { Job } from "../lib/jobs.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { RedisClients } from "../redis.ts";
import { createLookup } from "./lookup.ts";
import { decode, type Lookup } from "./model.ts";
import { createHedgedResolve, fromStandby } from "./hedged-resolve.ts";
import { createRedirectRepo } from "./repo.ts";

export interface RedirectCacheDeps {
  config: ServiceConfig;
  sql: Sql;
  databaseUrl: string;
  /** A cluster URL only: the read pool (a standby preferred) that misses ask when the primary is slow or gone (hedged-resolve.ts). */
  standbySql?: Sql;
  redis: RedisClients | undefined;
  metrics: Metrics;
  logger: Logger;
}

export function wireRedirectCache(deps: RedirectCacheDeps) {
  const { config, metrics } = deps;
  const gate = createGate();
  const tier = createRedisTier(deps.redis, { accept: (raw) => decode(raw) !== undefined, rejected: metrics.cacheRedisRejected });
  const repo = createRedirectRepo(deps.sql);
  const standbyRepo = deps.standbySql && createRedirectRepo(deps.standbySql);
  const resolve = standbyRepo
    ? createHedgedResolve({ primary: repo.resolve, standby: standbyRepo.resolve, onStandbyRead: (result) => metrics.redirectStandbyReads.inc({ result }) })
    : repo.resolve;
  const codes = createLiveCodes({ page: repo.codesAfter, estimate: repo.estimatedCodes, metrics, logger: deps.logger });
  const lookup = createLookup({
    lru: createLru<Lookup>({ maxEntries: config.cacheMaxEntries }), tier, gate, metrics,
    resolve, uncacheable: fromStandby, ttlMs: config.cacheTtlMs, negativeTtlMs: config.cacheNegativeTtlMs,
    // Called only once requests come, by when `invalidation` below exists.
    absent: (code) => invalidation.absent(code), gone: codes.gone,
  });
  const invalidation = createInvalidation({
    sql: deps.sql, databaseUrl: deps.databaseUrl, applicationName: `linkfort-listen:${config.port}`,
    tier, gate, target: lookup.target, codes, metrics, logger: deps.logger,
    redisKeyLifeMs: Math.max(config.cacheTtlMs, config.cacheNegativeTtlMs) + TOMBSTONE_MS,
  });
  const jobs: Job[] = [invalidation.job];
  return {
    lookup: lookup.lookup,
    /** For every write path after its commit (see cache/invalidation.ts). */
    settle: invalidation.settle,
    /** One heartbeat round: true once this instance heard a NOTIFY sent now. */
    heartbeat: invalidation.heartbeat,
    /** Other instances this one's writes wait for. */
    get peers(): number {
      return invalidation.peers;
    },
    /** True while the invalidation listener is listening. */
    get listening(): boolean {
      return invalidation.listening;
    },
    /** True while the LRU may answer on its own. */
    get trusted(): boolean {
      return gate.trusted;
    },
    /** Entries in this instance's LRU. */
    get size(): number {
      return lookup.size;
    },
    /** This instance's set of live codes (loaded once listening). */
    codes,
    jobs,
  };
}

export type RedirectCache = ReturnType<typeof wireRedirectCache>;
