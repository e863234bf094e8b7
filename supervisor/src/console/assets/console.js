// The linkfort console in the browser: plain DOM, no library, no inline code (the CSP allows
// scripts from this origin only). Text always goes in through textContent, never as markup.
"use strict";

const $ = (id) => document.getElementById(id);
const STATE_CLASS = { ready: "ok", starting: "busy", restarting: "busy", unhealthy: "bad", backoff: "bad", stopped: "off" };
const LOG_ROWS_MAX = 500;
let overview = null;
let signedIn = false;
let canSee = true;

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  return node;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds) || seconds < 0) return "-";
  const s = Math.floor(seconds);
  const pad = (n) => String(n).padStart(2, "0");
  if (s < 60) return seconds < 10 && seconds % 1 ? `${seconds.toFixed(1)}s` : `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad(Math.floor((s % 86400) / 3600))}h`;
}

function bytes(n) {
  if (n === null || n === undefined || !isFinite(n)) return "-";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit++; }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

function spool(s) {
  if (!s || s.unshipped_clicks === null) return "-";
  if (s.unshipped_clicks === 0) return "0";
  return `${s.unshipped_clicks} clicks, oldest ${duration(s.oldest_unshipped_age_seconds)}`;
}

const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour12: false });

async function api(path, init) {
  const res = await fetch(path, { credentials: "same-origin", headers: { "Content-Type": "application/json" }, ...init });
  const body = await res.json().catch(() => ({}));
  return { status: res.status, ok: res.ok, body };
}

// ---- session ----------------------------------------------------------------------------

function showSession() {
  const c = overview ? overview.console : null;
  $("session-state").textContent = signedIn ? "signed in" : c && c.auth === "loopback" ? "viewing (sign in to act)" : "";
  $("sign-in-open").hidden = signedIn;
  $("sign-out").hidden = !signedIn;
  $("signed-out").hidden = canSee;
  for (const id of ["instances", "signals", "logs", "load", "links", "bans", "timeline", "backups"]) $(id).hidden = !canSee;
}

function openSignIn() {
  $("sign-in-error").textContent = "";
  $("sign-in").showModal();
  $("sign-in-form").elements.key.focus();
}

async function signIn(event) {
  event.preventDefault();
  const form = $("sign-in-form");
  const res = await api("/api/sign-in", { method: "POST", body: JSON.stringify({ key: form.elements.key.value }) });
  if (!res.ok) { $("sign-in-error").textContent = res.body.message || `failed (${res.status})`; return; }
  form.reset();
  $("sign-in").close();
  await refreshOverview();
  startLogs();
  refreshBans();
  refreshLinks();
}

async function signOut() {
  await api("/api/sign-out", { method: "POST" });
  $("ban-rows").replaceChildren(el("tr", {}, el("td", { colspan: 7 }, "Sign in to see the bans (they are read with your key).")));
  $("bans-state").textContent = "";
  await refreshOverview();
}

// ---- instances and actions ----------------------------------------------------------------

// An instance's release (its /health, cleaned by the supervisor); null while it is not known.
// One that is not the supervisor's (a rolling deploy under way, or one that stopped) is marked
// by colour, a sign and words.
const otherRelease = (version, supervisor) => version !== null && version !== undefined && version !== supervisor;

function versionCell(version, supervisor) {
  if (!otherRelease(version, supervisor)) return el("td", { class: "version" }, version || "-");
  return el("td", { class: "version differs", title: `not the supervisor's release (${supervisor})` },
    el("span", { "aria-hidden": "true" }, "≠ "), version, el("span", { class: "visually-hidden" }, ` (not the supervisor's release, ${supervisor})`));
}

/** Above the table while releases differ: which instances run which, e.g. "0.2.0 on 8082; 0.1.0 on 8081". */
function renderReleaseWarning(s) {
  const warning = $("release-warning");
  const byRelease = new Map();
  for (const i of s.instances) if (i.version) byRelease.set(i.version, [...(byRelease.get(i.version) || []), i.port]);
  warning.hidden = !s.instances.some((i) => otherRelease(i.version, s.version));
  warning.textContent = warning.hidden ? "" : `Not every instance runs the supervisor's release (${s.version}): ` +
    [...byRelease].map(([version, ports]) => `${version} on ${ports.join(", ")}`).join("; ") + ".";
}

function renderInstances(s) {
  const rows = s.instances.map((i) => el("tr", { "data-port": i.port },
    el("td", { class: "num" }, i.port),
    el("td", {}, el("span", { class: `state ${STATE_CLASS[i.state] || "off"}` }, i.state)),
    versionCell(i.version, s.version),
    el("td", { class: "num" }, i.pid === null ? "-" : i.pid),
    el("td", {}, duration(i.uptime_seconds)),
    el("td", { class: "num" }, i.restarts),
    el("td", {}, bytes(i.rss_bytes)),
    el("td", {}, spool(i.spool)),
    el("td", { class: i.last_error ? "err" : "" }, i.last_error || "-"),
    el("td", {}, el("button", { type: "button", class: "act restart", "data-port": i.port, "aria-label": `Restart instance ${i.port}` }, "Restart…")),
  ));
  $("instance-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 10 }, "No instances."))]));
  renderReleaseWarning(s);
  $("meta").textContent = `supervisor ${s.version} · runner ${s.runner} · up ${duration(s.uptime_seconds)} · ` +
    `${s.instances.filter((i) => i.state === "ready").length} of ${s.instances.length} ready · as of ${clock(new Date().toISOString())}`;
}

function confirmAction(text, label) {
  return new Promise((resolve) => {
    const dialog = $("confirm");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = label;
    dialog.returnValue = "cancel";
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
  });
}

let acting = false;
async function act(path, question, label, pending, resultId = "action-result", body = undefined) {
  if (acting) return;
  if (!signedIn) { openSignIn(); return; }
  if (!(await confirmAction(question, label))) return;
  acting = true;
  const result = $(resultId);
  result.className = "result";
  result.textContent = pending;
  document.querySelectorAll("button.act").forEach((b) => { b.disabled = true; });
  try {
    const res = await api(path, { method: "POST", body });
    result.className = res.ok ? "result" : "result bad";
    result.textContent = res.ok ? `Done: ${res.body.detail}` : `Failed: ${res.body.detail || res.body.message || res.status}`;
  } finally {
    acting = false;
    document.querySelectorAll("button.act").forEach((b) => { b.disabled = false; });
    refreshOverview();
    refreshTimeline();
  }
}

function onInstanceClick(event) {
  const button = event.target.closest("button.restart");
  if (!button) return;
  const port = button.dataset.port;
  act(`/api/instances/${port}/restart`, `Restart instance ${port}? It drains first (Caddy stops sending to it), then starts again and must become ready.`,
    `Restart ${port}`, `Restarting instance ${port}…`);
}

function onRollingRestart() {
  act("/api/rolling-restart", "Restart every instance, one at a time, each ready before the next?", "Rolling restart", "Rolling restart under way…");
}

// ---- backups ------------------------------------------------------------------------------

let lastDrill = null; // the newest restore drill in the timeline

function renderBackups(b, checksums) {
  const facts = [
    ["Last success", b.last_success_at ? `${b.last_success_at} (took ${duration(b.last_duration_seconds)}, ${bytes(b.last_size_bytes)})` : "-"],
    ["Last failure", b.last_failure_at ? `${b.last_failure_at}: ${b.last_error || ""}` : "-"],
    ["Next run", b.next_run_at || "-"],
    ["Last restore drill", lastDrill ? `${lastDrill.title}, ${new Date(lastDrill.at).toLocaleString([], { hour12: false })}` : "none in the timeline"],
  ];
  $("backup-summary").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
  const rows = b.files.map((f) => el("tr", { "data-file": f.name }, el("td", {}, f.name), el("td", {}, bytes(f.size_bytes)), el("td", {}, f.created_at),
    el("td", {}, f.verified ? "yes" : "no"), el("td", {}, el("code", { class: "sum" }, (checksums || {})[f.name] || "-")),
    el("td", {}, el("button", { type: "button", class: "act verify", "data-file": f.name, "aria-label": `Verify ${f.name}` }, "Verify…"))));
  $("backup-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6 }, "No backups yet."))]));
}

function onBackupClick(event) {
  const button = event.target.closest("button.verify");
  if (!button) return;
  const file = button.dataset.file;
  act("/api/backups/verify", `Verify ${file} against its checksum and read its archive (pg_restore --list)?`, "Verify", `Verifying ${file}…`, "backup-result",
    JSON.stringify({ file }));
}

// ---- overview polling ---------------------------------------------------------------------

async function refreshOverview() {
  const res = await api("/api/overview").catch(() => null);
  if (!res) { $("meta").textContent = "supervisor unreachable; retrying"; return; }
  canSee = res.status !== 401;
  if (!canSee) { signedIn = false; overview = null; $("meta").textContent = "signed out"; showSession(); return; }
  overview = res.body;
  signedIn = overview.console.signed_in;
  showSession();
  renderInstances(overview);
  renderBackups(overview.backups, overview.backup_checksums);
  const select = $("log-source");
  for (const i of overview.instances) {
    if (![...select.options].some((o) => o.value === String(i.port))) select.append(el("option", { value: i.port }, `instance ${i.port}`));
  }
  const series = $("signal-series");
  for (const i of overview.instances) {
    if (![...series.options].some((o) => o.value === String(i.port))) series.append(el("option", { value: i.port }, `instance ${i.port}`));
  }
}

// ---- bans ---------------------------------------------------------------------------------

async function refreshBans() {
  if (!canSee || !signedIn) return;
  const res = await api("/api/bans").catch(() => null);
  if (!res) return;
  if (!res.ok) { $("bans-state").textContent = res.body.message || `failed (${res.status})`; return; }
  $("bans-state").textContent = `${res.body.bans.length} active`;
  const rows = res.body.bans.map((b) => el("tr", { "data-ban": b.id },
    el("td", {}, b.subject), el("td", {}, b.kind), el("td", {}, b.level), el("td", {}, b.reason),
    el("td", {}, b.until ? new Date(b.until).toLocaleString([], { hour12: false }) : "permanent"),
    el("td", {}, new Date(b.created_at).toLocaleString([], { hour12: false })),
    el("td", {}, el("button", { type: "button", class: "act lift", "data-ban": b.id, "aria-label": `Lift the ban of ${b.subject}` }, "Lift…"))));
  $("ban-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 7 }, "No active bans."))]));
}

function onBanClick(event) {
  const button = event.target.closest("button.lift");
  if (!button) return;
  const subject = button.closest("tr").firstElementChild.textContent;
  act(`/api/bans/${button.dataset.ban}/lift`, `Lift the ban of ${subject}? Its counted violations are cleared too.`, "Lift", "Lifting…", "ban-result")
    .then(refreshBans);
}

// ---- timeline -----------------------------------------------------------------------------

async function refreshTimeline() {
  if (!canSee) return;
  const res = await api("/api/timeline").catch(() => null);
  if (!res || !res.ok) return;
  const rows = res.body.events.slice(0, 200).map((e) => el("tr", { "data-kind": e.kind },
    el("td", {}, new Date(e.at).toLocaleString([], { hour12: false })),
    el("td", { class: e.severity === "info" ? "" : `sev-${e.severity}` }, e.kind),
    el("td", {}, e.title), el("td", {}, e.cause || "-"), el("td", {}, e.duration_seconds === null ? "-" : duration(e.duration_seconds))));
  $("timeline-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5 }, "Nothing yet."))]));
  lastDrill = res.body.events.find((e) => e.kind === "drill" && e.title.startsWith("restore drill")) || null;
}

// ---- start --------------------------------------------------------------------------------

function every(ms, fn) {
  const tick = async () => { try { await fn(); } finally { setTimeout(tick, ms); } };
  tick();
}

document.addEventListener("DOMContentLoaded", async () => {
  $("instance-rows").addEventListener("click", onInstanceClick);
  $("rolling-restart").addEventListener("click", onRollingRestart);
  $("backup-now").addEventListener("click", () => act("/api/backups/run", "Take a backup now (pg_dump, checksum, verify), as the schedule would?", "Back up now", "Backing up…", "backup-result"));
  $("restore-drill").addEventListener("click", () => act("/api/backups/restore-drill",
    "Restore the newest good backup into a scratch database and compare its row counts, as the weekly drill does?", "Run the drill", "Restore drill under way…", "backup-result"));
  $("sign-in-open").addEventListener("click", openSignIn);
  $("sign-in-cancel").addEventListener("click", () => $("sign-in").close());
  $("sign-in-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", signOut);
  $("log-filter").addEventListener("change", (e) => { if (e.target.id !== "log-pause") startLogs(); });
  $("log-filter").addEventListener("submit", (e) => { e.preventDefault(); startLogs(); });
  $("log-view").addEventListener("scroll", onLogScroll);
  $("signal-series").addEventListener("change", refreshSignals);
  $("load-form").addEventListener("submit", startLoad);
  $("ban-rows").addEventListener("click", onBanClick);
  $("drill-form").addEventListener("submit", startDrill);
  $("drill-fault").addEventListener("change", refreshDrills);
  $("backup-rows").addEventListener("click", onBackupClick);
  await refreshOverview();
  if (!canSee) openSignIn();
  startLogs();
  every(2000, refreshOverview);
  every(2000, refreshSignals);
  every(5000, refreshTimeline);
  every(1000, refreshLoad);
  every(1000, refreshDrills);
  every(5000, refreshBans);
});
