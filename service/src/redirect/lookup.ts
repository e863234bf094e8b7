/**
 * The redirect's one lookup: LRU → Redis → PostgreSQL, filling both caches on the way back, and
 * returning the answer as a value with its source. An LRU hit returns synchronously: no promise,
 * no allocation. Concurrent misses for one code share one lookup (single-flight), so a scan of
 * unknown codes reaches PostgreSQL at most once per code per negative TTL and instance.
 *
 * While the gate is closed (the invalidation listener is not listening, cache/invalidation.ts)
 * a write may go unheard, so the LRU does not answer on its own: the lookup asks Redis and
 * PostgreSQL, and the LRU's entry stands in only when they cannot answer (PostgreSQL down).
 *
 * On an LRU miss the set of live codes (cache/live-codes.ts, cache/absence.ts) is asked first: a
 * code in no row of urls is a 404 from memory (X-Cache: lru), with no Redis or PostgreSQL round
 * trip and nothing put in the LRU, so a flood of random codes neither queries nor evicts.
 */
import type { CacheGate, InvalidationTarget } from "../cache/invalidation.ts";
import type { Lru } from "../cache/lru.ts";
import { FILL_WITHIN_MS, type RedisTier } from "../cache/redis-tier.ts";
import { tallies } from "../http/tally.ts";
import type { Metrics } from "../metrics.ts";
import { decode, encode, missing, withSource, type Lookup } from "./model.ts";

export interface LookupOptions {
  lru: Lru<Lookup>;
  tier: RedisTier;
  gate: CacheGate;
  /** The PostgreSQL lookup (repo.ts). */
  resolve(shortCode: string): Promise<Lookup>;
  metrics: Metrics;
  /** Known codes, active or inactive (ms). */
  ttlMs: number;
  /** Unknown codes (ms). */
  negativeTtlMs: number;
  /** True when the code is certainly in no row of urls (cache/absence.ts); absent: always look it up. */
  absent?(shortCode: string): boolean | Promise<boolean>;
  /** True for an answer to return but not to cache (a standby's, hedged-resolve.ts). */
  uncacheable?(value: Lookup): boolean;
  /** Told when PostgreSQL answered "no such code" with nothing heard about the code meanwhile. */
  gone?(shortCode: string): void;
}

/** How long a closed gate's lookup waits for Redis/PostgreSQL before the LRU's entry answers (ms). */
const STAND_IN_AFTER_MS = 250;
/** After PostgreSQL failed a closed gate's lookup, the LRU answers alone this long (ms) instead of every hit trying. */
const STAND_IN_FOR_MS = 1_000;

interface Flight {
  promise: Promise<Lookup>;
  /** Set when the code was invalidated meanwhile: the answer may predate the write. */
  stale: boolean;
  startedAt: number;
}

const MISSING = missing("lru");

export function createLookup(opts: LookupOptions) {
  const { lru, tier, gate, metrics } = opts;
  const inflight = new Map<string, Flight>();
  let standInUntil = 0;
  // Plain numbers until a scrape reads them: a labelled inc hashes its labels on every call.
  const lookups = tallies(metrics.cacheLookups);
  const count = {
    lruHit: lookups.labels({ tier: "lru", result: "hit" }),
    lruMiss: lookups.labels({ tier: "lru", result: "miss" }),
    lruBypassed: lookups.labels({ tier: "lru", result: "bypassed" }),
    lruStandIn: lookups.labels({ tier: "lru", result: "stand_in" }),
    redisHit: lookups.labels({ tier: "redis", result: "hit" }),
    redisMiss: lookups.labels({ tier: "redis", result: "miss" }),
    redisError: lookups.labels({ tier: "redis", result: "error" }),
    dbHit: lookups.labels({ tier: "db", result: "hit" }),
    dbMiss: lookups.labels({ tier: "db", result: "miss" }),
  };
  const ttlOf = (value: Lookup) => (value.kind === "missing" ? opts.negativeTtlMs : opts.ttlMs);

  const remember = (shortCode: string, value: Lookup) => {
    lru.set(shortCode, withSource(value, "lru"), ttlOf(value));
    metrics.cacheEntries.set(lru.size);
  };

  async function fromRedis(shortCode: string, flight: Flight): Promise<Lookup | undefined> {
    const read = await tier.get(shortCode);
    const value = read.status === "hit" ? decode(read.raw) : undefined;
    if (value === undefined) {
      (read.status === "error" ? count.redisError : count.redisMiss).inc();
      return undefined;
    }
    count.redisHit.inc();
    if (!flight.stale) remember(shortCode, value);
    return value;
  }

  async function lookUp(shortCode: string, flight: Flight): Promise<Lookup> {
    const useRedis = tier.configured && Date.now() >= gate.redisBypassUntil;
    const cached = useRedis ? await fromRedis(shortCode, flight) : undefined;
    if (cached) return cached;
    const value = await opts.resolve(shortCode);
    (value.kind === "missing" ? count.dbMiss : count.dbHit).inc();
    if (!flight.stale && opts.uncacheable?.(value) !== true) {
      if (value.kind === "missing") opts.gone?.(shortCode);
      remember(shortCode, value);
      // A slow lookup may have read the row before a write whose tombstone is gone by now. A 404
      // stays local: one read just before a create would otherwise be shared by every instance,
      // and creates write no tombstone (so a new link reaches Redis on its first lookup).
      if (useRedis && value.kind !== "missing" && performance.now() - flight.startedAt < FILL_WITHIN_MS) void tier.fill(shortCode, encode(value), ttlOf(value));
    }
    return value;
  }

  function startFlight(shortCode: string): Promise<Lookup> {
    const flight = { stale: false, startedAt: performance.now() } as Flight;
    flight.promise = lookUp(shortCode, flight).finally(() => {
      if (inflight.get(shortCode) === flight) inflight.delete(shortCode);
    });
    inflight.set(shortCode, flight);
    return flight.promise;
  }

  const ask = (shortCode: string) => inflight.get(shortCode)?.promise ?? startFlight(shortCode);

  async function confirm(shortCode: string, entry: Lookup): Promise<Lookup> {
    if (performance.now() < standInUntil) {
      count.lruStandIn.inc();
      return entry;
    }
    count.lruBypassed.inc();
    let timer: Timer | undefined;
    const late = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, STAND_IN_AFTER_MS); });
    try {
      const fresh = await Promise.race([ask(shortCode), late]);
      if (fresh !== undefined) return fresh;
    } catch {
      // PostgreSQL down: what this instance last knew is the best answer there is.
    } finally {
      clearTimeout(timer);
    }
    standInUntil = performance.now() + STAND_IN_FOR_MS;
    count.lruStandIn.inc();
    return entry;
  }

  const askOrStandIn = (shortCode: string): Promise<Lookup> =>
    ask(shortCode).catch((error: unknown) => {
      // PostgreSQL down and the entry past its TTL: nothing invalidated it, and nothing could
      // have changed it without PostgreSQL, so it is still the best answer there is.
      const old = lru.stale(shortCode);
      if (old === undefined) throw error;
      count.lruStandIn.inc();
      return old;
    });

  const target: InvalidationTarget = {
    forget(shortCode) {
      lru.delete(shortCode);
      const flight = inflight.get(shortCode);
      if (flight) {
        flight.stale = true;
        // Later callers must not join a lookup that may have read the row before the write.
        inflight.delete(shortCode);
      }
      metrics.cacheEntries.set(lru.size);
    },
    clear() {
      lru.clear();
      for (const flight of inflight.values()) flight.stale = true;
      inflight.clear();
      metrics.cacheEntries.set(0);
    },
  };

  return {
    /** The answer for a code-shaped path; synchronous on a trusted LRU hit. Rejects only when PostgreSQL fails with nothing cached. */
    lookup(shortCode: string): Lookup | Promise<Lookup> {
      const hit = lru.get(shortCode);
      if (hit !== undefined) {
        if (gate.trusted) {
          count.lruHit.inc();
          return hit;
        }
        return confirm(shortCode, hit);
      }
      count.lruMiss.inc();
      const absent = opts.absent?.(shortCode) ?? false;
      if (absent === true) return MISSING;
      if (absent === false) return askOrStandIn(shortCode);
      return absent.then((yes) => (yes ? MISSING : askOrStandIn(shortCode)));
    },
    /** What invalidation evicts from. */
    target,
    /** Entries in this instance's LRU. */
    get size(): number {
      return lru.size;
    },
  };

}

export type RedirectLookup = ReturnType<typeof createLookup>;
