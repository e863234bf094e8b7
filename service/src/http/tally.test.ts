import { describe, expect, test } from "bun:test";
import { Counter, Gauge, Registry } from "prom-client";
import { deferredGauge, tallies } from "./tally.ts";

describe("tallies", () => {
  test("increments reach the counter on every read, exactly once", async () => {
    const registry = new Registry();
    const counter = new Counter({ name: "t_total", help: "h", labelNames: ["kind"] as const, registers: [registry] });
    const t = tallies(counter);
    const a = t.labels({ kind: "a" });
    const b = t.labels({ kind: "b" });
    for (let i = 0; i < 5; i++) a.inc();
    b.inc();
    expect(await registry.metrics()).toContain('t_total{kind="a"} 5');
    expect((await counter.get()).values.map((v) => [v.labels.kind, v.value])).toEqual([["a", 5], ["b", 1]]);
    a.inc();
    expect((await counter.get()).values.map((v) => [v.labels.kind, v.value])).toEqual([["a", 6], ["b", 1]]);
  });

  test("a collect hook the metric already had still runs", async () => {
    let ran = 0;
    const counter = new Counter({ name: "t2_total", help: "h", registers: [], collect() { ran++; } });
    tallies(counter).labels({}).inc();
    expect((await counter.get()).values[0]?.value).toBe(1);
    expect(ran).toBe(1);
  });
});

describe("deferredGauge", () => {
  test("follows increments and decrements from several sources", async () => {
    const gauge = new Gauge({ name: "t_in_flight", help: "h", registers: [] });
    const one = deferredGauge(gauge);
    const two = deferredGauge(gauge);
    one.inc(); one.inc(); two.inc();
    expect((await gauge.get()).values[0]?.value).toBe(3);
    one.dec(); two.dec();
    expect((await gauge.get()).values[0]?.value).toBe(1);
  });
});
