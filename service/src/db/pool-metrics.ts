/**
 * PostgreSQL connection gauges. postgres.js keeps its pool state private, so the numbers come
 * from the server's view (pg_stat_activity) of this instance's application_name, read at scrape
 * time: one cheap query per scrape, and a scrape while the database is down just omits them.
 */
import { Gauge } from "prom-client";
import type { Metrics } from "../metrics.ts";
import type { Sql } from "./client.ts";

export function registerPoolMetrics(metrics: Metrics, sql: Sql, applicationName: string): void {
  new Gauge({
    name: "linkfort_db_connections",
    help: "This instance's PostgreSQL connections by state (active, idle, idle in transaction, …)",
    labelNames: ["state"] as const,
    registers: [metrics.registry],
    async collect() {
      this.reset();
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
