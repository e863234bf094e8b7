/**
 * Turns anything a request can throw into the contract's `{"error", "message"}` JSON:
 * our ApiErrors as they are, Elysia's validation / parse / not-found errors as 400 / 404 / 405,
 * PostgreSQL errors by SQLSTATE (so a constraint that validation missed is still a 4xx), and
 * the rest as a fixed 500 that is logged with the request id and never shows a stack.
 */
import { ValidationError } from "elysia";
import type { Logger } from "../lib/logger.ts";
import type { Metrics } from "../metrics.ts";
import { driverError, isServerError } from "../db/errors.ts";
import { NO_PRIMARY } from "../db/primary.ts";
import { ApiError, jsonResponse } from "./errors.ts";
import { noteStatus, requestIdOf } from "./observe.ts";

export interface RouteInfo {
  method: string;
  path: string;
}

interface ErrorContext {
  code: string | number;
  error: unknown;
  request: Request;
}

export function createErrorRenderer(opts: { logger: Logger; metrics: Metrics; routes: () => readonly RouteInfo[] }) {
  const allowed = allowedMethodsFinder(opts.routes);
  return ({ code, error, request }: ErrorContext): Response => {
    const response = toResponse(code, error, request, allowed, opts);
    noteStatus(request, response.status);
    return response;
  };
}

function toResponse(
  code: string | number,
  error: unknown,
  request: Request,
  allowed: (path: string) => string[],
  opts: { logger: Logger; metrics: Metrics },
): Response {
  if (error instanceof ApiError) return jsonResponse(error.status, error.body(), error.headers);
  // Elysia wraps whatever a parse hook throws in a ParseError; our own (413, 400 with a reason) keep their status.
  const cause = error instanceof Error ? error.cause : undefined;
  if (code === "PARSE" && cause instanceof ApiError) return jsonResponse(cause.status, cause.body(), cause.headers);
  if (code === "VALIDATION" && error instanceof ValidationError) return validationResponse(error, request);
  if (code === "PARSE") return jsonResponse(400, { error: "Bad Request", message: "request body could not be parsed" });
  if (code === "NOT_FOUND") {
    const path = new URL(request.url).pathname;
    const methods = allowed(path);
    if (methods.length > 0 && !methods.includes(request.method)) {
      return jsonResponse(405, { error: "Method Not Allowed", message: `${request.method} is not allowed on ${path}` }, { Allow: methods.join(", ") });
    }
    return jsonResponse(404, { error: "Not Found", message: `no route for ${request.method} ${path}` });
  }
  const db = fromPostgres(error);
  if (db) {
    opts.metrics.dbErrors.inc({ kind: db.kind });
    if (db.kind === "sequence_exhausted") opts.logger.error("an id sequence is exhausted: see docs/RUNBOOK.md", { request_id: requestIdOf(request), error });
    else if (db.status >= 500) opts.logger.warn("database unavailable", { request_id: requestIdOf(request), error });
    return jsonResponse(db.status, db.body, db.headers);
  }
  opts.logger.error("unhandled error", { request_id: requestIdOf(request), code: String(code), error });
  return jsonResponse(500, { error: "Internal Server Error", message: "something unexpected happened; the request id is in the X-Request-ID header" });
}

function validationResponse(error: ValidationError, request: Request): Response {
  // A path segment that does not decode (bad percent-encoding) names nothing that can exist.
  if (error.type === "params") return jsonResponse(404, { error: "Not Found", message: `nothing found at ${new URL(request.url).pathname}` });
  const fields = error.all.map((e) => ({
    field: "path" in e && e.path ? e.path.replace(/^\//, "").replaceAll("/", ".") : "",
    // A schema may carry its own readable `error` text (say, instead of a raw regex).
    message: typeof e.schema.error === "string" ? e.schema.error : "summary" in e && e.summary ? e.summary : e.message,
  }));
  const first = fields[0];
  const where = error.type === "body" && error.value === undefined ? "request body must be a JSON object" : undefined;
  const message = where ?? (first ? `${error.type}${first.field ? ` field '${first.field}'` : ""}: ${first.message}` : `invalid ${error.type}`);
  return jsonResponse(400, { error: "Bad Request", message, fields });
}

interface DbFailure {
  kind: string;
  status: number;
  body: { error: string; message: string };
  headers?: Record<string, string>;
}

const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "CONNECT_TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "EPIPE", "ETIMEDOUT", NO_PRIMARY]);

/** Classifies postgres.js errors by SQLSTATE or connection code; undefined when it is not one. */
export function fromPostgres(thrown: unknown): DbFailure | undefined {
  const error = driverError(thrown);
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  const isPg = isServerError(error);
  if (isPg && code === "23505") return { kind: "unique", status: 409, body: { error: "Conflict", message: "a record with the same unique value already exists" } };
  if (isPg && code === "23503") return { kind: "foreign_key", status: 404, body: { error: "Not Found", message: "a referenced record does not exist" } };
  // Before class 22: an exhausted id sequence is the server's limit, not the client's data.
  if (isPg && code === "2200H") {
    return { kind: "sequence_exhausted", status: 500, body: { error: "Internal Server Error", message: "the database cannot assign new ids; operators have been alerted" } };
  }
  if (isPg && code.startsWith("22")) return { kind: "data", status: 400, body: { error: "Bad Request", message: "a value was not acceptable to the database" } };
  // A deadlock or a serialization failure is a collision with another writer, not the client's
  // mistake and no outage: the same request succeeds when sent again.
  if (isPg && (code === "40P01" || code === "40001")) {
    return { kind: "unavailable", status: 503, body: { error: "Service Unavailable", message: "the write collided with another one; send it again" }, headers: { "Retry-After": "1" } };
  }
  // lock_timeout: another session holds what this statement needs (a migration, a long
  // transaction); failing in DB_LOCK_TIMEOUT_MS keeps requests from piling up behind it.
  if (isPg && code === "55P03") {
    return { kind: "locked", status: 503, body: { error: "Service Unavailable", message: "the data this request needs is locked by another database session; try again shortly" }, headers: { "Retry-After": "1" } };
  }
  // Class 53, insufficient resources: no connection slot left (53300), out of memory, disk full.
  // The server's trouble, not the client's; a retry may well succeed.
  if (isPg && code.startsWith("53")) {
    return { kind: "resources", status: 503, body: { error: "Service Unavailable", message: "the database is out of resources (connections, memory or disk); try again shortly" }, headers: { "Retry-After": "5" } };
  }
  // deploy/patch-postgres.ts's queue timeout: no connection of the pool came free (all busy, or
  // opening towards a server that does not answer) within DB_QUEUE_TIMEOUT_MS; the request never ran.
  if (code === "QUEUE_TIMEOUT") {
    return { kind: "unavailable", status: 503, body: { error: "Service Unavailable", message: "the database did not answer in time; try again shortly" }, headers: { "Retry-After": "5" } };
  }
  // 25006 read_only_sql_transaction: the statement reached a standby or a demoted primary during a
  // failover (db/primary.ts closes that server's connections); the next attempt finds the new primary.
  if ((isPg && (code === "57014" || code.startsWith("08") || code === "57P01" || code === "57P03" || code === "25006")) || CONNECTION_CODES.has(code)) {
    return {
      kind: "unavailable",
      status: 503,
      body: { error: "Service Unavailable", message: "the database is not answering; try again shortly" },
      headers: { "Retry-After": "5" },
    };
  }
  return undefined;
}

/** Which methods are routed for a path, so an unmatched method can be told apart (405) from an unknown path (404). */
function allowedMethodsFinder(routes: () => readonly RouteInfo[]) {
  let compiled: { method: string; pattern: RegExp }[] | undefined;
  return (path: string): string[] => {
    compiled ??= routes()
      .filter((r) => r.method !== "ALL")
      .map((r) => ({ method: r.method, pattern: new RegExp(`^${r.path.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/:[^/]+/g, "[^/]+").replace(/\*/g, ".*")}/?$`) }));
    return [...new Set(compiled.filter((r) => r.pattern.test(path)).map((r) => r.method))];
  };
}
