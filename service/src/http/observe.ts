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
  /** The id was made here (a random UUID), not taken from the caller. */
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

export function createObserver(opts: { logger: Logger; metrics: Metrics; accessLog: boolean }) {
  const { logger, metrics, accessLog } = opts;
  // The request counter and the in-flight gauge add up in plain numbers until a scrape reads
  // them (tally.ts); the histogram's children are looked up once per label set.
  const requests = tallies(metrics.httpRequests);
  const inFlight = deferredGauge(metrics.httpInFlight);
  const counters = new Map<string, Tally>();
  const timers = new Map<string, Timer>();
  const counter = (method: string, route: string, status: number) => {
    const key = `${method} ${route} ${status}`;
    let child = counters.get(key);
    if (!child) counters.set(key, (child = requests.labels({ method, route, status: String(status) })));
    return child;
  };
  const timer = (method: string, route: string, statusClass: string) => {
    const key = `${method} ${route} ${statusClass}`;
    let child = timers.get(key);
    if (!child) timers.set(key, (child = metrics.httpDuration.labels(method, route, statusClass)));
    return child;
  };

  return {
    /** Starts a request: its id (the caller's when safe) and clock, and the in-flight gauge. */
    begin(request: Request): RequestRecord {
      const given = request.headers.get("x-request-id");
      const fresh = !given || !SAFE_REQUEST_ID.test(given);
      const record: RequestRecord = { id: fresh ? crypto.randomUUID() : given, fresh, start: performance.now() };
      records.set(request, record);
      inFlight.inc();
      return record;
    },

    /** Ends it: metrics by route template, and the access log line. */
    end(request: Request, record: RequestRecord, route: string, status: number, path?: string): void {
      inFlight.dec();
      const seconds = (performance.now() - record.start) / 1000;
      counter(request.method, route, status).inc();
      timer(request.method, route, `${Math.floor(status / 100)}xx`).observe(seconds);
      if (accessLog) {
        logger.info("request", {
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
      set.headers["x-request-id"] = observer.begin(request).id;
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      const record = records.get(request);
      if (!record) return;
      const status = record.status ?? (responseValue instanceof Response ? responseValue.status : Number(set.status ?? 200));
      observer.end(request, record, route || "unmatched", status);
    });
}
