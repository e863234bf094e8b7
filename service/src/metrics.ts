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
    clicksRecorded: new Counter({ name: "linkfort_clicks_recorded_total", help: "Clicks handed to the click sink", registers: [registry] }),
    clicksWritten: new Counter({ name: "linkfort_clicks_written_total", help: "Clicks inserted into PostgreSQL", registers: [registry] }),
    clicksDropped: new Counter({
      name: "linkfort_clicks_dropped_total",
      help: "Clicks not written, by reason (buffer_full, link_deleted, rejected, shutdown, stopped)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }),
    clicksBuffered: new Gauge({ name: "linkfort_clicks_buffered", help: "Clicks waiting to be written", registers: [registry] }),
    clickFlushDuration: new Histogram({
      name: "linkfort_click_flush_duration_seconds",
      help: "Time to write one batch of clicks",
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    clicksFallback: withLabelsAtZero(new Counter({
      name: "linkfort_clicks_fallback_total",
      help: "Clicks that went to the in-process buffer instead of the click stream, by reason (unavailable: Redis down or failing; full: the stream holds CLICK_STREAM_MAXLEN entries)",
      labelNames: ["reason"] as const,
      registers: [registry],
    }), "reason", ["unavailable", "full"]),
    clickStreamClaimed: new Counter({
      name: "linkfort_click_stream_claimed_total",
      help: "Stream entries taken over from a consumer that stopped acking (XAUTOCLAIM)",
      registers: [registry],
    }),
    clickStreamAcked: new Counter({ name: "linkfort_click_stream_acked_total", help: "Stream entries acknowledged after their batch committed", registers: [registry] }),
    clickStreamTrimmed: new Counter({
      name: "linkfort_click_stream_trimmed_total",
      help: "Click stream entries deleted after every consumer group acknowledged them (clicks/trim.ts)",
      registers: [registry],
    }),
    cacheLookups: new Counter({
      name: "linkfort_cache_lookups_total",
      help: "Redirect cache lookups by tier (lru, redis, db) and result (hit, miss, error: Redis not answering)",
      labelNames: ["tier", "result"] as const,
      registers: [registry],
    }),
    cacheEntries: new Gauge({ name: "linkfort_cache_entries", help: "Short codes held in this instance's LRU", registers: [registry] }),
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
    // The click stream's backlog (clicks/backlog.ts), group-wide: every instance reports the same numbers.
    clickStreamPending: absentUntilSet(new Gauge({
      name: "linkfort_click_stream_pending",
      help: "Click stream entries read by the consumer group but not yet acknowledged (XPENDING); absent while Redis cannot be read",
      registers: [registry],
    })),
    clickStreamLag: absentUntilSet(new Gauge({
      name: "linkfort_click_stream_lag",
      help: "Click stream entries not yet read by the consumer group (XINFO GROUPS lag); absent before Redis 7 or when Redis cannot tell",
      registers: [registry],
    })),
    clickStreamOldestPendingAge: absentUntilSet(new Gauge({
      name: "linkfort_click_stream_oldest_pending_age_seconds",
      help: "Age of the oldest unacknowledged click stream entry, from its id (when it was added); 0 when none is pending",
      registers: [registry],
    })),
  };
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;
