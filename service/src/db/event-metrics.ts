/**
 * Gauges for id headroom and event partitions. The sequence gauge is read at scrape time from
 * pg_sequences (one cheap query; absent while the database is down); the partition gauges are
 * set by the partition job after each round it ran. While every pool connection is in use the
 * sequence query is skipped (the last values stay): it would hold the scrape up behind the others.
 */
import { Gauge } from "prom-client";
import type { Metrics } from "../metrics.ts";
import type { Sql } from "./client.ts";
import type { PartitionObserver } from "./event-partitions.ts";
import { poolSaturated } from "./pool-usage.ts";

export function registerEventMetrics(metrics: Metrics, sql: Sql): PartitionObserver {
  // Exported at 0 from the start, so the SequenceExhausted alert's increase() has a series to watch.
  metrics.dbErrors.inc({ kind: "sequence_exhausted" }, 0);
  new Gauge({
    name: "linkfort_db_sequence_used_ratio",
    help: "Fraction of each id sequence's range already handed out (0 unused, 1 exhausted: inserts fail with SQLSTATE 2200H)",
    labelNames: ["sequence"] as const,
    registers: [metrics.registry],
    async collect() {
      if (poolSaturated(sql)) return;
      try {
        const rows = await sql<{ sequence: string; ratio: number }[]>`
          select sequencename as sequence,
            (coalesce(last_value, min_value - 1) - min_value + 1)::float8 / (max_value - min_value + 1)::float8 as ratio
          from pg_sequences where schemaname = current_schema()`;
        this.reset();
        for (const row of rows) this.set({ sequence: row.sequence }, row.ratio);
      } catch {
        // Database down: absent from this scrape; db errors are counted elsewhere.
      }
    },
  });
  const monthsAhead = new Gauge({
    name: "linkfort_event_partitions_ahead_months",
    help: "Monthly partitions of events that exist after the current month, as the partition job last saw",
    registers: [metrics.registry],
  });
  monthsAhead.remove();
  const remaining = new Gauge({
    name: "linkfort_event_conversion_remaining_ids",
    help: "Ids of the pre-0003 events table still to copy into the partitioned one; 0 when none is pending",
    registers: [metrics.registry],
  });
  return {
    observe(report) {
      monthsAhead.set(report.monthsAhead);
      remaining.set(report.conversionRemaining);
    },
  };
}
