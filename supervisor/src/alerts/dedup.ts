/**
 * Which alert keys are raised, and when each was last accepted for sending. A producer may call
 * `raise` on every failed probe; only the first in each window goes out, and `resolve` only
 * answers a key that is raised.
 */
import type { Alert } from "./alert.ts";

export interface Dedup {
  /** True when this raise should be sent: the key is new, or its last send is `dedupMs` old. */
  shouldSend(alert: Alert): boolean;
  /** The raised alert under `key`, forgotten here so the next raise sends at once; undefined if none. */
  clear(key: string): Alert | undefined;
}

/** `dedupMs`: ALERT_DEDUP_MS (default 10 min); `now`: the clock, injectable for tests (Unix ms). */
export function createDedup(dedupMs: number, now: () => number): Dedup {
  // Keys are bounded by the producers (a few kinds times the instance ports), so no eviction.
  const raised = new Map<string, { alert: Alert; sentAt: number }>();
  return {
    shouldSend(alert) {
      const t = now();
      const entry = raised.get(alert.key);
      if (entry && t - entry.sentAt < dedupMs) {
        entry.alert = alert;
        return false;
      }
      raised.set(alert.key, { alert, sentAt: t });
      return true;
    },
    clear(key) {
      const entry = raised.get(key);
      raised.delete(key);
      return entry?.alert;
    },
  };
}
