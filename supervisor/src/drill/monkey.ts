/**
 * @module `drill --monkey MS`: drills of random faults, one after another with random pauses, for
 * a bounded time (and at most MAX_DRILLS drills). Each drill is a full one (phases, recovery,
 * data checks); the summary adds them up into an availability figure and the instances' memory
 * at the start and the end.
 */
import type { Fault } from "./faults.ts";
import { failedRequests, type DrillRow } from "./report.ts";
import { runDrill, type DrillOptions } from "./run.ts";
import { readStatus, type Stack } from "./stack.ts";

export interface MonkeySummary {
  duration_ms: number;
  drills: number;
  requests: number;
  failed: number;
  /** Requests answered as expected, of all sent, over every drill (%). */
  availability_percent: number | null;
  clicks_lost: number;
  creates_missing: number;
  import_rows_missing: number;
  /** Sum of the instances' RSS from the supervisor's /status (bytes). */
  rss_start_bytes: number | null;
  rss_end_bytes: number | null;
}

/** A bound on top of the duration, whatever the drills take. */
const MAX_DRILLS = 1_000;

async function totalRss(stack: Stack): Promise<number | null> {
  const status = await readStatus(stack);
  if (!status) return null;
  return status.instances.reduce((sum, i) => sum + (i.rss_bytes ?? 0), 0);
}

export async function runMonkey(
  faults: Fault[], opts: DrillOptions & { durationMs: number; out: (line: string) => void; random?: () => number },
): Promise<{ rows: DrillRow[]; summary: MonkeySummary }> {
  const random = opts.random ?? Math.random;
  const usable = faults.filter((f) => f.unavailable(opts.stack) === null);
  if (usable.length === 0) throw new Error("no fault can run against this stack");
  const started = performance.now();
  const rssStart = await totalRss(opts.stack);
  const rows: DrillRow[] = [];
  while (performance.now() - started < opts.durationMs && rows.length < MAX_DRILLS) {
    const fault = usable[Math.floor(random() * usable.length)]!;
    const row = await runDrill(fault, opts);
    opts.out(`monkey ${rows.length + 1}: ${fault.name} ${row.met === true ? "met" : row.met === false ? `NOT MET: ${row.why.join("; ")}` : `not run: ${row.why.join("; ")}`}`);
    rows.push(row);
    await Bun.sleep(Math.floor(random() * opts.phaseMs));
  }
  const sum = (f: (r: DrillRow) => number) => rows.reduce((n, r) => n + f(r), 0);
  const requests = sum((r) => (r.phases ? r.phases.before.requests + r.phases.during.requests + r.phases.after.requests : 0));
  const failed = sum(failedRequests);
  return {
    rows,
    summary: {
      duration_ms: Math.round(performance.now() - started), drills: rows.length, requests, failed,
      availability_percent: requests === 0 ? null : Math.round(((requests - failed) / requests) * 1e6) / 1e4,
      clicks_lost: sum((r) => r.data?.clicks_lost ?? 0), creates_missing: sum((r) => r.data?.creates_missing ?? 0),
      import_rows_missing: sum((r) => r.data?.import_rows_missing ?? 0),
      rss_start_bytes: rssStart, rss_end_bytes: await totalRss(opts.stack),
    },
  };
}

export function formatMonkeySummary(s: MonkeySummary): string {
  const mb = (b: number | null) => (b === null ? "unknown" : `${Math.round(b / 1_048_576)} MB`);
  return `monkey: ${s.drills} drills in ${Math.round(s.duration_ms / 1000)} s; ${s.requests} requests, ${s.failed} failed, availability ${s.availability_percent ?? "-"} %; `
    + `${s.clicks_lost} clicks lost, ${s.creates_missing} acknowledged creates and ${s.import_rows_missing} import rows missing; instances' RSS ${mb(s.rss_start_bytes)} at the start, ${mb(s.rss_end_bytes)} at the end`;
}
