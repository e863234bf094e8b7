/**
 * Every Prometheus metric of the supervisor, built per daemon (no global registry) so tests can
 * run several. Names: linkfort_supervisor_<area>_<name>_<unit>; labels are ports and reasons.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { stdoutLogStats } from "../../service/src/lib/logger.ts";

export function createSupervisorMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "linkfort_supervisor_" });
  const opts = { registers: [registry] };
  return {
    registry,
    instanceUp: new Gauge({ ...opts, name: "linkfort_supervisor_instance_up", help: "1 when the instance's last probe passed", labelNames: ["port"] as const }),
    instanceRestarts: new Counter({ ...opts, name: "linkfort_supervisor_instance_restarts_total", help: "Restarts the supervisor made, by port and reason", labelNames: ["port", "reason"] as const }),
    probeDuration: new Histogram({
      ...opts, name: "linkfort_supervisor_probe_duration_seconds", help: "Time of each /ready probe", labelNames: ["port"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    }),
    instanceRss: new Gauge({ ...opts, name: "linkfort_supervisor_instance_rss_bytes", help: "Resident memory of each instance", labelNames: ["port"] as const }),
    backupLastSuccess: new Gauge({ ...opts, name: "linkfort_supervisor_backup_last_success_timestamp_seconds", help: "Unix time of the newest good backup" }),
    backupDuration: new Gauge({ ...opts, name: "linkfort_supervisor_backup_last_duration_seconds", help: "How long the last backup took" }),
    backupSize: new Gauge({ ...opts, name: "linkfort_supervisor_backup_last_size_bytes", help: "Size of the last good backup" }),
    backupFailures: new Counter({ ...opts, name: "linkfort_supervisor_backup_failures_total", help: "Backups or verifications that failed, by stage", labelNames: ["stage"] as const }),
    alertsSent: new Counter({ ...opts, name: "linkfort_supervisor_alerts_sent_total", help: "Alerts delivered, by severity", labelNames: ["severity"] as const }),
    alertsDropped: new Counter({ ...opts, name: "linkfort_supervisor_alerts_dropped_total", help: "Alerts not delivered, by reason (queue_full, failed)", labelNames: ["reason"] as const }),
    alertsSuppressed: new Counter({ ...opts, name: "linkfort_supervisor_alerts_suppressed_total", help: "Alerts not sent because the same key was sent within the dedup window" }),
    // Above 0 for long: nobody reads stdout (journald stalled); past 4 MiB lines are dropped (log_lines_dropped).
    stdoutHeld: new Gauge({
      ...opts, name: "linkfort_supervisor_stdout_held_bytes", help: "Log bytes waiting for a stdout that does not take them",
      collect() { this.set(stdoutLogStats().heldBytes); },
    }),
  };
}

export type SupervisorMetrics = ReturnType<typeof createSupervisorMetrics>;
