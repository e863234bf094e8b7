/**
 * `linkfort-supervisor status` as plain text: the same snapshot /status serves, as aligned
 * tables for a terminal. A pure function, so the CLI and the tests call it alike.
 */
import { formatBytes, formatDuration, formatMs, formatSpool, runsOtherRelease } from "./format.ts";
import type { StatusSnapshot } from "./snapshot.ts";

const LAST_ERROR_MAX = 60;
const TITLE_MAX = 50;
const VERSION_MAX = 24;

// Values come from child processes and servers; a raw escape sequence in a last_error must not
// drive the operator's terminal, and a newline must not break the table.
export function plain(value: string | number | boolean | null, max = Infinity): string {
  if (value === null || value === "") return "-";
  const text = String(value).replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ").trim();
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Columns padded to their widest cell, two spaces apart; the last column is not padded. */
export function textTable(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return "  (none)";
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** The instance's release, starred when it is not the supervisor's (the footnote says so). */
const versionCell = (version: string | null, supervisor: string) => `${plain(version, VERSION_MAX)}${runsOtherRelease(version, supervisor) ? " *" : ""}`;

function instances(s: StatusSnapshot): string {
  const table = textTable(
    ["PORT", "STATE", "VERSION", "PID", "UPTIME", "RESTARTS", "FAILS", "PROBE", "RSS", "SPOOL", "LAST ERROR"],
    s.instances.map((i) => [
      String(i.port), plain(i.state), versionCell(i.version, s.version), plain(i.pid), formatDuration(i.uptime_seconds), String(i.restarts),
      String(i.consecutive_failures), formatMs(i.last_probe_ms), formatBytes(i.rss_bytes), formatSpool(i.spool), plain(i.last_error, LAST_ERROR_MAX),
    ]),
  );
  const other = s.instances.some((i) => runsOtherRelease(i.version, s.version));
  return other ? `${table}\n* not the supervisor's release (${plain(s.version, VERSION_MAX)}): a rolling deploy under way, or one that stopped` : table;
}

function backups(s: StatusSnapshot): string {
  const b = s.backups;
  const summary = ([
    ["last success", `${plain(b.last_success_at)}${b.last_success_at ? ` (took ${formatDuration(b.last_duration_seconds)}, ${formatBytes(b.last_size_bytes)})` : ""}`],
    ["last failure", `${plain(b.last_failure_at)}${b.last_error ? `: ${plain(b.last_error, LAST_ERROR_MAX)}` : ""}`],
    ["next run", plain(b.next_run_at)],
  ] as const).map(([label, value]) => `${label.padEnd(12)}  ${value}`).join("\n");
  const files = textTable(
    ["FILE", "SIZE", "CREATED", "VERIFIED", "FROM"],
    b.files.map((f) => [plain(f.name), formatBytes(f.size_bytes), plain(f.created_at), f.verified ? "yes" : "no", plain(f.source ?? null)]),
  );
  return `${summary}\n\n${files}`;
}

function alerts(s: StatusSnapshot): string {
  return textTable(
    ["AT", "SEVERITY", "KEY", "TITLE", "MESSAGE", "DELIVERED"],
    s.alerts.recent.map((a) => [plain(a.at), plain(a.severity), plain(a.key), plain(a.title, TITLE_MAX), a.resolved ? "resolved" : "raised", a.delivered ? "yes" : "no"]),
  );
}

export function formatStatusTable(s: StatusSnapshot): string {
  const a = s.alerts;
  return [
    `linkfort-supervisor ${plain(s.version)}  runner: ${plain(s.runner)}  up ${formatDuration(s.uptime_seconds)}`,
    "",
    "INSTANCES",
    instances(s),
    "",
    "BACKUPS",
    backups(s),
    "",
    `ALERTS  sent ${a.sent}, dropped ${a.dropped}, queued ${a.queued}`,
    alerts(s),
    "",
  ].join("\n");
}
