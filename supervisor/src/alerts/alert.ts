/**
 * What the rest of the supervisor hands to the alerting part. Producers (watcher, backups)
 * only call `raise` / `resolve`; dedup, rate limits, retries and Discord live behind this.
 * Neither call may block or throw: alert delivery never slows the health loop.
 */
export type Severity = "critical" | "warning" | "info";

export interface Alert {
  /** Stable identity for dedup and resolution, e.g. "instance-down:8082", "backup-failed". */
  key: string;
  severity: Severity;
  title: string;
  detail: string;
}

export interface Alerter {
  /** A condition started (or is still true): sent unless the same key was sent within the dedup window. */
  raise(alert: Alert): void;
  /** The condition cleared: sends one "resolved" message if `key` had been raised. */
  resolve(key: string, detail?: string): void;
}

/** For tests and for parts that run without alerts. */
export const noAlerts: Alerter = { raise() {}, resolve() {} };
