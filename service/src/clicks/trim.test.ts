import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type Redis from "ioredis";
import { testApp, type TestApp } from "../../test/harness.ts";
import { failFastClient, startRedis, waitReady, type TestRedis } from "../../test/redis.ts";
import { createLogger, silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createClickConsumer } from "./consumer.ts";
import { createClicksRepo } from "./repo.ts";
import { clickFields } from "./stream.ts";
import { createStreamTrimmer, trimAcknowledged } from "./trim.ts";

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

/** A stream of `count` entries with ids 1000-1 … 1000-count. */
async function streamOf(key: string, count: number): Promise<void> {
  for (let i = 1; i <= count; i++) await client.xadd(key, `1000-${i}`, "n", String(i));
}
const group = (key: string, name: string) => client.call("XGROUP", "CREATE", key, name, "0");
/** Delivers the next `count` entries to `consumer` of `name`; returns their ids. */
async function read(key: string, name: string, consumer: string, count: number): Promise<string[]> {
  const reply = (await client.call("XREADGROUP", "GROUP", name, consumer, "COUNT", String(count), "STREAMS", key, ">")) as [string, [string, string[]][]][] | null;
  return reply?.[0]?.[1].map(([id]) => id) ?? [];
}
const ack = (key: string, name: string, ...seqs: number[]) => client.call("XACK", key, name, ...seqs.map((s) => `1000-${s}`));
/** The sequence numbers of the entries still in the stream. */
const left = async (key: string) => (await client.xrange(key, "-", "+")).map(([id]) => Number(id.split("-")[1]));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe("trimming acknowledged click stream entries", () => {
  test("entries no one has read are never trimmed", async () => {
    await streamOf("t:unread", 10);
    await group("t:unread", "g");
    expect(await trimAcknowledged(client, "t:unread")).toBe(0);
    expect(await left("t:unread")).toEqual(range(1, 10));
  });

  test("entries read but not acknowledged are never trimmed; acknowledged ones below them are", async () => {
    const key = "t:pending";
    await streamOf(key, 10);
    await group(key, "g");
    expect(await read(key, "g", "c", 6)).toHaveLength(6);
    await ack(key, "g", 1, 2, 4, 5);
    // 3 is still pending: 4 and 5 are acked but above it, so they wait.
    expect(await trimAcknowledged(client, key)).toBe(2);
    expect(await left(key)).toEqual(range(3, 10));
    await ack(key, "g", 3);
    // Now 6 (read, not acked) bounds it; 7 to 10 were never read.
    expect(await trimAcknowledged(client, key)).toBe(3);
    expect(await left(key)).toEqual(range(6, 10));
    await ack(key, "g", 6);
    expect(await trimAcknowledged(client, key)).toBe(1);
    expect(await left(key)).toEqual(range(7, 10));
  });

  test("with two groups on one key, the slower group bounds the trim", async () => {
    const key = "t:two";
    await streamOf(key, 10);
    await group(key, "fast");
    await group(key, "slow");
    await read(key, "fast", "f", 10);
    await ack(key, "fast", ...range(1, 10));
    await read(key, "slow", "s", 6);
    await ack(key, "slow", 1, 2, 3, 4);
    expect(await trimAcknowledged(client, key)).toBe(4);
    expect(await left(key)).toEqual(range(5, 10));
    // The slow group's pending 5 and 6 and unread 7 to 10 stay until it acks them.
    await ack(key, "slow", 5, 6);
    expect(await trimAcknowledged(client, key)).toBe(2);
    expect(await left(key)).toEqual(range(7, 10));
  });

  test("a stream without a group, or no stream at all, is left alone", async () => {
    await streamOf("t:nogroup", 5);
    expect(await trimAcknowledged(client, "t:nogroup")).toBe(0);
    expect(await left("t:nogroup")).toEqual(range(1, 5));
    expect(await trimAcknowledged(client, "t:absent")).toBe(0);
    expect(await client.exists("t:absent")).toBe(0);
  });

  test("a trim between a read and its ack keeps what the read took, whoever holds it", async () => {
    const key = "t:claimed";
    await streamOf(key, 8);
    await group(key, "g");
    await read(key, "g", "first", 4);
    await read(key, "g", "second", 4);
    // "second" is done; "first" died holding 1-4 and another consumer takes them over.
    await ack(key, "g", 5, 6, 7, 8);
    expect(await trimAcknowledged(client, key)).toBe(0);
    await client.call("XCLAIM", key, "g", "survivor", "0", "1000-1", "1000-2", "1000-3", "1000-4");
    expect(await trimAcknowledged(client, key)).toBe(0);
    await ack(key, "g", 1, 2, 3, 4);
    expect(await trimAcknowledged(client, key)).toBe(8);
    expect(await client.xlen(key)).toBe(0);
  });
});

describe("the trimmer the consumer loop runs", () => {
  test("trims at most once per interval and counts what it deleted", async () => {
    const key = "t:paced";
    await streamOf(key, 6);
    await group(key, "g");
    await read(key, "g", "c", 6);
    await ack(key, "g", 1, 2, 3);
    const metrics = createMetrics();
    let now = 1_000_000;
    const trimmer = createStreamTrimmer({ redis: client, metrics, logger: silentLogger, key, everyMs: 1_000, now: () => now });
    await trimmer.maybeRun();
    expect(await left(key)).toEqual([4, 5, 6]);
    await ack(key, "g", 4, 5, 6);
    now += 999;
    await trimmer.maybeRun();
    expect(await left(key)).toEqual([4, 5, 6]);
    now += 1;
    await trimmer.maybeRun();
    expect(await left(key)).toEqual([]);
    expect((await metrics.clickStreamTrimmed.get()).values[0]?.value).toBe(6);
  });

  test("never throws while Redis is down: it logs once, counts nothing, and trims again after recovery", async () => {
    const own = await startRedis();
    const c = failFastClient(own.url);
    const lines: string[] = [];
    const logger = createLogger("info", {}, (line) => lines.push((JSON.parse(line) as { msg: string }).msg));
    try {
      await waitReady(c);
      const metrics = createMetrics();
      const trimmer = createStreamTrimmer({ redis: c, metrics, logger, key: "t:outage", everyMs: 0 });
      await own.stop();
      expect(await trimmer.runOnce()).toBeNull();
      await trimmer.maybeRun();
      expect(lines).toEqual(["click stream trim failed; acknowledged entries stay until it works"]);
      await own.start();
      await waitReady(c);
      await c.xadd("t:outage", "1000-1", "n", "1");
      await c.call("XGROUP", "CREATE", "t:outage", "g", "0");
      await c.call("XREADGROUP", "GROUP", "g", "c", "STREAMS", "t:outage", ">");
      await c.call("XACK", "t:outage", "g", "1000-1");
      expect(await trimmer.runOnce()).toBe(1);
      expect(lines).toEqual(["click stream trim failed; acknowledged entries stay until it works", "click stream trim recovered"]);
      expect((await metrics.clickStreamTrimmed.get()).values[0]?.value).toBe(1);
    } finally {
      c.disconnect();
      await own.stop();
    }
  });

  describe("inside the consumer loop", () => {
    let h: TestApp;
    let urlId: number;
    let code: string;
    beforeAll(async () => {
      h = await testApp();
      const userId = (await h.request("POST", "/users", { body: { username: "trim", email: "trim@example.com" } })).json.id;
      const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://trim.example/" } })).json;
      urlId = url.id;
      code = url.short_code;
    }, 30_000);
    afterAll(() => h.close(), 30_000);

    const clickedEvents = async () =>
      (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where url_id = ${urlId} and event_type = 'clicked'`)[0]!.n;

    test("what the loop wrote and acked leaves the stream within a second, counted", async () => {
      const key = "t:loop";
      await client.call("XGROUP", "CREATE", key, "linkfort", "0", "MKSTREAM");
      for (let i = 0; i < 30; i++) await client.xadd(key, "*", ...clickFields({ id: crypto.randomUUID(), urlId, shortCode: code, at: new Date() }));
      const before = await clickedEvents();
      const metrics = createMetrics();
      const consumer = createClickConsumer({
        redis: client, repo: createClicksRepo(h.deps.sql), metrics, logger: silentLogger,
        key, group: "linkfort", consumer: "loop", batch: 10, blockMs: 50, claimIdleMs: 60_000,
      });
      consumer.start();
      try {
        while ((await clickedEvents()) < before + 30) await Bun.sleep(10);
        while ((await client.xlen(key)) > 0) await Bun.sleep(20);
      } finally {
        await consumer.stop();
      }
      expect((await metrics.clickStreamTrimmed.get()).values[0]?.value).toBe(30);
      expect((await metrics.clickStreamAcked.get()).values[0]?.value).toBe(30);
      expect(await clickedEvents()).toBe(before + 30);
      expect(Number(((await client.call("XPENDING", key, "linkfort")) as unknown[])[0])).toBe(0);
    }, 20_000);
  });
});
