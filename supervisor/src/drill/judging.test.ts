/** The verdict of a fault that is expected to lose clicks (disk-full): lost is fine only when counted. */
import { describe, expect, test } from "bun:test";
import { spansOf, upBetween } from "./alert-check.ts";
import { alertedThenResolved, countedDrops, lost, redirectsServed } from "./judging.ts";
import type { DataCheck, DrillRow, PhaseStats } from "./report.ts";

const phase = (redirectFailures = 0): PhaseStats => ({ requests: 100, imports: 2, ok: 100 - redirectFailures, conn: 0, http_5xx: redirectFailures, http_4xx: 0, redirect_failures: redirectFailures, p50_ms: 1, p99_ms: 2 });
const data = (over: Partial<DataCheck> = {}): DataCheck => ({ drained: true, creates_answered: 10, creates_missing: 0, imports_answered: 2, import_rows_answered: 25, import_rows_missing: 0, redirects_answered: 200, clicks_recorded: 150, clicks_lost: 50, ...over });
const row = (over: Partial<DrillRow>): DrillRow => ({
  fault: "disk-full", promise: "", met: null, why: [], phases: { before: phase(), during: phase(), after: phase() }, data: data(), ...over,
});

describe("judging a fault that drops clicks", () => {
  test("clicks lost and each counted as dropped break nothing", () => {
    expect(countedDrops(row({ clicks_dropped: 50 }))).toEqual([]);
    expect(countedDrops(row({ clicks_dropped: 52 }))).toEqual([]);
  });

  test("more lost than counted, a counter that did not move or was not read, each breaks the promise", () => {
    expect(countedDrops(row({ clicks_dropped: 40 }))).toEqual(["50 clicks lost, only 40 counted as dropped"]);
    expect(countedDrops(row({ clicks_dropped: 0, data: data({ clicks_lost: 0 }) }))).toEqual(["no click was counted as dropped: the fault did not reach the instances' spools"]);
    expect(countedDrops(row({}))).toEqual(["the dropped-clicks counter was not read"]);
  });

  test("an acknowledged create missing or a spool not drained still breaks it", () => {
    expect(countedDrops(row({ clicks_dropped: 50, data: data({ creates_missing: 2, drained: false }) }))).toEqual(["2 acknowledged creates missing", "spools not drained"]);
  });

  test("an import answered 201 whose rows are not all users in PostgreSQL is a lost write, like a missing create", () => {
    const clean = data({ clicks_lost: 0 });
    expect(lost(row({ data: clean }))).toEqual([]);
    expect(lost(row({ data: { ...clean, import_rows_missing: 3 } }))).toEqual(["3 acknowledged import rows missing"]);
    expect(countedDrops(row({ clicks_dropped: 50, data: data({ import_rows_missing: 1 }) }))).toEqual(["1 acknowledged import rows missing"]);
  });

  test("a failed redirect in any phase breaks the redirect promise", () => {
    expect(redirectsServed(row({}))).toEqual([]);
    expect(redirectsServed(row({ phases: { before: phase(1), during: phase(), after: phase(2) } }))).toEqual(["3 failed redirects"]);
  });
});

describe("judging a fault that must alert", () => {
  const judge = alertedThenResolved("clicks-dropped (disk_full)");

  test("an alert up during the fault and resolved after it breaks nothing; none, one never resolved or one resolved too early each break it", () => {
    expect(judge(row({ alerts: [{ key: "clicks-dropped:8081:disk_full", raised_ms: 2_100, resolved_ms: 4_000 }] }))).toEqual([]);
    expect(judge(row({ alerts: [] }))).toEqual(["no clicks-dropped (disk_full) alert was up while the fault was held"]);
    expect(judge(row({}))).toEqual(["the supervisor's alerts were not read (/status did not answer)"]);
    expect(judge(row({ alerts: [
      { key: "clicks-dropped:8081:disk_full", raised_ms: 2_100, resolved_ms: null },
      { key: "clicks-dropped:8082:disk_full", raised_ms: 2_100, resolved_ms: -300 },
    ] }))).toEqual(["clicks-dropped:8081:disk_full not resolved after the fault", "clicks-dropped:8082:disk_full resolved before the fault ended"]);
  });

  test("the alert spans read from /status's list (newest first) pair each resolve with its raise; only those up during the fault count", () => {
    const at = (s: number) => new Date(1_000_000 + s * 1000).toISOString();
    const entry = (key: string, s: number, resolved: boolean) => ({ at: at(s), key, severity: "warning", title: key, resolved, delivered: false });
    const recent = [
      entry("clicks-dropped:8082:disk_full", 40, false),
      entry("clicks-dropped:8081:disk_full", 30, true),
      entry("instance-down:8081", 12, false),
      entry("clicks-dropped:8081:disk_full", 11, false),
      entry("clicks-dropped:8081:disk_full", 5, true),
      entry("clicks-dropped:8081:disk_full", 1, false),
    ];
    const spans = spansOf(recent, /^clicks-dropped:\d+:disk_full$/);
    expect(spans).toEqual([
      { key: "clicks-dropped:8081:disk_full", raisedAt: 1_001_000, resolvedAt: 1_005_000 },
      { key: "clicks-dropped:8081:disk_full", raisedAt: 1_011_000, resolvedAt: 1_030_000 },
      { key: "clicks-dropped:8082:disk_full", raisedAt: 1_040_000, resolvedAt: null },
    ]);
    // The fault held from 10 s to 20 s: the first episode had ended, the last had not begun.
    expect(upBetween(spans, 1_010_000, 1_020_000)).toEqual([spans[1]!]);
  });
});
