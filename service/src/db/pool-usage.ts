/**
 * How busy this instance's postgres.js pool is, from the pool's own queues. postgres.js 3.4.9
 * keeps them private; deploy/patch-postgres.ts (npm install's postinstall) adds a function that
 * returns their lengths. Reading it costs nothing on the query path: it is called per scrape.
 * Without the patch (node_modules installed with --ignore-scripts, another postgres.js) there is
 * no reading and the gauges built on it are absent; pool-usage.test.ts fails in that case.
 */
import type { Sql } from "./client.ts";

/** Connections of one pool by what they do now, and the queries waiting for one. */
export interface PoolUsage {
  /** Open and free. */
  idle: number;
  /** Running queries (one, or several pipelined). */
  busy: number;
  /** Held by a transaction (`sql.begin`) or a `sql.reserve()` caller, running a query or not. */
  reserved: number;
  /** Opening, for a query that is waiting on it. */
  connecting: number;
  /** Queries and reservations queued: no connection was free, could be opened, or could take one more. */
  waiting: number;
}

const FIELDS = ["idle", "busy", "reserved", "connecting", "waiting"] as const;

function isUsage(value: unknown): value is PoolUsage {
  return typeof value === "object" && value !== null && FIELDS.every((k) => Number.isInteger((value as Record<string, unknown>)[k]));
}

/** The pool's usage now; undefined when this postgres.js does not carry the patch. */
export function poolUsage(sql: Sql): PoolUsage | undefined {
  const read = (sql as unknown as { linkfortPoolCounts?: unknown }).linkfortPoolCounts;
  if (typeof read !== "function") return undefined;
  const usage: unknown = read();
  return isUsage(usage) ? usage : undefined;
}

/** Connections that are not free for the next query: busy, reserved or opening for a waiting one. */
export const inUse = (u: PoolUsage): number => u.busy + u.reserved + u.connecting;

/**
 * True when a query sent now would queue: every connection in use. Scrape-time queries skip
 * themselves then, so /metrics answers (with the pool gauges) while the pool is saturated.
 */
export function poolSaturated(sql: Sql): boolean {
  const usage = poolUsage(sql);
  return usage !== undefined && inUse(usage) >= sql.options.max;
}
