/**
 * @module What a drill measured, as one row per fault: per phase the requests and failures by
 * class with p50/p99, the time to recover, the data checks, and whether the fault's promise held.
 * Printed as a table; written as JSON with --json.
 */
import type { Phase, RequestKind, Sample } from "./load.ts";
import type { MonkeySummary } from "./monkey.ts";

export interface PhaseStats {
  requests: number;
  /** CSV imports among the requests (each counted by class like any other request). */
  imports: number;
  ok: number;
  conn: number;
  http_5xx: number;
  http_4xx: number;
  /** Failed redirects of the drill's own codes (the redirect user's promise), of any class. */
  redirect_failures: number;
  p50_ms: number | null;
  p99_ms: number | null;
}

export interface DataCheck {
  /** Every instance's spool reached 0 unshipped clicks before the deadline. */
  drained: boolean;
  creates_answered: number;
  creates_missing: number;
  /** Imports answered 201, their rows, and those rows not found as users in PostgreSQL. */
  imports_answered: number;
  import_rows_answered: number;
  import_rows_missing: number;
  redirects_answered: number;
  clicks_recorded: number;
  clicks_lost: number;
}

export interface Recovery {
  /** How long the fault was applied (ms). */
  fault_ms: number;
  /** From the end of the fault to the first request that succeeded after it (ms). */
  first_success_ms: number | null;
  /** From the end of the fault to every instance ready again (ms); null when not within the deadline. */
  all_ready_ms: number | null;
}

export interface DrillRow {
  fault: string;
  promise: string;
  /** false: the promise was not met; null: the drill did not run (skipped or failed to start). */
  met: boolean | null;
  /** Why it was not met, skipped or failed; empty when met. */
  why: string[];
  note?: string;
  phases?: Record<Phase, PhaseStats>;
  skipped_requests?: number;
  /** The first failed requests: phase, kind, status (or "conn") and when, from the fault's start (ms). */
  failure_examples?: string[];
  /** Failed requests over all phases, by kind of request. */
  failures_by_kind?: Partial<Record<RequestKind, number>>;
  /** Failed requests over all phases, by status ("conn" for no answer): a 503 and a 500 keep different promises. */
  failures_by_status?: Record<string, number>;
  recovery?: Recovery;
  data?: DataCheck;
  /** Clicks the instances counted as not kept during this drill (linkfort_clicks_dropped_total for the fault's reason), for faults that expect drops. */
  clicks_dropped?: number;
  /**
   * For a fault that must alert (disk-full): the supervisor's alerts of that kind that were up while
   * it was held, each raised `raised_ms` after the fault began (negative: already up) and resolved
   * `resolved_ms` after it ended (null: still up when the drill stopped waiting).
   */
  alerts?: { key: string; raised_ms: number; resolved_ms: number | null }[];
}

export interface DrillReport {
  command: string;
  started_at: string;
  host: string;
  rate_per_second: number;
  phase_ms: number;
  rows: DrillRow[];
  /** `--monkey`: the drills added up. */
  monkey?: MonkeySummary;
}

const PHASES: Phase[] = ["before", "during", "after"];

function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function phaseStats(samples: readonly Sample[], phase: Phase): PhaseStats {
  const mine = samples.filter((s) => s.phase === phase);
  const count = (o: Sample["outcome"]) => mine.filter((s) => s.outcome === o).length;
  const ms = mine.map((s) => s.doneAt - s.sentAt).sort((a, b) => a - b);
  const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
  return {
    requests: mine.length, imports: mine.filter((s) => s.kind === "import").length, ok: count("ok"), conn: count("conn"), http_5xx: count("5xx"), http_4xx: count("4xx"),
    redirect_failures: mine.filter((s) => s.kind === "redirect" && s.outcome !== "ok").length,
    p50_ms: round(percentile(ms, 50)), p99_ms: round(percentile(ms, 99)),
  };
}

export function failuresByKind(samples: readonly Sample[]): Partial<Record<RequestKind, number>> {
  const counts: Partial<Record<RequestKind, number>> = {};
  for (const s of samples) if (s.outcome !== "ok") counts[s.kind] = (counts[s.kind] ?? 0) + 1;
  return counts;
}

export function failuresByStatus(samples: readonly Sample[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of samples) if (s.outcome !== "ok") counts[String(s.status ?? "conn")] = (counts[String(s.status ?? "conn")] ?? 0) + 1;
  return counts;
}

export const allPhases = (samples: readonly Sample[]) =>
  Object.fromEntries(PHASES.map((p) => [p, phaseStats(samples, p)])) as Record<Phase, PhaseStats>;

/** Failed requests over all phases. */
export const failedRequests = (row: DrillRow) =>
  PHASES.reduce((n, p) => n + (row.phases ? row.phases[p].conn + row.phases[p].http_5xx + row.phases[p].http_4xx : 0), 0);

const pad = (v: unknown, w: number) => String(v ?? "-").padStart(w);

export function formatTable(report: DrillReport): string {
  const w = Math.max(20, ...report.rows.map((r) => r.fault.length));
  const lines = [`${"fault".padEnd(w)} ${"phase".padEnd(7)} ${pad("requests", 8)} ${pad("imports", 7)} ${pad("conn", 5)} ${pad("5xx", 5)} ${pad("4xx", 5)} ${pad("redir✗", 6)} ${pad("p50 ms", 7)} ${pad("p99 ms", 7)}`];
  for (const row of report.rows) {
    lines.push("");
    if (!row.phases || !row.recovery || !row.data) {
      lines.push(`${row.fault.padEnd(w)} DID NOT FINISH: ${row.why.join("; ")}`);
      continue;
    }
    PHASES.forEach((p, i) => {
      const s = row.phases![p];
      lines.push(`${(i === 0 ? row.fault : "").padEnd(w)} ${p.padEnd(7)} ${pad(s.requests, 8)} ${pad(s.imports, 7)} ${pad(s.conn, 5)} ${pad(s.http_5xx, 5)} ${pad(s.http_4xx, 5)} ${pad(s.redirect_failures, 6)} ${pad(s.p50_ms, 7)} ${pad(s.p99_ms, 7)}`);
    });
    const r = row.recovery;
    const d = row.data;
    lines.push(`  recovery: fault held ${r.fault_ms} ms, first success +${r.first_success_ms ?? "never"} ms, all instances ready +${r.all_ready_ms ?? "never"} ms`);
    lines.push(`  data: ${d.creates_answered - d.creates_missing}/${d.creates_answered} creates in PostgreSQL, ${d.import_rows_answered - d.import_rows_missing}/${d.import_rows_answered} imported rows (${d.imports_answered} imports), ${d.clicks_recorded}/${d.redirects_answered} clicks recorded (${d.clicks_lost} lost)${d.drained ? "" : ", spools NOT drained"}${row.skipped_requests ? `; ${row.skipped_requests} requests not sent (too many in flight)` : ""}`);
    if (row.clicks_dropped !== undefined) lines.push(`  counted: ${row.clicks_dropped} clicks dropped by the instances (linkfort_clicks_dropped_total)`);
    if (row.alerts) lines.push(`  alerts: ${row.alerts.length === 0 ? "none up during the fault" : row.alerts.map((a) => `${a.key} raised +${a.raised_ms} ms after the fault began, ${a.resolved_ms === null ? "not resolved" : `resolved +${a.resolved_ms} ms after it ended`}`).join("; ")}`);
    if (row.note) lines.push(`  note: ${row.note}`);
    const byKind = Object.entries(row.failures_by_kind ?? {}).map(([k, n]) => `${n} ${k}`).join(", ");
    if (byKind) lines.push(`  failed by kind: ${byKind}; first: ${(row.failure_examples ?? []).join(", ")}`);
    lines.push(`  promise: ${row.promise} → ${row.met ? "MET" : `NOT MET (${row.why.join("; ")})`}`);
  }
  return lines.join("\n");
}
