// The console's rehearsals: fault drills and load tests, started behind a confirmation and
// followed every second. Loaded after console.js, whose helpers (el, api, $, confirmAction) it uses.
"use strict";

// ---- drills -------------------------------------------------------------------------------

let faults = [];

function drillVerdict(r) {
  if (r.running) return `drill ${r.fault} running, ${r.elapsed_seconds.toFixed(0)} s`;
  const verdict = r.met === true ? "met" : r.met === false ? "NOT MET" : "not run";
  const counts = r.requests === null ? "" : ` (${r.requests} requests, ${r.failed} failed${r.all_ready_ms === null ? "" : `, all ready ${r.all_ready_ms} ms after the fault`})`;
  return `drill ${r.fault}: ${verdict}${counts}${r.why.length ? `: ${r.why.join("; ")}` : ""}`;
}

async function refreshDrills() {
  if (!canSee) return;
  const res = await api("/api/drills").catch(() => null);
  if (!res || !res.ok) return;
  faults = res.body.faults;
  const select = $("drill-fault");
  if (select.options.length !== faults.length) select.replaceChildren(...faults.map((f) => el("option", { value: f.name }, f.name)));
  const chosen = faults.find((f) => f.name === select.value);
  $("drill-promise").textContent = chosen ? `Promise: ${chosen.promise}.` : "";
  $("drill-start").disabled = !res.body.enabled || faults.length === 0 || Boolean(res.body.run && res.body.run.running);
  if (res.body.run) $("drill-state").textContent = drillVerdict(res.body.run);
}

async function startDrill(event) {
  event.preventDefault();
  const fault = $("drill-fault").value;
  if (!signedIn) { openSignIn(); return; }
  if (!(await confirmAction(`Inject the fault ${fault} into this stack under load (3 s before, until recovered, 3 s after)?`, "Start drill"))) return;
  const res = await api("/api/drills/start", { method: "POST", body: JSON.stringify({ fault }) });
  $("drill-state").textContent = res.ok ? `drill ${fault} starting…` : `refused: ${res.body.message || res.status}`;
  refreshDrills();
}

// ---- load tests ---------------------------------------------------------------------------

async function startLoad(event) {
  event.preventDefault();
  const form = $("load-form");
  const users = Number(form.elements.users.value);
  const seconds = Number(form.elements.seconds.value);
  if (!signedIn) { openSignIn(); return; }
  if (!(await confirmAction(`Send the load of ${users} users for ${seconds} s through the public port?`, "Start load"))) return;
  const res = await api("/api/load/start", { method: "POST", body: JSON.stringify({ users, seconds }) });
  $("load-state").textContent = res.ok ? "starting…" : `refused: ${res.body.message || res.status}`;
  refreshLoad();
}

async function refreshLoad() {
  if (!canSee) return;
  const res = await api("/api/load").catch(() => null);
  if (!res || !res.ok) return;
  $("load-off").hidden = res.body.enabled;
  $("load-start").disabled = !res.body.enabled || Boolean(res.body.run && res.body.run.running);
  const r = res.body.run;
  if (!r) { $("load-numbers").replaceChildren(); return; }
  const s = r.stats;
  $("load-state").textContent = r.running ? `running: ${r.users} users, ${r.elapsed_seconds.toFixed(0)} of ${r.seconds} s` : `finished: ${r.users} users for ${r.seconds} s`;
  const facts = [
    ["Requests", `${s.requests} (${r.running ? `${r.rps_now}/s now` : `${(s.requests / Math.max(r.elapsed_seconds, 1)).toFixed(0)}/s on average`})`],
    ["Failed", `${s.requests - s.ok} (${s.http_5xx} 5xx, ${s.conn} no answer, ${s.http_4xx} other status)`],
    ["Latency", `p50 ${s.p50_ms === null ? "-" : `${s.p50_ms} ms`}, p99 ${s.p99_ms === null ? "-" : `${s.p99_ms} ms`}`],
    ["Not sent", `${r.skipped} (all users had a request in flight)`],
  ];
  if (r.error) facts.push(["Error", r.error]);
  $("load-numbers").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { "data-fact": k.toLowerCase() }, v)]));
}

