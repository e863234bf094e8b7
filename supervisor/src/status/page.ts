/**
 * The status page at `/`: one self-contained HTML document (inline CSS, no script, no external
 * asset) that reloads itself, for an operator with a browser and an SSH tunnel.
 */
import { formatBytes, formatDuration, formatMs, formatSpool, runsOtherRelease } from "./format.ts";
import { html, SafeHtml } from "./html.ts";
import type { InstanceStatus, StatusSnapshot } from "./snapshot.ts";

export interface PageOptions {
  /** Seconds between reloads (default 5). */
  refreshSeconds?: number;
  /** When the page was made, shown on it (default now). */
  now?: Date;
}

// Class names come from this fixed map, never from the snapshot's text.
const STATE_CLASS: Record<InstanceStatus, string> = {
  ready: "ok", starting: "busy", restarting: "busy", unhealthy: "bad", backoff: "bad", stopped: "off",
};

// A constant of ours, so it goes in raw.
const STYLE = new SafeHtml(`
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#1d1d1f;background:#fafafa}
h1{font-size:1.3rem;margin:0 0 .2rem}h2{font-size:1.05rem;margin:1.6rem 0 .4rem}
.meta,footer{color:#666}table{border-collapse:collapse;background:#fff}
th,td{padding:.3rem .7rem;border-bottom:1px solid #e3e3e3;text-align:left;vertical-align:top}
th{font-weight:600;background:#f0f0f0}td.num{text-align:right}
.state{font-weight:600;border-radius:3px;padding:.1rem .4rem}
.ok{background:#d8f5dd;color:#13621f}.busy{background:#dbe9fb;color:#174a8c}
.bad{background:#fbdcdc;color:#8c1717}.off{background:#e6e6e6;color:#555}
.critical{color:#8c1717;font-weight:600}.warning{color:#8a5a00}.err{color:#8c1717;max-width:40rem;word-break:break-word}
.version{max-width:14rem;word-break:break-all}.differs{background:#fff1c9;color:#6b4500;font-weight:600}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}`);

const dash = (value: string | number | null) => (value === null || value === "" ? "-" : value);

/** The instance's release; marked, in words too, when it is not the supervisor's. */
function versionCell(version: string | null, supervisor: string): SafeHtml {
  if (!runsOtherRelease(version, supervisor)) return html`<td class="version">${dash(version)}</td>`;
  return html`<td class="version differs" title="not the supervisor's release (${supervisor})">${version} <span aria-hidden="true">≠</span><span class="vh"> (not the supervisor's release, ${supervisor})</span></td>`;
}

function instancesTable(s: StatusSnapshot): SafeHtml {
  if (s.instances.length === 0) return html`<p>No instances.</p>`;
  const rows = s.instances.map((i) => html`<tr>
<td class="num">${i.port}</td><td><span class="state ${STATE_CLASS[i.state] ?? "off"}">${i.state}</span></td>${versionCell(i.version, s.version)}
<td class="num">${dash(i.pid)}</td><td>${formatDuration(i.uptime_seconds)}</td><td class="num">${i.restarts}</td>
<td class="num">${i.consecutive_failures}</td><td>${formatMs(i.last_probe_ms)}</td><td>${formatBytes(i.rss_bytes)}</td>
<td>${formatSpool(i.spool)}</td><td class="err">${dash(i.last_error)}</td></tr>`);
  return html`<table><tr><th>Port</th><th>State</th><th>Version</th><th>PID</th><th>Uptime</th><th>Restarts</th><th>Failures</th>
<th>Probe</th><th>RSS</th><th title="clicks on the instance's disk not yet in PostgreSQL">Click spool</th><th>Last error</th></tr>${rows}</table>`;
}

function backupsSection(s: StatusSnapshot): SafeHtml {
  const b = s.backups;
  const files = b.files.map((f) => html`<tr><td>${f.name}</td><td>${formatBytes(f.size_bytes)}</td><td>${f.created_at}</td>
<td>${f.verified ? "yes" : "no"}</td><td>${dash(f.source ?? null)}</td></tr>`);
  return html`<table>
<tr><th>Last success</th><td>${dash(b.last_success_at)}</td></tr>
<tr><th>Duration / size</th><td>${formatDuration(b.last_duration_seconds)} / ${formatBytes(b.last_size_bytes)}</td></tr>
<tr><th>Last failure</th><td>${dash(b.last_failure_at)}</td></tr>
<tr><th>Last error</th><td class="err">${dash(b.last_error)}</td></tr>
<tr><th>Next run</th><td>${dash(b.next_run_at)}</td></tr></table>
${files.length > 0 ? html`<h3>Files</h3><table><tr><th>File</th><th>Size</th><th>Created</th><th>Verified</th><th title="the server pg_dump read: a standby of the cluster when one was healthy">Taken from</th></tr>${files}</table>` : html`<p>No backup files.</p>`}`;
}

function alertsSection(s: StatusSnapshot): SafeHtml {
  const a = s.alerts;
  const rows = a.recent.map((r) => html`<tr><td>${r.at}</td><td class="${r.severity === "critical" ? "critical" : r.severity === "warning" ? "warning" : ""}">${r.severity}</td>
<td>${r.key}</td><td>${r.title}</td><td>${r.resolved ? "resolved" : "raised"}</td><td>${r.delivered ? "yes" : "no"}</td></tr>`);
  return html`<p>Sent ${a.sent}, dropped ${a.dropped}, queued ${a.queued}.</p>
${rows.length > 0 ? html`<table><tr><th>At</th><th>Severity</th><th>Key</th><th>Title</th><th>Message</th><th>Delivered</th></tr>${rows}</table>` : html`<p>No alerts.</p>`}`;
}

export function renderStatusPage(s: StatusSnapshot, opts: PageOptions = {}): string {
  const refresh = opts.refreshSeconds ?? 5;
  const now = (opts.now ?? new Date()).toISOString();
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${refresh}"><title>linkfort supervisor</title><style>${STYLE}</style></head>
<body><h1>linkfort-supervisor</h1>
<p class="meta">version ${s.version} · runner ${s.runner} · up ${formatDuration(s.uptime_seconds)} · as of ${now}</p>
<h2>Instances</h2>${instancesTable(s)}
<h2>Backups</h2>${backupsSection(s)}
<h2>Recent alerts</h2>${alertsSection(s)}
<footer><p>Reloads every ${refresh} s. Machine-readable: <a href="/status">/status</a>, <a href="/metrics">/metrics</a>. The console: <a href="/">/</a>.</p></footer>
</body></html>
`.value;
}
