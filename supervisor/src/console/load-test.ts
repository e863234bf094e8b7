/**
 * @module Load tests started from the console: the drill's load (drill/load.ts: redirects,
 * unknown codes, creates and reads through the public port on loopback) at a preset size, for a
 * bounded time, with its numbers readable while it runs and a summary logged at the end (the
 * timeline keeps it). A preset of N users offers 2 requests per second per user with at most N
 * in flight. Only with DRILLS=on: production is never loaded by accident.
 */
import type { Logger } from "../../../service/src/lib/logger.ts";
import { startLoad, type Load } from "../drill/load.ts";
import { phaseStats, type PhaseStats } from "../drill/report.ts";
import { setUpTargets } from "../drill/run.ts";
import type { Stack } from "../drill/stack.ts";
import { sleep } from "../watch/sleep.ts";

export const LOAD_USERS = [50, 200, 500] as const;
export const LOAD_SECONDS = [10, 30, 60] as const;
const REQUESTS_PER_USER_PER_SECOND = 2;

export interface LoadTestView {
  users: number;
  seconds: number;
  started_at: string;
  running: boolean;
  elapsed_seconds: number;
  /** Answers in the last second. */
  rps_now: number;
  /** Requests not sent because N were already in flight. */
  skipped: number;
  stats: PhaseStats;
  /** Why it ended early (setup failed), if it did. */
  error: string | null;
}

export type LoadTests = ReturnType<typeof createLoadTests>;

/** `busy`: what else is rehearsing now (a drill), if anything. */
export function createLoadTests(opts: { stack: Stack; drills: boolean; logger: Logger; busy?: () => string | undefined }) {
  const stopping = new AbortController();
  let current: { view: Omit<LoadTestView, "running" | "elapsed_seconds" | "rps_now" | "stats" | "skipped">; began: number; load: Load | null; done: Promise<void>; final?: LoadTestView } | undefined;

  const view = (): LoadTestView | null => {
    if (!current) return null;
    if (current.final) return current.final;
    const samples = current.load?.samples() ?? [];
    const t = performance.now();
    let recent = 0;
    for (let i = samples.length - 1; i >= 0 && samples[i]!.doneAt > t - 1_000; i--) recent++;
    return {
      ...current.view, running: true, elapsed_seconds: Math.round((t - current.began) / 100) / 10,
      rps_now: recent, skipped: 0, stats: phaseStats(samples, "before"),
    };
  };

  const run = async (users: number, seconds: number, adminKey: string) => {
    const c = current!;
    let skipped = 0;
    try {
      const targets = await setUpTargets(opts.stack, adminKey, `console-${users}`);
      c.load = startLoad(targets, { rate: users * REQUESTS_PER_USER_PER_SECOND, maxMs: seconds * 1_000, maxInFlight: users });
      await sleep(seconds * 1_000, stopping.signal);
      skipped = (await c.load.stop()).skipped;
    } catch (error) {
      c.view.error = error instanceof Error ? error.message : String(error);
      if (c.load) skipped = (await c.load.stop()).skipped;
    }
    const last = { ...view()!, running: false, rps_now: 0, skipped };
    c.final = last;
    const s = last.stats;
    opts.logger.info("console load test finished", {
      users, seconds, requests: s.requests, ok: s.ok, failed: s.requests - s.ok, p50_ms: s.p50_ms, p99_ms: s.p99_ms,
      skipped, error: last.error, duration_s: last.elapsed_seconds,
    });
  };

  return {
    enabled: opts.drills,
    view,
    running: () => (current && !current.final ? `a load test of ${current.view.users} users` : undefined),
    /** Starts one; refused while another runs or with DRILLS off. */
    start(users: number, seconds: number, adminKey: string): { ok: true } | { ok: false; status: 403 | 409; message: string } {
      if (!opts.drills) return { ok: false, status: 403, message: "load tests need DRILLS=on (staging or the quick start, never production)" };
      const other = current && !current.final ? `a load test of ${current.view.users} users` : opts.busy?.();
      if (other) return { ok: false, status: 409, message: `${other} is already running` };
      opts.logger.info("console load test started", { users, seconds, rate: users * REQUESTS_PER_USER_PER_SECOND });
      current = { view: { users, seconds, started_at: new Date().toISOString(), error: null }, began: performance.now(), load: null, done: Promise.resolve() };
      current.done = run(users, seconds, adminKey);
      return { ok: true };
    },
    /** Ends a running test early (the supervisor is stopping) and waits for it. */
    async stop(): Promise<void> {
      stopping.abort();
      await current?.done;
    },
  };
}
