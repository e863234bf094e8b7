/** Per-phase numbers from the load's samples, and the printed verdict. */
import { describe, expect, test } from "bun:test";
import { kindOf, type Sample } from "./load.ts";
import { allPhases, failedRequests, failuresByKind, failuresByStatus, formatTable, phaseStats } from "./report.ts";
import { serverErrorsBut503 } from "./judging.ts";

const sample = (phase: Sample["phase"], ms: number, outcome: Sample["outcome"] = "ok", kind: Sample["kind"] = "redirect"): Sample =>
  ({ phase, kind, sentAt: 0, doneAt: ms, outcome, status: outcome === "conn" ? null : 302 });

describe("drill report", () => {
  test("a phase counts its own samples by class, with failed redirects apart, and p50/p99 of their times", () => {
    const samples = [
      ...Array.from({ length: 98 }, (_, i) => sample("during", i + 1)),
      sample("during", 500, "5xx", "create"), sample("during", 900, "conn"), sample("before", 7),
    ];
    expect(phaseStats(samples, "during")).toEqual({ requests: 100, imports: 0, ok: 98, conn: 1, http_5xx: 1, http_4xx: 0, redirect_failures: 1, p50_ms: 50, p99_ms: 500 });
    expect(phaseStats(samples, "after")).toEqual({ requests: 0, imports: 0, ok: 0, conn: 0, http_5xx: 0, http_4xx: 0, redirect_failures: 0, p50_ms: null, p99_ms: null });
  });

  test("imports count among their phase's requests and failure classes, apart as imports, and by kind", () => {
    const samples = [sample("during", 4, "ok", "import"), sample("during", 6, "5xx", "import"), sample("during", 1), sample("after", 5, "ok", "import")];
    expect(phaseStats(samples, "during")).toMatchObject({ requests: 3, imports: 2, ok: 2, http_5xx: 1, redirect_failures: 0 });
    expect(phaseStats(samples, "after")).toMatchObject({ requests: 1, imports: 1, ok: 1 });
    expect(failuresByKind(samples)).toEqual({ import: 1 });
  });

  test("a database fault's promise of 503s is broken by a 500, not by the 503s or by other failures", () => {
    const failed = (status: number | null): Sample => ({ ...sample("during", 1, status === null ? "conn" : status >= 500 ? "5xx" : "4xx", "create"), status });
    const byStatus = failuresByStatus([failed(503), failed(503), failed(500), failed(null), sample("during", 1)]);
    expect(byStatus).toEqual({ "503": 2, "500": 1, conn: 1 });
    const row = { fault: "postgres-slow", promise: "", met: null, why: [] };
    expect(serverErrorsBut503({ ...row, failures_by_status: byStatus })).toEqual(["answered 1× 500 instead of 503"]);
    expect(serverErrorsBut503({ ...row, failures_by_status: { "503": 5, conn: 1 } })).toEqual([]);
  });

  test("the mix over 100 requests is 80 redirects, 8 unknown codes, 7 creates and 5 reads", () => {
    const counts: Record<string, number> = {};
    for (let n = 0; n < 100; n++) counts[kindOf(n)] = (counts[kindOf(n)] ?? 0) + 1;
    expect(counts).toEqual({ redirect: 80, unknown: 8, create: 7, read: 5 });
  });

  test("the table shows each phase, the recovery, the data checks and the verdict", () => {
    const row = {
      fault: "instance-kill", promise: "0 failed requests", met: false, why: ["1 failed requests"],
      phases: allPhases([sample("before", 1), sample("during", 2, "conn"), sample("after", 3)]),
      recovery: { fault_ms: 1, first_success_ms: 10, all_ready_ms: 400 },
      data: { drained: true, creates_answered: 3, creates_missing: 0, imports_answered: 2, import_rows_answered: 27, import_rows_missing: 1, redirects_answered: 2, clicks_recorded: 2, clicks_lost: 0 },
    };
    expect(failedRequests(row)).toBe(1);
    const table = formatTable({ command: "drill", started_at: "", host: "h", rate_per_second: 1, phase_ms: 1, rows: [row] });
    expect(table).toContain("recovery: fault held 1 ms, first success +10 ms, all instances ready +400 ms");
    expect(table).toContain("data: 3/3 creates in PostgreSQL, 26/27 imported rows (2 imports), 2/2 clicks recorded (0 lost)");
    expect(table).toMatch(/phase +requests +imports +conn/);
    expect(table).toContain("promise: 0 failed requests → NOT MET (1 failed requests)");
  });
});
