import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { testApp, type TestApp } from "../../test/harness.ts";
import { tcpProxy } from "../../test/tcp-proxy.ts";
import { connect, type Sql } from "../db/client.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import { createBufferedClickSink } from "./buffer.ts";
import type { Click } from "./model.ts";
import { createClicksRepo } from "./repo.ts";

let h: TestApp;
let proxy: ReturnType<typeof tcpProxy>;
let sql: Sql;
let userId: number;
let urlId: number;
let code: string;

beforeAll(async () => {
  h = await testApp();
  const db = new URL(h.databaseUrl);
  proxy = tcpProxy({ host: db.hostname, port: Number(db.port) });
  await proxy.start();
  db.hostname = "127.0.0.1";
  db.port = String(proxy.port);
  sql = connect({ url: db.toString(), poolMax: 2, statementTimeoutMs: 5_000, applicationName: "clicks-test" }).sql;
  userId = (await h.request("POST", "/users", { body: { username: "clk", email: "clk@example.com" } })).json.id;
  const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://clicks.example/" } })).json;
  urlId = url.id;
  code = url.short_code;
}, 30_000);
afterAll(async () => {
  await sql.end({ timeout: 1 });
  await proxy.stop();
  await h.close();
}, 30_000);

function newSink(opts: { batchMax?: number; bufferMax?: number; flushMs?: number } = {}) {
  const metrics = createMetrics();
  const sink = createBufferedClickSink({
    repo: createClicksRepo(sql), metrics, logger: silentLogger,
    flushMs: opts.flushMs ?? 60_000, batchMax: opts.batchMax ?? 1000, bufferMax: opts.bufferMax ?? 1000,
  });
  return { sink, metrics };
}

const click = (referrer: string, id = urlId): Click => ({ id: crypto.randomUUID(), urlId: id, shortCode: code, at: new Date(), referrer });

/** Referrers of the clicked events of the test link that were written after `afterId`. */
async function referrersAfter(afterId: number): Promise<string[]> {
  const rows = await h.deps.sql<{ r: string }[]>`
    select details->>'referrer' as r from events where event_type = 'clicked' and url_id = ${urlId} and id > ${afterId} order by id`;
  return rows.map((row) => row.r);
}
const lastEventId = async () => (await h.deps.sql<{ id: number }[]>`select coalesce(max(id), 0)::int as id from events`)[0]!.id;

async function counter(metrics: Metrics, name: keyof Metrics, labels: Record<string, string> = {}): Promise<number> {
  const metric = metrics[name] as { get(): Promise<{ values: { value: number; labels: Record<string, unknown>; metricName?: string }[] }> };
  const { values } = await metric.get();
  const match = values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want) && (!v.metricName || v.metricName.endsWith("_count")));
  return match.reduce((sum, v) => sum + v.value, 0);
}

describe("buffered click sink: runOnce", () => {
  test("writes held clicks as clicked events of the link's owner, in order", async () => {
    const { sink, metrics } = newSink();
    const start = await lastEventId();
    for (const r of ["a", "b", "c"]) sink.record(click(r));
    expect(sink.held()).toBe(3);
    expect(await sink.runOnce()).toEqual({ written: 3, dropped: 0, failed: false, held: 0 });
    expect(await referrersAfter(start)).toEqual(["a", "b", "c"]);
    const [row] = await h.deps.sql`select user_id, details from events where id > ${start} order by id limit 1`;
    expect(row).toEqual({ user_id: userId, details: { short_code: code, referrer: "a" } });
    expect(await counter(metrics, "clicksRecorded")).toBe(3);
    expect(await counter(metrics, "clicksWritten")).toBe(3);
    expect(await counter(metrics, "clicksBuffered")).toBe(0);
  });

  test("drops a click whose link was deleted and still writes the rest of its batch", async () => {
    const other = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://doomed.example/" } })).json.id;
    await h.request("DELETE", `/urls/${other}`);
    const { sink, metrics } = newSink();
    const start = await lastEventId();
    sink.record(click("kept-1"));
    sink.record(click("lost", other));
    sink.record(click("kept-2"));
    expect(await sink.runOnce()).toEqual({ written: 2, dropped: 1, failed: false, held: 0 });
    expect(await referrersAfter(start)).toEqual(["kept-1", "kept-2"]);
    expect(await counter(metrics, "clicksDropped", { reason: "link_deleted" })).toBe(1);
  });

  test("writes at most batchMax clicks per INSERT", async () => {
    const { sink, metrics } = newSink({ batchMax: 2 });
    const start = await lastEventId();
    for (const r of ["1", "2", "3", "4", "5"]) sink.record(click(r));
    expect((await sink.runOnce()).written).toBe(5);
    expect(await counter(metrics, "clickFlushDuration")).toBe(3);
    expect(await referrersAfter(start)).toEqual(["1", "2", "3", "4", "5"]);
  });

  test("past bufferMax drops the oldest clicks and counts them", async () => {
    const { sink, metrics } = newSink({ bufferMax: 3 });
    const start = await lastEventId();
    for (const r of ["r0", "r1", "r2", "r3", "r4"]) sink.record(click(r));
    expect(sink.held()).toBe(3);
    expect(await counter(metrics, "clicksDropped", { reason: "buffer_full" })).toBe(2);
    await sink.runOnce();
    expect(await referrersAfter(start)).toEqual(["r2", "r3", "r4"]);
  });
});

describe("buffered click sink: PostgreSQL down", () => {
  test("keeps the batch, stays bounded, and writes everything in order once it is back", async () => {
    const { sink, metrics } = newSink({ bufferMax: 4, batchMax: 2 });
    const start = await lastEventId();
    await proxy.stop();
    try {
      for (const r of ["d0", "d1", "d2"]) sink.record(click(r));
      const down = await sink.runOnce();
      expect(down).toEqual({ written: 0, dropped: 0, failed: true, held: 3 });
      for (const r of ["d3", "d4"]) sink.record(click(r));
      expect(sink.held()).toBe(4);
      expect(await counter(metrics, "clicksDropped", { reason: "buffer_full" })).toBe(1);
      expect((await sink.runOnce()).failed).toBe(true);
    } finally {
      await proxy.start();
    }
    expect(await referrersAfter(start)).toEqual([]);
    expect(await sink.runOnce()).toEqual({ written: 4, dropped: 0, failed: false, held: 0 });
    expect(await referrersAfter(start)).toEqual(["d1", "d2", "d3", "d4"]);
  });

  test("stop() gives up after a few attempts and counts what it lost", async () => {
    const { sink, metrics } = newSink({ flushMs: 10 });
    await proxy.stop();
    try {
      sink.record(click("x"));
      sink.record(click("y"));
      await sink.stop();
    } finally {
      await proxy.start();
    }
    expect(sink.held()).toBe(0);
    expect(await counter(metrics, "clicksDropped", { reason: "shutdown" })).toBe(2);
  });
});

describe("buffered click sink: timer and stop", () => {
  test("the timer writes clicks without being asked", async () => {
    const { sink } = newSink({ flushMs: 20 });
    const start = await lastEventId();
    sink.start();
    sink.record(click("timed"));
    const deadline = performance.now() + 2000;
    while ((await referrersAfter(start)).length === 0 && performance.now() < deadline) await Bun.sleep(20);
    expect(await referrersAfter(start)).toEqual(["timed"]);
    await sink.stop();
  });

  test("stop() writes everything still held, and later clicks are counted as dropped", async () => {
    const { sink, metrics } = newSink({ flushMs: 60_000, batchMax: 2 });
    const start = await lastEventId();
    sink.start();
    for (const r of ["s1", "s2", "s3"]) sink.record(click(r));
    await sink.stop();
    expect(await referrersAfter(start)).toEqual(["s1", "s2", "s3"]);
    sink.record(click("late"));
    expect(sink.held()).toBe(0);
    expect(await counter(metrics, "clicksDropped", { reason: "stopped" })).toBe(1);
  });
});
