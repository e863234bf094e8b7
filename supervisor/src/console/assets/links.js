// The console's links panel: the links clicked most today, search by code or destination, and
// deactivate one behind a confirmation, all read and done with the operator's own key (the
// status server asks the service). Loaded after console.js, whose helpers (el, api, $, act,
// every) and session state (canSee, signedIn) it uses.
"use strict";

let linkQuery = ""; // the last search, shown again after every refresh and action

function linkState(l) {
  return el("td", {}, el("span", { class: `state ${l.is_active ? "ok" : "off"}` }, l.is_active ? "active" : "inactive"));
}

function linkAction(l) {
  if (!l.is_active) return el("td", {}, "-");
  return el("td", {}, el("button", { type: "button", class: "act deactivate", "data-link": l.id, "data-code": l.short_code,
    "aria-label": `Deactivate ${l.short_code}` }, "Deactivate…"));
}

const MATCH_WORDS = { code: "code", code_prefix: "code prefix", url: "destination" };

function linkRow(l, middle) {
  return el("tr", { "data-link": l.id, "data-code": l.short_code },
    el("td", {}, el("code", {}, l.short_code)), el("td", { class: "dest" }, l.original_url), ...middle, linkState(l), linkAction(l));
}

function placeholder(tbody, columns, text) {
  $(tbody).replaceChildren(el("tr", {}, el("td", { colspan: columns }, text)));
}

async function refreshTopLinks() {
  const res = await api("/api/links/top").catch(() => null);
  if (!res) return;
  if (!res.ok) { $("links-state").textContent = res.body.message || `failed (${res.status})`; return; }
  $("links-state").textContent = `${res.body.links.length} shown, most clicked first (UTC day)`;
  const rows = res.body.links.map((l) => linkRow(l, [el("td", { class: "num" }, l.clicks_today), el("td", { class: "num" }, l.bot_clicks_today)]));
  $("top-link-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6 }, "No clicks yet today."))]));
}

async function searchLinks() {
  if (!linkQuery) return;
  const res = await api(`/api/links/search?q=${encodeURIComponent(linkQuery)}`).catch(() => null);
  if (!res) return;
  if (!res.ok) { $("link-search-state").textContent = res.body.message || `failed (${res.status})`; return; }
  $("link-search-state").textContent = `${res.body.links.length} found for “${res.body.q}”`;
  const rows = res.body.links.map((l) => linkRow(l, [el("td", {}, MATCH_WORDS[l.match] || l.match), el("td", { class: "num" }, l.clicks_today)]));
  $("found-link-rows").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 6 }, "Nothing found."))]));
}

async function refreshLinks() {
  if (!canSee || !signedIn) {
    placeholder("top-link-rows", 6, "Sign in to see the links (they are read with your key).");
    $("links-state").textContent = "";
    return;
  }
  await Promise.all([refreshTopLinks(), searchLinks()]);
}

function onLinkSearch(event) {
  event.preventDefault();
  if (!signedIn) { openSignIn(); return; }
  linkQuery = $("link-search").elements.q.value.trim();
  if (!linkQuery) { $("link-search-state").textContent = "type a short code or a part of a destination URL"; return; }
  $("link-search-state").textContent = "searching…";
  searchLinks();
}

function onLinkClick(event) {
  const button = event.target.closest("button.deactivate");
  if (!button) return;
  const code = button.dataset.code;
  act(`/api/links/${button.dataset.link}/deactivate`, `Deactivate ${code}? Its short URL answers 410 Gone until the link is made active again (PUT /urls/:id).`,
    "Deactivate", `Deactivating ${code}…`, "link-result").then(refreshLinks);
}

document.addEventListener("DOMContentLoaded", () => {
  $("link-search").addEventListener("submit", onLinkSearch);
  $("top-link-rows").addEventListener("click", onLinkClick);
  $("found-link-rows").addEventListener("click", onLinkClick);
  every(5000, refreshLinks);
});
