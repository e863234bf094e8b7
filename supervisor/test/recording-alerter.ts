/**
 * An in-memory Alerter that records every call, for tests of the parts that raise alerts. It is
 * our own interface (alerts/alert.ts), not an external system; the Discord path has its own tests.
 */
import type { Alert, Alerter } from "../src/alerts/alert.ts";

export interface AlertCall {
  kind: "raise" | "resolve";
  key: string;
  severity?: Alert["severity"];
  detail?: string;
  /** Unix ms of the call. */
  at: number;
}

export interface RecordingAlerter extends Alerter {
  calls: AlertCall[];
  raised(key: string): AlertCall[];
  resolved(key: string): AlertCall[];
}

export function recordingAlerter(): RecordingAlerter {
  const calls: AlertCall[] = [];
  return {
    calls,
    raise(alert) { calls.push({ kind: "raise", key: alert.key, severity: alert.severity, detail: alert.detail, at: Date.now() }); },
    resolve(key, detail) { calls.push({ kind: "resolve", key, detail, at: Date.now() }); },
    raised: (key) => calls.filter((c) => c.kind === "raise" && c.key === key),
    resolved: (key) => calls.filter((c) => c.kind === "resolve" && c.key === key),
  };
}
