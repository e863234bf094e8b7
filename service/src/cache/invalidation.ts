/**
 * Keeps every instance's LRU honest after a write to a link. The writer drops the code from its
 * own LRU at once, deletes the Redis key and publishes the code on `lf:invalidate`; every
 * instance (the writer too) subscribes and drops what it hears. When pub/sub is down the TTLs
 * bound the staleness, and each time the subscription is (re)established the LRU is cleared,
 * because messages published while it was down are lost.
 */
import type { RedisClients } from "../redis.ts";
import type { Logger } from "../lib/logger.ts";
import type { RedisTier } from "./redis-tier.ts";

export const INVALIDATE_CHANNEL = "lf:invalidate";

export interface InvalidationDeps {
  redis: RedisClients | undefined;
  tier: RedisTier;
  logger: Logger;
  /** Drops one code from this instance's LRU (and any lookup in flight for it). */
  forget(shortCode: string): void;
  /** Drops everything from this instance's LRU. */
  clear(): void;
}

export function createInvalidation(deps: InvalidationDeps) {
  const { redis, tier, logger } = deps;

  const onMessage = (channel: string, shortCode: string) => {
    if (channel === INVALIDATE_CHANNEL) deps.forget(shortCode);
  };

  let subscribedBefore = false;
  const onReady = () => {
    if (!redis) return;
    redis.subscriber.subscribe(INVALIDATE_CHANNEL).then(
      () => {
        // A (re)subscription after an outage: what was published meanwhile is lost, so nothing
        // cached may be trusted. Cleared only once subscribed, so no message slips in between.
        if (subscribedBefore) deps.clear();
        subscribedBefore = true;
      },
      (error: unknown) => logger.warn("cache invalidation subscribe failed", { error }),
    );
  };

  /** Every write path funnels here; never throws, never waits on Redis. */
  function changed(shortCodes: readonly string[]): void {
    for (const code of shortCodes) deps.forget(code);
    void tier.invalidate(shortCodes, INVALIDATE_CHANNEL).then((published) => {
      if (!published && redis) logger.debug("cache invalidation not published; ttl bounds staleness", { codes: shortCodes.length });
    });
  }

  return {
    /** Listens on the channel; a subscriber connection that is already up subscribes now. */
    start(): void {
      if (!redis) return;
      redis.subscriber.on("message", onMessage);
      redis.subscriber.on("ready", onReady);
      if (redis.subscriber.status === "ready") onReady();
    },

    stop(): void {
      redis?.subscriber.off("message", onMessage);
      redis?.subscriber.off("ready", onReady);
    },

    /** For urls' onChanged (PUT, DELETE). */
    linkChanged: (shortCode: string): void => changed([shortCode]),

    /** For users' onDeleted: the user's links went with them. */
    userDeleted: (_userId: number, shortCodes: string[]): void => changed(shortCodes),
  };
}

export type Invalidation = ReturnType<typeof createInvalidation>;
