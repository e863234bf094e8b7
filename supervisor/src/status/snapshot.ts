/** What /status returns and `linkfort-supervisor status` prints: the supervisor's whole state. */
export type InstanceStatus = "starting" | "ready" | "unhealthy" | "restarting" | "backoff" | "stopped";

export interface InstanceSnapshot {
  port: number;
  state: InstanceStatus;
  pid: number | null;
  /** Seconds since this process (or unit) was started; null when not running. */
  uptime_seconds: number | null;
  restarts: number;
  consecutive_failures: number;
  last_error: string | null;
  last_probe_ms: number | null;
  rss_bytes: number | null;
  /** Clicks on the instance's disk not yet in PostgreSQL (its /health); null when not known. */
  spool: SpoolSnapshot | null;
  /**
   * The release the instance runs, as its /health reports it (control characters removed, at
   * most 64 characters); null when not known: not ready, no answer, no such field. Differs from
   * the snapshot's `version` (the supervisor's) during a rolling deploy or after a failed one.
   */
  version: string | null;
}

/** An instance's click spool as its /health reports it. */
export interface SpoolSnapshot {
  bytes: number;
  /** null until the instance read its committed position from PostgreSQL. */
  unshipped_clicks: number | null;
  oldest_unshipped_age_seconds: number;
}

export interface BackupSnapshot {
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
  last_duration_seconds: number | null;
  last_size_bytes: number | null;
  /** source: "host:port primary|standby" the dump was read from; null when its sidecar does not say (older backups). */
  files: { name: string; size_bytes: number; created_at: string; verified: boolean; source?: string | null }[];
  next_run_at: string | null;
}

/** One message the alerter produced (a raise that was not deduplicated, or its "resolved"). */
export interface AlertSnapshot {
  /** ISO time the alert was raised or resolved. */
  at: string;
  key: string;
  severity: string;
  title: string;
  /** True for the "resolved" message that cleared `key`. */
  resolved: boolean;
  /** The webhook accepted it; false while queued, after a drop, or with no webhook set. */
  delivered: boolean;
}

export interface StatusSnapshot {
  version: string;
  runner: "process" | "systemd";
  uptime_seconds: number;
  instances: InstanceSnapshot[];
  backups: BackupSnapshot;
  /** recent: newest first, bounded; queued counts a request in flight. */
  alerts: { recent: AlertSnapshot[]; sent: number; dropped: number; queued: number };
}
