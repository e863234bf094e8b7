import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type Redis from "ioredis";
import type { Gauge } from "prom-client";
import { testApp, type TestApp } from "../../test/harness.ts";
import { failFastClient, startRedis, waitReady, type TestRedis } from "../../test/redis.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createBacklogGauges, lagOf } from "./backlog.ts";
import { createClickConsumer } from "./consumer.ts";
import { createClicksRepo } from "./repo.ts";
import { clickFields } from "./stream.ts";

const GROUP = "linkfort";
let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = failFastClient(redis.url);
  await waitReady(client);
}, 30_000);
afterAll(async () => {
  client.disconnect();
  await redis.stop();
}, 30_000);

/** The gauge's value, or undefined when it exports no sample. */
const valueOf = async (gauge: Gauge) => (await gauge.get()).values[0]?.value;
const gaugesOf = async (metrics: ReturnType<typeof createMetrics>) => ({
  pending: await valueOf(metrics.clickStreamPending),
  lag: await valueOf(metrics.clickStreamLag),
  age: await valueOf(metrics.clickStreamOldestPendingAge),
});

/** A stream with a group and `count` entries added at `addedAt` (ms), `read` of them delivered and not acked. */
async function streamWith(key: string, count: number, read: number, addedAt: number): Promise<void> {
  await client.call("XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM");
  for (let i = 1; i <= count; i++) await client.xadd(key, `${addedAt}-${i}`, "n", String(i));
  if (read > 0) await client.call("XREADGROUP", "GROUP", GROUP, "someone", "COUNT", String(read), "STREAMS", key, ">");
}

describe("click stream backlog gauges", () => {
  test("export nothing before the first reading, then pending, lag and the oldest pending entry's age", async () => {
    const metrics = createMetrics();
    expect(await gaugesOf(metrics)).toEqual({ pending: undefined, lag: undefined, age: undefined });
    const text = await metrics.registry.metrics();
    expect(text).not.toMatch(/^linkfort_click_stream_(pending|lag|oldest_pending_age_seconds) /m);

    const t0 = Date.now();
    await streamWith("b:counts", 5, 2, t0 - 60_000);
    const gauges = createBacklogGauges({ redis: client, metrics, key: "b:counts", group: GROUP, now: () => t0 });
    expect(await gauges.runOnce()).toEqual({ pending: 2, lag: 3, oldestPendingAgeSeconds: 60 });
    expect(await gaugesOf(metrics)).toEqual({ pending: 2, lag: 3, age: 60 });
    expect(await metrics.registry.metrics()).toContain("\nlinkfort_click_stream_lag 3\n");
  });

  test("nothing pending: pending and age are 0, lag counts what no consumer has read", async () => {
    const metrics = createMetrics();
    await streamWith("b:idle", 4, 0, Date.now() - 1_000);
    expect(await createBacklogGauges({ redis: client, metrics, key: "b:idle", group: GROUP }).runOnce()).toEqual({ pending: 0, lag: 4, oldestPendingAgeSeconds: 0 });
    expect(await gaugesOf(metrics)).toEqual({ pending: 0, lag: 4, age: 0 });
  });

  test("a stream or group that does not exist (Redis restarted empty) removes the gauges instead of throwing", async () => {
    const metrics = createMetrics();
    await streamWith("b:gone", 3, 1, Date.now());
    const gauges = createBacklogGauges({ redis: client, metrics, key: "b:gone", group: GROUP });
    expect(await gauges.runOnce()).not.toBeNull();
    await client.del("b:gone");
    expect(await gauges.runOnce()).toBeNull();
    expect(await gaugesOf(metrics)).toEqual({ pending: undefined, lag: undefined, age: undefined });
  });

  test("at most one reading per interval: a second call within it changes nothing", async () => {
    const metrics = createMetrics();
    let now = Date.now();
    await streamWith("b:throttle", 3, 1, now);
    const gauges = createBacklogGauges({ redis: client, metrics, key: "b:throttle", group: GROUP, everyMs: 1_000, now: () => now });
    await gauges.maybeRun();
    expect(await gaugesOf(metrics)).toEqual({ pending: 1, lag: 2, age: 0 });
    await client.call("XREADGROUP", "GROUP", GROUP, "someone", "COUNT", "2", "STREAMS", "b:throttle", ">");
    now += 999;
    await gauges.maybeRun();
    expect((await gaugesOf(metrics)).pending).toBe(1);
    now += 1;
    await gauges.maybeRun();
    expect(await gaugesOf(metrics)).toEqual({ pending: 3, lag: 0, age: 1 });
  });

  test("lag is unknown (null) when the reply has no lag field (Redis 6) or a nil one", () => {
    expect(lagOf(["name", GROUP, "consumers", 1, "pending", 0, "last-delivered-id", "0-0"])).toBeNull();
    expect(lagOf(["name", GROUP, "consumers", 1, "pending", 0, "last-delivered-id", "0-0", "entries-read", null, "lag", null])).toBeNull();
    expect(lagOf(["name", GROUP, "pending", 0, "entries-read", 7, "lag", 12])).toBe(12);
  });
});

describe("Redis outage", () => {
  test("a reading while Redis is down removes the gauges; the next one after recovery shows them again", async () => {
    const own = await startRedis();
    const c = failFastClient(own.url);
    try {
      await waitReady(c);
      const metrics = createMetrics();
      await c.call("XGROUP", "CREATE", "b:outage", GROUP, "0", "MKSTREAM");
      const gauges = createBacklogGauges({ redis: c, metrics, key: "b:outage", group: GROUP });
      expect(await gauges.runOnce()).toEqual({ pending: 0, lag: 0, oldestPendingAgeSeconds: 0 });
      await own.stop();
      expect(await gauges.runOnce()).toBeNull();
      expect(await gaugesOf(metrics)).toEqual({ pending: undefined, lag: undefined, age: undefined });
      await own.start();
      await waitReady(c);
      await c.call("XGROUP", "CREATE", "b:outage", GROUP, "0", "MKSTREAM");
      expect(await gauges.runOnce()).toEqual({ pending: 0, lag: 0, oldestPendingAgeSeconds: 0 });
      expect(await gaugesOf(metrics)).toEqual({ pending: 0, lag: 0, age: 0 });
    } finally {
      c.disconnect();
      await own.stop();
    }
  });
});

describe("the consumer loop", () => {
  let h: TestApp;
  let urlId: number;
  let code: string;
  beforeAll(async () => {
    h = await testApp();
    const userId = (await h.request("POST", "/users", { body: { username: "backlog", email: "backlog@example.com" } })).json.id;
    const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://backlog.example/" } })).json;
    urlId = url.id;
    code = url.short_code;
  }, 30_000);
  afterAll(() => h.close(), 30_000);

  const clicksIn = async (key: string, n: number) => {
    for (let i = 0; i < n; i++) await client.xadd(key, "*", ...clickFields({ id: crypto.randomUUID(), urlId, shortCode: code, at: new Date() }));
  };
  const clickedEvents = async () =>
    (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = ${urlId} and event_type = 'clicked'`)[0]!.n;

  function loop(key: string, command: Redis) {
    const metrics = createMetrics();
    const consumer = createClickConsumer({
      redis: command, repo: createClicksRepo(h.deps.sql), metrics, logger: silentLogger,
      key, group: GROUP, consumer: `loop-${key}`, batch: 100, blockMs: 50, claimIdleMs: 60_000,
    });
    consumer.start();
    return { metrics, consumer };
  }

  test("shows what is left after its rounds: entries another consumer holds stay pending", async () => {
    await client.call("XGROUP", "CREATE", "b:loop", GROUP, "0", "MKSTREAM");
    await clicksIn("b:loop", 10);
    // Three entries delivered to a consumer that never acks (too fresh to be claimed from it).
    await client.call("XREADGROUP", "GROUP", GROUP, "stuck", "COUNT", "3", "STREAMS", "b:loop", ">");
    const before = await clickedEvents();
    const { metrics, consumer } = loop("b:loop", client);
    let gauges;
    try {
      while ((await clickedEvents()) < before + 7) await Bun.sleep(10);
      // A reading may come before the round that consumed the seven; the loop takes another within a second.
      while ((gauges = await gaugesOf(metrics)).lag !== 0) await Bun.sleep(20);
    } finally {
      await consumer.stop();
    }
    expect(gauges).toEqual({ pending: 3, lag: 0, age: expect.any(Number) });
    expect(gauges.age).toBeGreaterThanOrEqual(0);
  });

  test("keeps consuming when the backlog cannot be read (an ACL refuses XPENDING and XINFO); the gauges stay absent", async () => {
    await client.call("ACL", "SETUSER", "no-backlog", "on", ">secret", "~*", "&*", "+@all", "-xpending", "-xinfo");
    const limited = failFastClient(redis.url, { username: "no-backlog", password: "secret" });
    await waitReady(limited);
    await expect(limited.call("XPENDING", "b:acl", GROUP)).rejects.toThrow(/NOPERM/);
    const before = await clickedEvents();
    const { metrics, consumer } = loop("b:acl", limited);
    try {
      await clicksIn("b:acl", 10);
      while ((await clickedEvents()) < before + 10) await Bun.sleep(10);
    } finally {
      await consumer.stop();
      limited.disconnect();
    }
    expect(await clickedEvents()).toBe(before + 10);
    expect(Number(((await client.call("XPENDING", "b:acl", GROUP)) as unknown[])[0])).toBe(0);
    expect(await gaugesOf(metrics)).toEqual({ pending: undefined, lag: undefined, age: undefined });
  });
});
