/**
 * The clicks-dropped alert fed with the text an instance's /metrics really answers: the service's
 * own registry (service/src/metrics.ts), its counters moved as the spool moves them, read through
 * the console's parser. The alerter records what it was asked; the clock is the test's.
 */
import { describe, expect, test } from "bun:test";
import { createMetrics } from "../../../service/src/metrics.ts";
import type { Alert, Alerter } from "../alerts/alert.ts";
import { parsePrometheusText } from "../console/prometheus-text.ts";
import { createClicksDroppedAlerts } from "./clicks-dropped.ts";

type Call = { raise: Alert } | { resolve: string; detail: string | undefined };

function setUp(quietMs = 60_000) {
  const calls: Call[] = [];
  const alerter: Alerter = { raise: (a) => calls.push({ raise: a }), resolve: (key, detail) => calls.push({ resolve: key, detail }) };
  let clock = 1_000_000;
  const alerts = createClicksDroppedAlerts({ alerter, quietMs, now: () => clock });
  const instances = new Map<number, ReturnType<typeof createMetrics>>();
  const instance = (port: number) => { if (!instances.has(port)) instances.set(port, createMetrics()); return instances.get(port)!; };
  /** One scrape of `port`, `ms` after the previous one. */
  const read = async (port: number, ms = 5_000) => {
    clock += ms;
    alerts.observe(port, parsePrometheusText(await instance(port).registry.metrics()));
  };
  /** A scrape of `port` that got no answer, `ms` after the previous one. */
  const unanswered = (port: number, ms = 5_000) => { clock += ms; alerts.observe(port, null); };
  return { calls, instance, read, unanswered, restart: (port: number) => instances.delete(port) };
}

describe("clicks-dropped alert", () => {
  test("a growing counter raises one alert per instance and reason with the count; readings without growth for the quiet period resolve it with the total", async () => {
    const { calls, instance, read } = setUp(60_000);
    instance(8081).clicksDropped.inc({ reason: "disk_full" }, 3); // before the supervisor watched: the baseline
    await read(8081);
    await read(8082);
    expect(calls).toEqual([]);

    instance(8081).clicksDropped.inc({ reason: "disk_full" }, 12);
    await read(8081);
    await read(8082);
    expect(calls).toEqual([{ raise: {
      key: "clicks-dropped:8081:disk_full", severity: "warning", title: "Instance 8081 dropped clicks (disk_full)",
      detail: "12 clicks not kept since the previous reading: the filesystem holding the click spool is full. Redirects are still served; these clicks are lost.",
    } }]);

    // Still dropping, for a minute (65 s after the first, counting the reading of 8082): no second alert.
    for (let i = 0; i < 12; i++) {
      instance(8081).clicksDropped.inc({ reason: "disk_full" }, 10);
      await read(8081);
    }
    expect(calls).toHaveLength(1);

    // Quiet: 55 s of readings is not yet the quiet period, 60 s is.
    for (let i = 0; i < 11; i++) await read(8081);
    expect(calls).toHaveLength(1);
    await read(8081);
    expect(calls[1]).toEqual({ resolve: "clicks-dropped:8081:disk_full", detail: "instance 8081: no click dropped (disk_full) for 60 s; 132 dropped in all over 65 s" });

    // Dropping again after the resolve is a new alert.
    instance(8081).clicksDropped.inc({ reason: "disk_full" }, 1);
    await read(8081);
    expect(calls[2]).toMatchObject({ raise: { key: "clicks-dropped:8081:disk_full", detail: expect.stringMatching(/^1 clicks not kept/) } });
    expect(calls).toHaveLength(3);
  });

  test("each reason is its own alert; link_deleted (expected) raises none", async () => {
    const { calls, instance, read } = setUp();
    await read(8081);
    instance(8081).clicksDropped.inc({ reason: "link_deleted" }, 40);
    instance(8081).clicksDropped.inc({ reason: "spool_full" }, 2);
    instance(8081).clicksDropped.inc({ reason: "unwritable" }, 5);
    await read(8081);
    expect(calls.map((c) => ("raise" in c ? c.raise.key : c.resolve)).sort()).toEqual(["clicks-dropped:8081:spool_full", "clicks-dropped:8081:unwritable"]);
  });

  test("an instance restarted counts from 0: its new drops raise the alert; an instance that does not answer resolves nothing", async () => {
    const { calls, instance, read, unanswered, restart } = setUp(10_000);
    instance(8081).clicksDropped.inc({ reason: "disk_full" }, 500);
    await read(8081);
    restart(8081);
    instance(8081).clicksDropped.inc({ reason: "disk_full" }, 7);
    await read(8081);
    expect(calls).toEqual([{ raise: expect.objectContaining({ key: "clicks-dropped:8081:disk_full", detail: expect.stringMatching(/^7 clicks not kept/) }) }]);
    for (let i = 0; i < 5; i++) unanswered(8081);
    expect(calls).toHaveLength(1);
    await read(8081);
    expect(calls[1]).toMatchObject({ resolve: "clicks-dropped:8081:disk_full" });
  });
});
