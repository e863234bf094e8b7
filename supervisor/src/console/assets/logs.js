// The console's live log: one EventSource on /api/logs/stream with the form's filters.
// Loaded after console.js, whose helpers (el, clock, $) it uses.
"use strict";

let source = null;
let lastSeq = 0;

function logLine(e) {
  return el("div", { class: "line", "data-seq": e.seq, "data-source": e.source },
    el("span", { class: "t" }, clock(e.time)), " ", el("span", { class: e.level }, e.level.toUpperCase().padEnd(5)), " ",
    el("span", { class: "src" }, e.source.padEnd(10)), " ", e.msg,
    e.request_id ? el("span", { class: "rid" }, ` request_id=${e.request_id}`) : null, e.detail ? ` ${e.detail}` : "");
}

function startLogs() {
  if (source) source.close();
  if (!canSee) return;
  const form = $("log-filter");
  const params = new URLSearchParams();
  for (const name of ["level", "source", "request_id"]) if (form.elements[name].value) params.set(name, form.elements[name].value.trim());
  if (form.elements.probes.checked) params.set("probes", "hide");
  $("log-view").replaceChildren();
  lastSeq = 0;
  source = new EventSource(`/api/logs/stream?${params}`);
  source.onopen = () => { $("log-state").textContent = "streaming"; };
  source.onerror = () => { $("log-state").textContent = "reconnecting…"; };
  source.addEventListener("dropped", (e) => { $("log-state").textContent = `${e.data} lines skipped (reading too slowly)`; });
  source.onmessage = (e) => {
    const entry = JSON.parse(e.data);
    if (entry.seq <= lastSeq) return;
    lastSeq = entry.seq;
    const view = $("log-view");
    view.append(logLine(entry));
    while (view.childElementCount > LOG_ROWS_MAX) view.firstElementChild.remove();
    if (!$("log-pause").checked) view.scrollTop = view.scrollHeight;
  };
}

// Scrolling up to read pauses the stream's scrolling; back at the bottom it follows again.
function onLogScroll() {
  const view = $("log-view");
  const atBottom = view.scrollHeight - view.scrollTop - view.clientHeight < 8;
  $("log-pause").checked = !atBottom;
}

