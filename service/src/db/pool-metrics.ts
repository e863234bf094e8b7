/**
 * PostgreSQL connection gauges, all read at scrape time. The pool's own view (pool-usage.ts:
 * connections in use, queries waiting) costs nothing per query. The server's view
 * (pg_stat_activity for this instance's application_name) costs one query per scrape, skipped
 * while every connection is in use: that query would wait behind the ones that saturate the
 * pool and hold the scrape up exactly when the numbers matter. A scrape while the database is
 * down just omits it.
 */
import { Gauge } from "prom-client";
import type { Metrics } from "../metrics.ts";
import type { Sql } from "./client.ts";
import { inUse, poolSaturated, poolUsage, type PoolUsage } from "./pool-usage.ts";

export function registerPoolMetrics(metrics: Metrics, sql: Sql, applicationName: string): void {
  // Registered first: prom-client collects in registration order, so these read the pool before
  // the pg_stat_activity query below takes a connection of its own.
  const poolGauge = (name: string, help: string, read: (usage: PoolUsage) => number) => new Gauge({
    name, help, registers: [metrics.registry],
    collect() {
      const usage = poolUsage(sql);
      if (usage) this.set(read(usage));
      else this.remove();
    },
  });
  poolGauge("linkfort_db_pool_in_use_connections",
    "Connections of this instance's PostgreSQL pool in use: running a query, held by a transaction or reservation, or opening for a waiting query (of linkfort_db_pool_max_connections)",
    inUse);
  poolGauge("linkfort_db_pool_waiting_requests",
    "Queries and reservations queued for a connection of this instance's PostgreSQL pool because none was free",
    (usage) => usage.waiting);
  new Gauge({
    name: "linkfort_db_connections",
    help: "This instance's PostgreSQL connections by state (active, idle, idle in transaction, …)",
    labelNames: ["state"] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
      if (poolSaturated(sql)) return;
      try {
        const rows = await sql<{ state: string | null; n: number }[]>`
          select state, count(*)::int as n from pg_stat_activity
          where application_name = ${applicationName} and datname = current_database() and pid <> pg_backend_pid()
          group by state`;
        for (const row of rows) this.set({ state: row.state ?? "unknown" }, row.n);
      } catch {
        // Database down: the gauge is simply absent from this scrape; db errors are counted elsewhere.
      }
    },
  });
}
