/**
 * @module Fault drills started from the console: the command line's drills (drill/run.ts), run
 * inside the supervisor with the operator's own key, one at a time and never beside a load test.
 * Short phases (3 s of load before the fault and after recovery, at 100 requests/s) so a drill
 * takes seconds; the summary is logged at the end and the timeline keeps it. Only with
 * DRILLS=on, and never `supervisor-kill`: the supervisor running the drill would be its target.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import { FAULTS, type Fault } from "../drill/faults.ts";
import type { DrillRow } from "../drill/report.ts";
import { runDrill } from "../drill/run.ts";
import type { Stack } from "../drill/stack.ts";

const CONSOLE_DRILL = { rate: 100, phaseMs: 3_000, holdMs: 3_000 };
const NOT_FROM_THE_CONSOLE = new Set(["supervisor-kill"]);

export interface DrillView {
  fault: string;
  started_at: string;
  running: boolean;
  elapsed_seconds: number;
  /** The verdict once it ended: met (true), not met (false) or not run (null), and why. */
  met: boolean | null;
  why: string[];
  requests: number | null;
  failed: number | null;
  /** From the fault's end until every instance was ready again (ms). */
  all_ready_ms: number | null;
}

export type ConsoleDrills = ReturnType<typeof createConsoleDrills>;

function requestCounts(row: DrillRow): { requests: number; failed: number } | null {
  if (!row.phases) return null;
  const phases = Object.values(row.phases);
  const requests = phases.reduce((n, p) => n + p.requests, 0);
  return { requests, failed: requests - phases.reduce((n, p) => n + p.ok, 0) };
}

/** `busy`: what else is rehearsing now (a load test), if anything. */
export function createConsoleDrills(opts: { stack: Stack; drills: boolean; logger: Logger; busy: () => string | undefined }) {
  // A drill still running when the supervisor stops is dropped with the process: its load is
  // bounded in time and everything it injected is undone by the stop itself.
  let current: { view: DrillView; began: number; done: Promise<void> } | undefined;
  const available = (): Fault[] => FAULTS.filter((f) => !NOT_FROM_THE_CONSOLE.has(f.name) && f.unavailable(opts.stack) === null);

  const run = async (fault: Fault, adminKey: string) => {
    const c = current!;
    let row: DrillRow;
    try {
      row = await runDrill(fault, { stack: opts.stack, adminKey, ...CONSOLE_DRILL });
    } catch (error) {
      row = { fault: fault.name, promise: fault.promise, met: null, why: [`failed: ${error instanceof Error ? error.message : String(error)}`] };
    }
    const counts = requestCounts(row);
    Object.assign(c.view, {
      running: false, elapsed_seconds: Math.round((performance.now() - c.began) / 100) / 10, met: row.met, why: row.why,
      requests: counts?.requests ?? null, failed: counts?.failed ?? null, all_ready_ms: row.recovery?.all_ready_ms ?? null,
    });
    opts.logger.info("console drill finished", {
      fault: fault.name, met: row.met, why: row.why.join("; ") || null, promise: fault.promise, requests: c.view.requests, failed: c.view.failed,
      all_ready_ms: c.view.all_ready_ms, duration_s: c.view.elapsed_seconds,
    });
  };

  return {
    enabled: opts.drills,
    /** The faults this stack can take from here, with their promise. */
    faults: () => available().map((f) => ({ name: f.name, promise: f.promise })),
    running: () => (current?.view.running ? `the drill ${current.view.fault}` : undefined),
    view: (): DrillView | null => (!current ? null : current.view.running ? { ...current.view, elapsed_seconds: Math.round((performance.now() - current.began) / 100) / 10 } : current.view),
    start(name: string, adminKey: string): { ok: true } | { ok: false; status: 400 | 403 | 409; message: string } {
      if (!opts.drills) return { ok: false, status: 403, message: "drills need DRILLS=on (staging or the quick start, never production)" };
      const fault = available().find((f) => f.name === name);
      if (!fault) return { ok: false, status: 400, message: `no fault "${name}" can be drilled from here` };
      const other = current?.view.running ? `the drill ${current.view.fault}` : opts.busy();
      if (other) return { ok: false, status: 409, message: `${other} is already running` };
      opts.logger.info("console drill started", { fault: name });
      current = {
        view: { fault: name, started_at: new Date().toISOString(), running: true, elapsed_seconds: 0, met: null, why: [], requests: null, failed: null, all_ready_ms: null },
        began: performance.now(), done: Promise.resolve(),
      };
      current.done = run(fault, adminKey);
      return { ok: true };
    },
  };
}
