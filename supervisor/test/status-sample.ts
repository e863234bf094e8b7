/** A StatusSnapshot with every kind of value, for the status server, page and table tests. */
import type { StatusSnapshot } from "../src/status/snapshot.ts";

export function sampleSnapshot(): StatusSnapshot {
  return {
    version: "0.1.0",
    runner: "process",
    uptime_seconds: 3725,
    instances: [
      { port: 8081, state: "ready", pid: 4242, uptime_seconds: 3700, restarts: 0, consecutive_failures: 0, last_error: null, last_probe_ms: 2.4, rss_bytes: 54_525_952, spool: { bytes: 4_096, unshipped_clicks: 1_250, oldest_unshipped_age_seconds: 185 }, version: "0.1.0" },
      { port: 8082, state: "backoff", pid: null, uptime_seconds: null, restarts: 4, consecutive_failures: 3, last_error: "<script>alert(1)</script>\u001b[31m red", last_probe_ms: null, rss_bytes: null, spool: null, version: null },
      { port: 8083, state: "starting", pid: 4301, uptime_seconds: 2, restarts: 1, consecutive_failures: 0, last_error: "exit code 1", last_probe_ms: 812, rss_bytes: 31_457_280, spool: { bytes: 180, unshipped_clicks: 0, oldest_unshipped_age_seconds: 0 }, version: "0.2.0-rc.1" },
    ],
    backups: {
      last_success_at: "2025-01-02T03:00:04.120Z",
      last_failure_at: null,
      last_error: null,
      last_duration_seconds: 4,
      last_size_bytes: 1_572_864,
      files: [{ name: "linkfort-20250102T030000Z.dump", size_bytes: 1_572_864, created_at: "2025-01-02T03:00:04.120Z", verified: true, source: "db2:5432 standby" }],
      next_run_at: "2025-01-03T03:00:00.000Z",
    },
    alerts: {
      recent: [
        { at: "2025-01-02T10:15:00.000Z", key: "instance-down:8082", severity: "critical", title: "Instance 8082 is down", resolved: false, delivered: true },
        { at: "2025-01-02T09:00:00.000Z", key: "backup-old", severity: "warning", title: "Backup <older> than 26 h", resolved: true, delivered: false },
      ],
      sent: 7,
      dropped: 1,
      queued: 0,
    },
  };
}
