/**
 * The scraper against a small HTTP server that answers /metrics with the text the test sets, so
 * each reading's counters are known and the rates between readings can be checked exactly.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { createSignals } from "./signals.ts";

let text = "";
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(text) });
afterAll(() => server.stop(true));

function metrics(o: { traffic: number; errors: number; probes: number; fast: number; cpu: number; rss: number }): string {
  return [
    `linkfort_http_requests_total{method="GET",route="/:short_code",status="302"} ${o.traffic - o.errors}`,
    `linkfort_http_requests_total{method="POST",route="/urls",status="503"} ${o.errors}`,
    `linkfort_http_requests_total{method="GET",route="/ready",status="200"} ${o.probes}`,
    `linkfort_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/:short_code",status_class="3xx"} ${o.fast}`,
    `linkfort_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/:short_code",status_class="3xx"} ${o.traffic}`,
    `linkfort_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/:short_code",status_class="3xx"} ${o.traffic}`,
    `linkfort_http_request_duration_seconds_bucket{le="0.001",method="GET",route="/ready",status_class="2xx"} ${o.probes}`,
    `linkfort_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/ready",status_class="2xx"} ${o.probes}`,
    `linkfort_process_cpu_seconds_total ${o.cpu}`,
    `linkfort_process_resident_memory_bytes ${o.rss}`,
    "linkfort_http_in_flight_requests 2",
    "linkfort_db_pool_max_connections 10",
    "linkfort_db_pool_in_use_connections 3",
    "linkfort_db_pool_waiting_requests 1",
    "linkfort_click_spool_unshipped_clicks 7",
  ].join("\n");
}

describe("golden signals", () => {
  test("rates between readings, probes left out, quantiles from the buckets' growth, the total over instances, and a down instance as a gap", async () => {
    let clock = 1_000_000;
    const down = 1; // a port nothing listens on
    const signals = createSignals({
      ports: [server.port!, down], intervalMs: 1_200_000, now: () => clock,
      metricsUrl: (port) => `http://127.0.0.1:${port}/metrics`,
    });
    text = metrics({ traffic: 100, errors: 0, probes: 50, fast: 100, cpu: 1, rss: 50e6 });
    await signals.runOnce();
    clock += 10_000;
    // 200 more requests in 10 s, 10 of them 503, half of them slow; 1000 probes that must not count.
    text = metrics({ traffic: 300, errors: 10, probes: 1050, fast: 200, cpu: 3, rss: 60e6 });
    await signals.runOnce();

    const { series, interval_ms } = signals.snapshot();
    expect(interval_ms).toBe(1_200_000);
    const own = series[String(server.port)]!;
    expect(own[0]).toMatchObject({ rps: null, error_ratio: 0, rss_bytes: 50e6 });
    const second = own[1]!;
    expect(second.rps).toBeCloseTo(20, 6);
    expect(second.error_ratio).toBeCloseTo(0.05, 6);
    expect(second.cpu).toBeCloseTo(0.2, 6);
    expect(second.p50_ms).toBeCloseTo(1, 6);
    expect(second.p99_ms).toBeCloseTo(1 + 99 * 0.98, 4);
    expect(second).toMatchObject({ rss_bytes: 60e6, in_flight: 2, db_pool_max: 10, db_pool_in_use: 3, db_pool_waiting: 1, spool_clicks: 7 });
    expect(series[String(down)]!.map((p) => p.rps)).toEqual([null, null]);
    expect(series[String(down)]![1]).toMatchObject({ db_pool_in_use: null, db_pool_max: null });
    expect(series.total![1]!.rps).toBeCloseTo(20, 6);
    expect(series.total![1]!.rss_bytes).toBe(60e6);

    // An instance that restarted starts its counters again: its new totals are the growth.
    clock += 10_000;
    text = metrics({ traffic: 40, errors: 0, probes: 5, fast: 40, cpu: 0.5, rss: 40e6 });
    await signals.runOnce();
    expect(signals.snapshot().series[String(server.port)]![2]!.rps).toBeCloseTo(4, 6);

    // One hour of readings at most: 3 at this interval.
    clock += 10_000;
    await signals.runOnce();
    expect(signals.snapshot().series[String(server.port)]!.map((p) => p.t)).toEqual([1_010_000, 1_020_000, 1_030_000]);
  });

  test("database pool saturation: in use and waiting against the pool size, per instance and summed over instances", async () => {
    const pool = (max: number, inUse?: number, waiting?: number) => [
      `linkfort_db_pool_max_connections ${max}`,
      ...(inUse === undefined ? [] : [`linkfort_db_pool_in_use_connections ${inUse}`, `linkfort_db_pool_waiting_requests ${waiting ?? 0}`]),
    ].join("\n");
    const texts = new Map<number, string>();
    const servers = [0, 1, 2].map(() => Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (req) => new Response(texts.get(Number(new URL(req.url).port)) ?? "") }));
    try {
      const [full, calm, older] = servers.map((s) => s.port!) as [number, number, number];
      texts.set(full, pool(10, 10, 4));
      texts.set(calm, pool(10, 2));
      // An instance of a version without the in-use gauge: its point has none, the total sums the others.
      texts.set(older, pool(10));
      const signals = createSignals({ ports: [full, calm, older], intervalMs: 5_000, metricsUrl: (port) => `http://127.0.0.1:${port}/metrics` });
      await signals.runOnce();
      const { series } = signals.snapshot();
      expect(series[String(full)]![0]).toMatchObject({ db_pool_in_use: 10, db_pool_waiting: 4, db_pool_max: 10 });
      expect(series[String(calm)]![0]).toMatchObject({ db_pool_in_use: 2, db_pool_waiting: 0, db_pool_max: 10 });
      expect(series[String(older)]![0]).toMatchObject({ db_pool_in_use: null, db_pool_waiting: null, db_pool_max: 10 });
      expect(series.total![0]).toMatchObject({ db_pool_in_use: 12, db_pool_waiting: 4, db_pool_max: 30 });
    } finally {
      for (const s of servers) s.stop(true);
    }
  });
});
