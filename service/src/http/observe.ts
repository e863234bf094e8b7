/**
 * Request id, access log and request metrics for every route, including errors and 404s.
 * Elysia's after-response hook does not see the status of a thrown error, so the error handler
 * records it here (`noteStatus`) and the access log reads it back.
 */
import { Elysia } from "elysia";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";

interface RequestRecord {
  id: string;
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

export function observe(opts: { logger: Logger; metrics: Metrics; accessLog: boolean }) {
  const { logger, metrics, accessLog } = opts;
  return new Elysia({ name: "observe" })
    .onRequest(({ request, set }) => {
      const given = request.headers.get("x-request-id");
      const id = given && SAFE_REQUEST_ID.test(given) ? given : crypto.randomUUID();
      records.set(request, { id, start: performance.now() });
      set.headers["x-request-id"] = id;
      metrics.httpInFlight.inc();
    })
    .onAfterResponse({ as: "global" }, ({ request, route, set, responseValue }) => {
      metrics.httpInFlight.dec();
      const record = records.get(request);
      if (!record) return;
      const status = record.status ?? (responseValue instanceof Response ? responseValue.status : Number(set.status ?? 200));
      const seconds = (performance.now() - record.start) / 1000;
      const template = route || "unmatched";
      metrics.httpRequests.inc({ method: request.method, route: template, status: String(status) });
      metrics.httpDuration.observe({ method: request.method, route: template, status_class: `${Math.floor(status / 100)}xx` }, seconds);
      if (accessLog) {
        logger.info("request", {
          request_id: record.id,
          method: request.method,
          route: template,
          path: new URL(request.url).pathname,
          status,
          duration_ms: Math.round(seconds * 10_000) / 10,
        });
      }
    });
}
