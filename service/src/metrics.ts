/**
 * Every Prometheus metric the service exports, built per app (no global registry) so tests can
 * run several apps in one process. Names: linkfort_<area>_<name>_<unit>; route labels are
 * templates (`/urls/:id`), never raw paths, so cardinality stays bounded.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** A gauge with no labels exports 0 until set; these export nothing until their first reading instead. */
function absentUntilSet(gauge: Gauge): Gauge {
  gauge.remove();
  return gauge;
}

/** Exports every listed label value from the start, so a rate over it is 0 rather than absent until the first event. */
function withLabelsAtZero<L extends string>(counter: Counter<L>, label: L, values: readonly string[]): Counter<L> {
  for (const value of values) counter.inc({ [label]: value } as Partial<Record<L, string>>, 0);
  return counter;
}

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "linkfort_" });
  const m = {
    registry,
    httpRequests: new Counter({
      name: "linkfort_http_requests_total",
      help: "Requests answered, by method, route template and status",
      labelNames: ["method", "route", "status"] as const,
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: "linkfort_http_request_duration_seconds",
      help: "Time from request to response, by method, route template and status class",
      labelNames: ["method", "route", "status_class"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    httpInFlight: new Gauge({ name: "linkfort_http_in_flight_requests", help: "Requests being handled now", registers: [registry] }),
    dbPoolMax: new Gauge({ name: "linkfort_db_pool_max_connections", help: "Configured size of the PostgreSQL pool", registers: [registry] }),
    dbErrors: new Counter({
      name: "linkfort_db_errors_total",
      help: "Database errors that reached the error handler, by kind",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    dbConnectionsSilent: new Counter({
      name: "linkfort_db_connections_silent_total",
      help: "PostgreSQL connections closed because a query got no answer at all for DB_RESPONSE_TIMEOUT_MS (a frozen server or a cut network)",
      registers: [registry],
    }),
    clicksRecorded: new Counter({ name: "linkfort_clicks_recorded_total", help: "Clicks handed to the click sink by redirects", registers: [registry] }),
    // clicks: the spool (clicks/spool-writer.ts) and its shipping (clicks/shipper.ts)
    clicksSpooled: new Counter({ name: "linkfort_clicks_spooled_total", help: "Clicks written to this instance's spool on local disk", registers: [registry] }),
    clicksShipped: new Counter({ name: "linkfort_clicks_shipped_total", help: "Clicks shipped from a spool into PostgreSQL (clicked events)", registers: [registry] }),
    clicksDropped: withLabelsAtZero(new Counter({
      name: "linkfort_clicks_dropped_total",
      help: "Clicks not kept, by reason: spool_full (CLICK_SPOOL_MAX_BYTES), disk_full, unwritable (spool not writable: permissions, I/O error), stopped (after shutdown began), unreadable (a spool line that is no click), rejected (refused by PostgreSQL), link_deleted (its link was deleted meanwhile)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }), "reason", ["spool_full", "disk_full", "unwritable"]),
    // Click caps (clicks/caps.ts, claim-release.ts).
    clickClaims: withLabelsAtZero(new Counter({
      name: "linkfort_click_claims_total",
      help: "Claims of a capped link's slot before its 302, by result: claimed, full (answered 410), failed (PostgreSQL did not answer: 503)",
      labelNames: ["result"] as const,
      registers: [registry],
    }), "result", ["claimed", "full", "failed"]),
    clickClaimsReleased: withLabelsAtZero(new Counter({
      name: "linkfort_click_claims_released_total",
      help: "Slots given back: claims whose click never reached a spool, by why: restart (an earlier process on this spool died between claim and spool write), adopted (the same, found by an instance adopting the spool), unanswered (this process failed the request after claiming)",
      labelNames: ["why"] as const,
      registers: [registry],
    }), "why", ["restart", "adopted", "unanswered"]),
    clickSpoolBytes: new Gauge({ name: "linkfort_click_spool_bytes", help: "Bytes of this instance's click spool segments on disk", registers: [registry] }),
    clickSpoolMaxBytes: new Gauge({ name: "linkfort_click_spool_max_bytes", help: "CLICK_SPOOL_MAX_BYTES: past it clicks are dropped", registers: [registry] }),
    clickSpoolUnshipped: absentUntilSet(new Gauge({
      name: "linkfort_click_spool_unshipped_clicks",
      help: "Clicks in this instance's spool (and spools it adopted) not yet in PostgreSQL; absent until PostgreSQL told the committed position once",
      registers: [registry],
    })),
    clickSpoolOldestAge: new Gauge({
      name: "linkfort_click_spool_oldest_unshipped_age_seconds",
      help: "Age of the oldest click in the spool not yet in PostgreSQL; 0 when all are shipped",
      registers: [registry],
    }),
    clickShipDuration: new Histogram({
      name: "linkfort_click_ship_duration_seconds",
      help: "Time of one shipping round: read a batch from the spool, commit it with the spool position",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: "linkfort_cache_lookups_total",
      help: "Redirect cache lookups by tier (lru, redis, db) and result (hit, miss, error: Redis not answering; lru bypassed: not listening for invalidations, so PostgreSQL was asked; lru stand_in: PostgreSQL did not answer, the LRU did; live_codes absent: a 404 from the set of live codes, no query; live_codes maybe: in the set, looked up; live_codes untrusted: the set loading, not listening or not fresh, looked up)",
      labelNames: ["tier", "result"] as const,
      registers: [registry],
    }),
    // Cluster URLs only (redirect/hedged-resolve.ts).
    redirectStandbyReads: withLabelsAtZero(new Counter({
      name: "linkfort_redirect_standby_reads_total",
      help: "Redirect lookups a standby was asked because the primary was slow or failed, by result: found (the standby's answer was served, uncached), unusable (missing, inactive or click-capped: the primary's answer or 503 instead), failed",
      labelNames: ["result"] as const,
      registers: [registry],
    }), "result", ["found", "unusable", "failed"]),
    cacheRedisRejected: new Counter({
      name: "linkfort_cache_redis_rejected_total",
      help: "Values read from the Redis tier that linkfort did not write (wrong shape, or a destination the API would refuse): treated as a miss and deleted",
      registers: [registry],
    }),
    cacheEntries: new Gauge({ name: "linkfort_cache_entries", help: "Short codes held in this instance's LRU", registers: [registry] }),
    cacheListening: new Gauge({
      name: "linkfort_cache_listening",
      help: "1 while the invalidation LISTEN connection is up and its last fence was heard; 0: the LRU answers only when PostgreSQL does not",
      registers: [registry],
    }),
    cacheInvalidations: withLabelsAtZero(new Counter({
      name: "linkfort_cache_invalidations_total",
      help: "Invalidations heard from PostgreSQL: codes evicted, flushes of the whole LRU, and LRU empties after the LISTEN connection came back",
      labelNames: ["kind"] as const,
      registers: [registry],
    }), "kind", ["code", "flush", "reconnect"]),
    cacheLiveCodes: new Gauge({ name: "linkfort_cache_live_codes", help: "Short codes in this instance's set of live codes (unknown codes answer 404 from it without a query)", registers: [registry] }),
    cacheLiveCodesReady: new Gauge({
      name: "linkfort_cache_live_codes_ready",
      help: "1 while the set of live codes is loaded and kept current; 0 while it loads or after the LISTEN connection dropped (unknown codes are looked up in PostgreSQL)",
      registers: [registry],
    }),
    cacheLiveCodesLoadSeconds: new Gauge({ name: "linkfort_cache_live_codes_load_seconds", help: "How long the last load of the set of live codes took", registers: [registry] }),
    cacheSettle: new Histogram({
      name: "linkfort_cache_settle_seconds",
      help: "How long a write waited after its commit until this instance heard its invalidation (capped at 0.1 s)",
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: "linkfort_rate_limited_total",
      help: "Requests refused with 429, by budget (redirect, read, write)",
      labelNames: ["budget"] as const,
      registers: [registry],
    }),
    bans: new Counter({
      name: "linkfort_bans_total",
      help: "Escalations, by level (warning: a counted violation; temporary; permanent)",
      labelNames: ["level"] as const,
      registers: [registry],
    }),
    ready: new Gauge({ name: "linkfort_ready", help: "1 while the instance accepts traffic, 0 while starting or draining", registers: [registry] }),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
