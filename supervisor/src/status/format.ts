/** Human forms of the snapshot's numbers, shared by the status page and the CLI table. */

/** 0 → "0s", 75 → "1m 15s", 3725 → "1h 02m", 200000 → "2d 07h"; null → "-". */
export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86_400)}d ${pad(Math.floor((s % 86_400) / 3600))}h`;
}

/** Binary units, one decimal from KiB up: 1536 → "1.5 KiB"; null → "-". */
export function formatBytes(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A spool backlog: "1.2k clicks, oldest 3m 05s", "0" when shipped, "-" unknown. */
export function formatSpool(spool: { unshipped_clicks: number | null; oldest_unshipped_age_seconds: number } | null): string {
  if (spool === null || spool.unshipped_clicks === null) return "-";
  if (spool.unshipped_clicks === 0) return "0";
  const n = spool.unshipped_clicks;
  const count = n >= 1_000_000 ? `${(n / 1_000_000).toFixed(1)}M` : n >= 1_000 ? `${(n / 1_000).toFixed(1)}k` : String(n);
  return `${count} clicks, oldest ${formatDuration(spool.oldest_unshipped_age_seconds)}`;
}

/** Probe time in ms, whole below 10: 3 → "3 ms", 0.42 → "0.4 ms". */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return "-";
  return `${ms < 10 ? Math.round(ms * 10) / 10 : Math.round(ms)} ms`;
}

/**
 * The instance runs another release than the supervisor: a rolling deploy under way (the
 * supervisor is restarted last) or one that stopped halfway. Unknown (null) is not a difference.
 */
export function runsOtherRelease(instanceVersion: string | null, supervisorVersion: string): boolean {
  return instanceVersion !== null && instanceVersion !== supervisorVersion;
}
