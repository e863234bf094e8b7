/**
 * Request id, access log and request metrics for every route, including errors and 404s.
 * Elysia's after-response hook does not see the status of a thrown error, so the error handler
 * records it here (`noteStatus`) and the access log reads it back. The redirect's fast path
 * (redirect/fast-path.ts) bypasses Elysia and calls the same observer itself.
 */
import { Elysia } from "elysia";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import { deferredGauge, tallies, type Tally } from "./tally.ts";

export interface RequestRecord {
  id: string;
  /** The id was made here (a UUIDv7, reused as the click id), not taken from the caller. */
  fresh: boolean;
  start: number;
  status?: number;
}

const records = new WeakMap<Request, RequestRecord>();
// Accept a caller's id only when it is short and printable, so logs cannot be forged or flooded.
const SAFE_REQUEST_ID = /^[\w.:@-]{1,128}$/;

export const requestIdOf = (request: Request): string | undefined => records.get(request)?.id;
export const noteStatus = (request: Request, status: number) => {
  const record = records.get(request);
  if (record) record.status = status;
};

type Timer = { observe(seconds: number): void };

/** One status of one method on one route: its request counter, its duration histogram child, and its access log level. */
interface Series {
  count: Tally;
  timer: Timer;
  log: Logger["info"];
}

// The supervisor and Caddy probe every instance several times a second: at info they were three
// quarters of the quick start's console. They stay in the metrics; their lines only at debug.
const PROBE_ROUTES: ReadonlySet<string> = new Set(["/ready", "/live"]);

export function createObserver(opts: { logger: Logger; metrics: Metrics; accessLog: boolean }) {
  const { logger, metrics, accessLog } = opts;
  // The request counter and the in-flight gauge add up in plain numbers until a scrape reads
  // them (tally.ts); the histogram's children are looked up once per label set.
  const requests = tallies(metrics.httpRequests);
  const inFlight = deferredGauge(metrics.httpInFlight);
  // route → method → status, so a request finds its series without building a key string.
  const byRoute = new Map<string, Map<string, Map<number, Series>>>();
  const seriesOf = (method: string, route: string, status: number): Series => {
    let byMethod = byRoute.get(route);
    if (!byMethod) byRoute.set(route, (byMethod = new Map()));
    let byStatus = byMethod.get(method);
    if (!byStatus) byMethod.set(method, (byStatus = new Map()));
    let series = byStatus.get(status);
    if (!series) {
      series = {
        count: requests.labels({ method, route, status: String(status) }),
        timer: metrics.httpDuration.labels(method, route, `${Math.floor(status / 100)}xx`),
        log: PROBE_ROUTES.has(route) ? logger.debug : logger.info,
      };
      byStatus.set(status, series);
    }
    return series;
  };

  return {
    /**
     * Starts a request: its id (the caller's when safe, else a UUIDv7: time-ordered, so as a
     * click id it appends to the receipts' primary key instead of landing on random pages)
     * and clock, and the in-flight gauge.
     */
    begin(request: Request): RequestRecord {
      const given = request.headers.get("x-request-id");
      const fresh = !given || !SAFE_REQUEST_ID.test(given);
      inFlight.inc();
      return { id: fresh ? Bun.randomUUIDv7() : given, fresh, start: performance.now() };
    },

    /**
     * Makes the record findable from the request (`requestIdOf`, `noteStatus`), as the error
     * renderer needs. The fast path calls it only when it renders an error, sparing every
     * redirect a WeakMap entry.
     */
    track(request: Request, record: RequestRecord): void {
      records.set(request, record);
    },

    /** Ends it: metrics by route template, and the access log line (a probe's at debug). */
    end(request: Request, record: RequestRecord, route: string, status: number, path?: string): void {
      inFlight.dec();
      const seconds = (performance.now() - record.start) / 1000;
      const series = seriesOf(request.method, route, status);
      series.count.inc();
      series.timer.observe(seconds);
      if (accessLog) {
        series.log("request", {
          request_id: record.id,
          method: request.method,
          route,
          path: path ?? new URL(request.url).pathname,
          status,
          duration_ms: Math.round(seconds * 10_000) / 10,
        });
      }
    },
  };
}

export type Observer = ReturnType<typeof createObserver>;

export function observe(observer: Observer) {
  return new Elysia({ name: "observe" })
    .onRequest(({ request, set }) => {
      const record = observer.begin(request);
      observer.track(request, record);
      set.headers["x-request-id"] = record.id;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const record = records.get(request);
      if (!record) return;
      const status = record.status ?? (responseValue instanceof Response ? responseValue.status : Number(set.status ?? 200));
      observer.end(request, record, route || "unmatched", status);
    });
}
