/**
 * @module Golden signals without Prometheus: every interval the supervisor reads each instance's
 * /metrics, turns the counters into rates since the previous reading, and keeps the last hour
 * of points per instance and in total, in memory (a fixed number of points: hour / interval).
 * The supervisor's own probes and this scrape (/ready, /live, /health, /metrics) are left out
 * of the request signals: they are not traffic.
 */
import { sleep } from "../watch/sleep.ts";
import { histogramQuantile, parsePrometheusText, type Buckets, type Sample } from "./prometheus-text.ts";

export interface SignalPoint {
  /** Unix ms of the reading. */
  t: number;
  /** Requests per second since the previous reading; null without one (first reading, instance down). */
  rps: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  /** 5xx answers / all answers since the previous reading; null without requests. */
  error_ratio: number | null;
  rss_bytes: number | null;
  /** CPU seconds per second (1 = one core busy). */
  cpu: number | null;
  in_flight: number | null;
  db_pool_max: number | null;
  /** Pool connections running a query, held by a transaction, or opening for a waiting query. */
  db_pool_in_use: number | null;
  /** Queries queued because no pool connection was free. */
  db_pool_waiting: number | null;
  spool_clicks: number | null;
}

/** Counters of one reading, kept to compute the next point's rates. */
interface Reading {
  t: number;
  requests: number;
  errors: number;
  cpuSeconds: number | null;
  buckets: Map<number, number>;
}

const NOT_TRAFFIC = new Set(["/ready", "/live", "/health", "/metrics"]);
const HOUR_MS = 3_600_000;

const sum = (samples: Sample[], name: string, keep: (s: Sample) => boolean = () => true) =>
  samples.reduce((total, s) => (s.name === name && keep(s) ? total + s.value : total), 0);
const gauge = (samples: Sample[], name: string): number | null => samples.find((s) => s.name === name)?.value ?? null;
const traffic = (s: Sample) => !NOT_TRAFFIC.has(s.labels.route ?? "");

export function readingOf(t: number, samples: Sample[]): Reading {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    if (s.name !== "linkfort_http_request_duration_seconds_bucket" || !traffic(s)) continue;
    const le = s.labels.le === "+Inf" ? Infinity : Number(s.labels.le);
    buckets.set(le, (buckets.get(le) ?? 0) + s.value);
  }
  return {
    t, buckets,
    requests: sum(samples, "linkfort_http_requests_total", traffic),
    errors: sum(samples, "linkfort_http_requests_total", (s) => traffic(s) && (s.labels.status ?? "").startsWith("5")),
    cpuSeconds: gauge(samples, "linkfort_process_cpu_seconds_total"),
  };
}

/** Growth of the counters from `before` to `after`; a restarted instance starts again from 0. */
function deltas(before: Reading | undefined, after: Reading) {
  const reset = !before || after.requests < before.requests;
  const base = reset ? undefined : before;
  const buckets: Buckets = [...after.buckets.entries()].sort((a, b) => a[0] - b[0]).map(([le, n]) => [le, n - (base?.buckets.get(le) ?? 0)]);
  return {
    seconds: before ? (after.t - before.t) / 1000 : 0,
    requests: after.requests - (base?.requests ?? 0), errors: after.errors - (base?.errors ?? 0), buckets,
    cpuSeconds: before && after.cpuSeconds !== null && before.cpuSeconds !== null && after.cpuSeconds >= before.cpuSeconds ? after.cpuSeconds - before.cpuSeconds : null,
  };
}

type Delta = ReturnType<typeof deltas>;

function pointOf(t: number, d: Delta[], gauges: Sample[][]): SignalPoint {
  const seconds = d[0]?.seconds ?? 0;
  const requests = d.reduce((n, x) => n + x.requests, 0);
  const errors = d.reduce((n, x) => n + x.errors, 0);
  const merged = new Map<number, number>();
  for (const x of d) for (const [le, n] of x.buckets) merged.set(le, (merged.get(le) ?? 0) + n);
  const buckets: Buckets = [...merged.entries()].sort((a, b) => a[0] - b[0]);
  const ms = (q: number) => { const s = histogramQuantile(q, buckets); return s === null ? null : s * 1000; };
  const addGauge = (name: string) => gauges.reduce<number | null>((n, g) => { const v = gauge(g, name); return v === null ? n : (n ?? 0) + v; }, null);
  const cpu = d.every((x) => x.cpuSeconds !== null) && seconds > 0 ? d.reduce((n, x) => n + (x.cpuSeconds ?? 0), 0) / seconds : null;
  return {
    t, rps: seconds > 0 ? requests / seconds : null, p50_ms: ms(0.5), p99_ms: ms(0.99),
    error_ratio: requests > 0 ? errors / requests : null, cpu,
    rss_bytes: addGauge("linkfort_process_resident_memory_bytes"), in_flight: addGauge("linkfort_http_in_flight_requests"),
    db_pool_max: addGauge("linkfort_db_pool_max_connections"), db_pool_in_use: addGauge("linkfort_db_pool_in_use_connections"),
    db_pool_waiting: addGauge("linkfort_db_pool_waiting_requests"), spool_clicks: addGauge("linkfort_click_spool_unshipped_clicks"),
  };
}

const EMPTY = (t: number): SignalPoint => ({ t, rps: null, p50_ms: null, p99_ms: null, error_ratio: null, rss_bytes: null, cpu: null, in_flight: null,
  db_pool_max: null, db_pool_in_use: null, db_pool_waiting: null, spool_clicks: null });

export interface SignalsOptions {
  ports: number[];
  /** An instance's /metrics URL. */
  metricsUrl: (port: number) => string;
  /** Time between readings (ms; CONSOLE_SCRAPE_MS, default 5 s). */
  intervalMs: number;
  now?: () => number;
  /** Each instance's reading as it comes (null: no answer), for what else watches the counters (the clicks-dropped alert): one scrape, not two. */
  onReading?: (port: number, samples: readonly Sample[] | null) => void;
}

export type Signals = ReturnType<typeof createSignals>;

export function createSignals(opts: SignalsOptions) {
  const now = opts.now ?? Date.now;
  const capacity = Math.ceil(HOUR_MS / opts.intervalMs);
  const history = new Map<string, SignalPoint[]>([["total", []], ...opts.ports.map((p): [string, SignalPoint[]] => [String(p), []])]);
  const last = new Map<number, Reading>();
  const push = (key: string, point: SignalPoint) => {
    const points = history.get(key)!;
    points.push(point);
    if (points.length > capacity) points.shift();
  };

  const scrape = async (port: number): Promise<Sample[] | null> => {
    try {
      const res = await fetch(opts.metricsUrl(port), { signal: AbortSignal.timeout(Math.min(opts.intervalMs, 2_000)) });
      return res.ok ? parsePrometheusText(await res.text()) : null;
    } catch {
      return null;
    }
  };

  return {
    /** One reading of every instance, appended to the history. */
    async runOnce(): Promise<void> {
      const t = now();
      const scraped = await Promise.all(opts.ports.map(scrape));
      const up: { delta: Delta; samples: Sample[] }[] = [];
      opts.ports.forEach((port, i) => {
        const samples = scraped[i];
        opts.onReading?.(port, samples ?? null);
        if (!samples) { last.delete(port); return push(String(port), EMPTY(t)); }
        const reading = readingOf(t, samples);
        const delta = deltas(last.get(port), reading);
        last.set(port, reading);
        push(String(port), pointOf(t, [delta], [samples]));
        up.push({ delta, samples });
      });
      // The total's rates need a previous reading of every instance in it.
      const rated = up.filter((u) => u.delta.seconds > 0);
      push("total", up.length === 0 ? EMPTY(t) : { ...pointOf(t, rated.map((u) => u.delta), up.map((u) => u.samples)), ...(rated.length === 0 ? { rps: null, cpu: null } : {}) });
    },
    async run(signal: AbortSignal): Promise<void> {
      while (!signal.aborted) {
        const began = now();
        await this.runOnce();
        await sleep(Math.max(0, opts.intervalMs - (now() - began)), signal);
      }
    },
    snapshot: () => ({ interval_ms: opts.intervalMs, series: Object.fromEntries(history) as Record<string, SignalPoint[]> }),
  };
}
