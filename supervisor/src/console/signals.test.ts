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
    expect(second).toMatchObject({ rss_bytes: 60e6, in_flight: 2, db_pool_max: 10, spool_clicks: 7 });
    expect(series[String(down)]!.map((p) => p.rps)).toEqual([null, null]);
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
});
