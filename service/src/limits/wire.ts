/**
 * Builds the limiter, the ban admin and the ban sync from the config, so deps.ts wires them in
 * one line and tests can build a second set with their own clock.
 */
import type { BlockList } from "node:net";
import type { ServiceConfig } from "../config.ts";
import type { Db } from "../db/client.ts";
import { parseTrustedProxies } from "../http/client-ip.ts";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import type { RedisClients } from "../redis.ts";
import { createBansService, type BansService } from "./bans.ts";
import { createMemoryStore } from "./memory-store.ts";
import { createRedisStore } from "./redis-store.ts";
import { createBansRepo } from "./repo.ts";
import { createLimits, type Limits } from "./service.ts";
import { createBanSync, type BanSync } from "./sync.ts";

export interface RateLimits {
  /** Undefined when RATE_LIMITS=off; /admin/bans still lists and lifts what PostgreSQL holds. */
  limits: Limits | undefined;
  bans: BansService;
  sync: BanSync | undefined;
  exempt: BlockList;
  now: () => number;
}

type LimitsConfig = Pick<ServiceConfig,
  "rateLimits" | "rateLimitRedirects" | "rateLimitReads" | "rateLimitWrites" | "rateLimitExempt" | "rateLimitMemorySubjects" | "rateLimitIpv6Prefix"
  | "banAfterViolations" | "banViolationWindowS" | "banDurationS" | "banPermanentAfter" | "banSyncMs">;

export function buildRateLimits(
  config: LimitsConfig,
  deps: { db: Db; redis: RedisClients | undefined; metrics: Metrics; logger: Logger },
  now: () => number = Date.now,
): RateLimits {
  const repo = createBansRepo(deps.db);
  const limits = config.rateLimits
    ? createLimits({
      perMinute: { redirect: config.rateLimitRedirects, read: config.rateLimitReads, write: config.rateLimitWrites },
      banAfterViolations: config.banAfterViolations,
      violationWindowMs: config.banViolationWindowS * 1000,
      banDurationMs: config.banDurationS * 1000,
      banPermanentAfter: config.banPermanentAfter,
      ipv6Prefix: config.rateLimitIpv6Prefix,
      redis: deps.redis ? createRedisStore(deps.redis) : undefined,
      memory: createMemoryStore(config.rateLimitMemorySubjects),
      repo, metrics: deps.metrics, logger: deps.logger, now,
    })
    : undefined;
  return {
    limits,
    bans: createBansService(repo, limits, now),
    sync: limits ? createBanSync(limits, { everyMs: config.banSyncMs, logger: deps.logger }) : undefined,
    exempt: parseTrustedProxies(config.rateLimitExempt),
    now,
  };
}
