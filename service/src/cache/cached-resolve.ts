/**
 * The redirect's lookup with both cache tiers in front: LRU → Redis → PostgreSQL, filling both
 * on the way back. Concurrent misses for one code share one lookup (single-flight), so a scan
 * of unknown codes reaches PostgreSQL at most once per code per negative TTL and instance.
 */
import type { Resolution, Resolve } from "../redirect/model.ts";
import type { Metrics } from "../metrics.ts";
import { tallies } from "../http/tally.ts";
import type { Lru } from "./lru.ts";
import type { RedisTier } from "./redis-tier.ts";

/** Where an answer came from; the redirect sends it as `X-Cache`. */
export type CacheSource = "lru" | "redis" | "db";

export interface Sourced {
  resolution: Resolution;
  source: CacheSource;
}

export type ResolveWithSource = (shortCode: string) => Promise<Sourced>;

export interface CacheTtls {
  /** Known codes, active or inactive (ms). */
  ttlMs: number;
  /** Unknown codes (ms). */
  negativeTtlMs: number;
}

export interface CachedResolveDeps extends CacheTtls {
  lru: Lru<Resolution>;
  tier: RedisTier;
  metrics: Metrics;
}

/** A Resolve (drop-in for the PostgreSQL one) plus the source side channel and invalidation hooks. */
export type CachedResolve = Resolve & {
  withSource: ResolveWithSource;
  /** Drops one code from this instance, including a lookup in flight for it. */
  forget(shortCode: string): void;
  /** Drops everything from this instance (after Redis comes back: invalidations may be lost). */
  clear(): void;
};

interface FlightState {
  /** Set when the code was invalidated meanwhile: the answer may predate the write. */
  stale: boolean;
}

interface Flight {
  promise: Promise<Sourced>;
  state: FlightState;
}

export const ttlOf = (resolution: Resolution, ttls: CacheTtls) =>
  resolution.kind === "missing" ? ttls.negativeTtlMs : ttls.ttlMs;

export function cachedResolve(resolve: Resolve, deps: CachedResolveDeps): CachedResolve {
  const { lru, tier, metrics } = deps;
  const inflight = new Map<string, Flight>();
  // Plain numbers until a scrape reads them: a labelled inc hashes its labels on every call.
  const lookups = tallies(metrics.cacheLookups);
  const count = {
    lruHit: lookups.labels({ tier: "lru", result: "hit" }),
    lruMiss: lookups.labels({ tier: "lru", result: "miss" }),
    redisHit: lookups.labels({ tier: "redis", result: "hit" }),
    redisMiss: lookups.labels({ tier: "redis", result: "miss" }),
    redisError: lookups.labels({ tier: "redis", result: "error" }),
    dbHit: lookups.labels({ tier: "db", result: "hit" }),
    dbMiss: lookups.labels({ tier: "db", result: "miss" }),
  };

  const remember = (shortCode: string, resolution: Resolution) => {
    lru.set(shortCode, resolution, ttlOf(resolution, deps));
    metrics.cacheEntries.set(lru.size);
  };

  async function lookUp(shortCode: string, flight: FlightState): Promise<Sourced> {
    const cached = await tier.get(shortCode);
    if (cached.status === "hit") {
      count.redisHit.inc();
      if (!flight.stale) remember(shortCode, cached.resolution);
      return { resolution: cached.resolution, source: "redis" };
    }
    (cached.status === "miss" ? count.redisMiss : count.redisError).inc();
    const resolution = await resolve(shortCode);
    (resolution.kind === "missing" ? count.dbMiss : count.dbHit).inc();
    if (!flight.stale) {
      remember(shortCode, resolution);
      void tier.set(shortCode, resolution, ttlOf(resolution, deps));
    }
    return { resolution, source: "db" };
  }

  function startFlight(shortCode: string): Promise<Sourced> {
    const state: FlightState = { stale: false };
    const promise = lookUp(shortCode, state).finally(() => {
      if (inflight.get(shortCode)?.state === state) inflight.delete(shortCode);
    });
    inflight.set(shortCode, { promise, state });
    return promise;
  }

  const withSource: ResolveWithSource = (shortCode) => {
    const hit = lru.get(shortCode);
    if (hit !== undefined) {
      count.lruHit.inc();
      return Promise.resolve({ resolution: hit, source: "lru" });
    }
    count.lruMiss.inc();
    return inflight.get(shortCode)?.promise ?? startFlight(shortCode);
  };

  const forget = (shortCode: string) => {
    lru.delete(shortCode);
    const flight = inflight.get(shortCode);
    if (flight) {
      flight.state.stale = true;
      // Later callers must not join a lookup that may have read the row before the write.
      inflight.delete(shortCode);
    }
    metrics.cacheEntries.set(lru.size);
  };

  const clear = () => {
    lru.clear();
    for (const flight of inflight.values()) flight.state.stale = true;
    inflight.clear();
    metrics.cacheEntries.set(0);
  };

  const resolved: Resolve = (shortCode) => withSource(shortCode).then((sourced) => sourced.resolution);
  return Object.assign(resolved, { withSource, forget, clear });
}
