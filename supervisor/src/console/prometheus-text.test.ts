import { describe, expect, test } from "bun:test";
import { histogramQuantile, parsePrometheusText } from "./prometheus-text.ts";

describe("parsePrometheusText", () => {
  test("reads samples with labels, escapes and infinities, and skips comments", () => {
    const text = [
      "# HELP linkfort_http_requests_total Requests answered",
      "# TYPE linkfort_http_requests_total counter",
      'linkfort_http_requests_total{method="GET",route="/:short_code",status="302"} 41',
      'odd{label="a \\"quoted\\" \\\\ value"} 1.5',
      'linkfort_http_request_duration_seconds_bucket{le="+Inf",route="/urls"} 7',
      "linkfort_process_resident_memory_bytes 52428800",
      "not a sample",
    ].join("\n");
    expect(parsePrometheusText(text)).toEqual([
      { name: "linkfort_http_requests_total", labels: { method: "GET", route: "/:short_code", status: "302" }, value: 41 },
      { name: "odd", labels: { label: 'a "quoted" \\ value' }, value: 1.5 },
      { name: "linkfort_http_request_duration_seconds_bucket", labels: { le: "+Inf", route: "/urls" }, value: 7 },
      { name: "linkfort_process_resident_memory_bytes", labels: {}, value: 52428800 },
    ]);
  });
});

describe("histogramQuantile", () => {
  const buckets: [number, number][] = [[0.001, 50], [0.01, 90], [0.1, 100], [Infinity, 100]];
  test("interpolates inside the bucket that holds the rank", () => {
    expect(histogramQuantile(0.5, buckets)).toBeCloseTo(0.001, 6);
    expect(histogramQuantile(0.7, buckets)).toBeCloseTo(0.001 + 0.009 * 0.5, 6);
    expect(histogramQuantile(0.99, buckets)).toBeCloseTo(0.01 + 0.09 * 0.9, 6);
  });
  test("the +Inf bucket answers the largest finite bound; no observations answer null", () => {
    expect(histogramQuantile(0.99, [[0.1, 1], [Infinity, 10]])).toBe(0.1);
    expect(histogramQuantile(0.5, [[0.1, 0], [Infinity, 0]])).toBeNull();
    expect(histogramQuantile(0.5, [])).toBeNull();
  });
});
