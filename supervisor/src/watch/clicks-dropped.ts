/**
 * @module The "clicks dropped" alert without Prometheus. The console already reads every
 * instance's /metrics (console/signals.ts); each reading comes here, and when
 * linkfort_clicks_dropped_total{reason} grew on an instance, one alert is raised for that instance
 * and reason, with the count. It resolves once that counter has stood still for `quietMs` of
 * readings (CLICKS_DROPPED_QUIET_MS), with the episode's total. Raised and resolved only when the
 * condition flips, so a disk full for an hour is one alert per instance, not one per reading.
 * The reasons are the ClicksDropped Prometheus rule's: all but link_deleted (a click whose link
 * was deleted while it waited in the spool is expected).
 */
import type { Alerter } from "../alerts/alert.ts";
import type { Sample } from "../console/prometheus-text.ts";

export const DROPPED_COUNTER = "linkfort_clicks_dropped_total";
const EXPECTED = new Set(["link_deleted"]);

export const clicksDroppedKey = (port: number, reason: string) => `clicks-dropped:${port}:${reason}`;

/** What each reason means for the operator (the service's metric help says the same). */
const WHY: Record<string, string> = {
  disk_full: "the filesystem holding the click spool is full",
  spool_full: "the click spool reached CLICK_SPOOL_MAX_BYTES (PostgreSQL has not taken clicks for a while)",
  unwritable: "the click spool cannot be written (permissions, I/O error)",
  stopped: "clicks arrived after the instance began shutting down",
  unreadable: "spool lines that are no click",
  rejected: "PostgreSQL refused them",
};

interface Episode { port: number; reason: string; raisedAt: number; lastGrowthAt: number; dropped: number }

export interface ClicksDroppedOptions {
  alerter: Alerter;
  /** CLICKS_DROPPED_QUIET_MS: readings without growth for this long resolve the alert (ms). */
  quietMs: number;
  /** Clock (Unix ms); default Date.now. */
  now?: () => number;
}

export type ClicksDroppedAlerts = ReturnType<typeof createClicksDroppedAlerts>;

export function createClicksDroppedAlerts(opts: ClicksDroppedOptions) {
  const now = opts.now ?? Date.now;
  /** The counter's last value per `port:reason`; kept while an instance does not answer, so a restart's new drops still count. */
  const last = new Map<string, number>();
  const open = new Map<string, Episode>();

  const grew = (port: number, reason: string, dropped: number, t: number) => {
    const key = clicksDroppedKey(port, reason);
    const episode = open.get(key);
    if (episode) {
      episode.dropped += dropped;
      episode.lastGrowthAt = t;
      return;
    }
    open.set(key, { port, reason, raisedAt: t, lastGrowthAt: t, dropped });
    opts.alerter.raise({
      key, severity: "warning", title: `Instance ${port} dropped clicks (${reason})`,
      detail: `${dropped} clicks not kept since the previous reading: ${WHY[reason] ?? reason}. Redirects are still served; these clicks are lost.`,
    });
  };

  return {
    /** One reading of `port`'s /metrics; null when it did not answer (nothing is known, so nothing resolves). */
    observe(port: number, samples: readonly Sample[] | null): void {
      if (!samples) return;
      const t = now();
      for (const s of samples) {
        const reason = s.labels.reason;
        if (s.name !== DROPPED_COUNTER || reason === undefined || EXPECTED.has(reason)) continue;
        const id = `${port}:${reason}`;
        const before = last.get(id);
        last.set(id, s.value);
        // The first reading is the baseline: what an instance dropped before the supervisor watched it is not news.
        if (before === undefined) continue;
        // A counter that went down belongs to a new process, which counts from 0 again.
        const dropped = s.value >= before ? s.value - before : s.value;
        if (dropped > 0) grew(port, reason, dropped, t);
      }
      for (const [key, e] of open) {
        if (e.port !== port || t - e.lastGrowthAt < opts.quietMs) continue;
        open.delete(key);
        opts.alerter.resolve(key, `instance ${port}: no click dropped (${e.reason}) for ${Math.round(opts.quietMs / 1000)} s; ${e.dropped} dropped in all over ${Math.round((e.lastGrowthAt - e.raisedAt) / 1000)} s`);
      }
    },
  };
}
