// The console's golden-signal charts: inline SVG drawn from /api/signals, no chart library.
// Loaded after console.js, whose helpers (el, bytes, api, $) it uses.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const svg = (tag, attrs) => {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
};
const CHARTS = [
  { id: "rps", title: "Requests/s", lines: [["rps", "req/s"]], fmt: (v) => v.toFixed(v < 10 ? 2 : 0) },
  { id: "latency", title: "Latency p50 / p99", lines: [["p50_ms", "p50"], ["p99_ms", "p99"]], fmt: (v) => `${v.toFixed(v < 10 ? 1 : 0)} ms` },
  { id: "errors", title: "5xx ratio", lines: [["error_ratio", "5xx"]], fmt: (v) => `${(v * 100).toFixed(2)} %` },
  { id: "cpu", title: "CPU (cores)", lines: [["cpu", "cpu"]], fmt: (v) => v.toFixed(2) },
  { id: "rss", title: "Memory (RSS)", lines: [["rss_bytes", "rss"]], fmt: bytes },
  { id: "inflight", title: "Requests in flight", lines: [["in_flight", "in flight"]], fmt: (v) => v.toFixed(0) },
  // Saturation of the database pool: connections in use against its size, and queries queued for one.
  { id: "pool", title: "DB pool: in use / size", lines: [["db_pool_in_use", "in use"], ["db_pool_max", "size"], ["db_pool_waiting", "waiting"]], fmt: (v) => v.toFixed(0) },
  { id: "spool", title: "Click spool backlog", lines: [["spool_clicks", "clicks"]], fmt: (v) => v.toFixed(0) },
];

function chart(spec, points) {
  const W = 300, H = 110, L = 4, T = 8, B = 14;
  const values = spec.lines.flatMap(([key]) => points.map((p) => p[key]).filter((v) => v !== null && v !== undefined));
  const max = Math.max(...values, 0) || 1;
  const t1 = points.length ? points[points.length - 1].t : Date.now();
  const t0 = Math.min(points.length ? points[0].t : t1, t1 - 60_000);
  const x = (t) => L + ((t - t0) / (t1 - t0 || 1)) * (W - 2 * L);
  const y = (v) => T + (1 - v / max) * (H - T - B);
  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img" });
  for (const f of [0, 0.5, 1]) root.append(svg("line", { class: "grid", x1: L, x2: W - L, y1: y(max * f), y2: y(max * f) }));
  const top = svg("text", { class: "axis", x: L, y: T - 1 });
  top.textContent = spec.fmt(max);
  const span = svg("text", { class: "axis", x: L, y: H - 2 });
  span.textContent = `${Math.round((t1 - t0) / 60_000)} min ago`;
  const now = svg("text", { class: "axis", x: W - L, y: H - 2, "text-anchor": "end" });
  now.textContent = "now";
  root.append(top, span, now);
  const latest = [];
  spec.lines.forEach(([key, name], i) => {
    // A gap (null) breaks the line: an instance that was down draws nothing, not a zero.
    let d = "";
    let pen = false;
    for (const p of points) {
      const v = p[key];
      if (v === null || v === undefined) { pen = false; continue; }
      d += `${pen ? "L" : "M"}${x(p.t).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    }
    root.append(svg("path", { class: `s${i}`, d: d || "M0,0" }));
    const last = [...points].reverse().find((p) => p[key] !== null && p[key] !== undefined);
    latest.push(`${name} ${last ? spec.fmt(last[key]) : "-"}`);
  });
  const summary = latest.join(", ");
  root.setAttribute("aria-label", `${spec.title}: now ${summary}`);
  const legend = spec.lines.length > 1 ? el("p", { class: "legend" }, ...spec.lines.flatMap(([, name], i) => [el("span", { class: `k${i}` }, `■ ${name}`), " "])) : null;
  return el("figure", { class: "chart", "data-chart": spec.id },
    el("figcaption", {}, el("span", {}, spec.title), el("span", { class: "now" }, summary)), root, legend);
}

async function refreshSignals() {
  if (!canSee) return;
  const res = await api("/api/signals").catch(() => null);
  if (!res || !res.ok) return;
  const points = res.body.series[$("signal-series").value] || [];
  $("charts").replaceChildren(...CHARTS.map((spec) => chart(spec, points)));
}

