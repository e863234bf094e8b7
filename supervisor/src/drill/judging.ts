/** @module What a finished drill broke: the pieces each fault's `judge` is made of. */
import { failedRequests, type DrillRow } from "./report.ts";

export const lost = (row: DrillRow) => [
  ...(row.data && row.data.clicks_lost > 0 ? [`${row.data.clicks_lost} clicks lost`] : []),
  ...(row.data && row.data.creates_missing > 0 ? [`${row.data.creates_missing} acknowledged creates missing`] : []),
  ...(row.data && row.data.import_rows_missing > 0 ? [`${row.data.import_rows_missing} acknowledged import rows missing`] : []),
  ...(row.data && !row.data.drained ? ["spools not drained"] : []),
];
export const noFailures = (row: DrillRow) => (failedRequests(row) > 0 ? [`${failedRequests(row)} failed requests`] : []);
export const within = (what: string, ms: number | null | undefined, limit: number) => (ms === null || ms === undefined || ms > limit ? [`${what} ${ms ?? "never"} ms > ${limit} ms`] : []);
export const always = () => null;
export const conn = (row: DrillRow) => (row.phases ? row.phases.before.conn + row.phases.during.conn + row.phases.after.conn : 0);
/** 5xx answers other than the 503 (with Retry-After) a database fault is promised to give: an error the service did not recognise. */
export const serverErrorsBut503 = (row: DrillRow) => {
  const other = Object.entries(row.failures_by_status ?? {}).filter(([status]) => /^5\d\d$/.test(status) && status !== "503");
  return other.length > 0 ? [`answered ${other.map(([status, n]) => `${n}× ${status}`).join(", ")} instead of 503`] : [];
};
export const failedRedirects = (row: DrillRow) => {
  const n = row.phases ? row.phases.during.redirect_failures + row.phases.after.redirect_failures : 0;
  return n > 0 ? [`${n} failed redirects`] : [];
};
/** Redirects of the drill's codes that failed, in any phase (a fault whose promise is about redirects only). */
export const redirectsServed = (row: DrillRow) => {
  const n = row.phases ? row.phases.before.redirect_failures + row.phases.during.redirect_failures + row.phases.after.redirect_failures : 0;
  return n > 0 ? [`${n} failed redirects`] : [];
};
/**
 * For a fault that is expected to lose clicks: each lost one must have been counted as dropped
 * (the counter is what the ClicksDropped alert sees), and the counter must have moved at all,
 * else the fault did not reach the instances. Acknowledged creates and the drain are checked as always.
 */
export const countedDrops = (row: DrillRow) => {
  const dropped = row.clicks_dropped;
  const clicksLost = row.data?.clicks_lost ?? 0;
  return [
    ...lost(row).filter((why) => !why.endsWith("clicks lost")),
    ...(dropped === undefined ? ["the dropped-clicks counter was not read"]
      : dropped === 0 ? ["no click was counted as dropped: the fault did not reach the instances' spools"]
      : clicksLost > dropped ? [`${clicksLost} clicks lost, only ${dropped} counted as dropped`] : []),
  ];
};
/**
 * For a fault that must alert: one of the supervisor's alerts of that kind was up while the fault
 * was held, and each of them was resolved after the fault ended (not before, not never).
 */
export const alertedThenResolved = (name: string) => (row: DrillRow) => {
  if (row.alerts === undefined) return ["the supervisor's alerts were not read (/status did not answer)"];
  if (row.alerts.length === 0) return [`no ${name} alert was up while the fault was held`];
  return row.alerts.flatMap((a) => (a.resolved_ms === null ? [`${a.key} not resolved after the fault`] : a.resolved_ms < 0 ? [`${a.key} resolved before the fault ended`] : []));
};
