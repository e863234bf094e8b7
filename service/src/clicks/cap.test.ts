import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { createLogger, silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createBufferedClickSink } from "./buffer.ts";
import { createClickConsumer } from "./consumer.ts";
import type { Click } from "./model.ts";
import { createClicksRepo } from "./repo.ts";
import { createStreamClickSink } from "./stream.ts";
import { trimAcknowledged } from "./trim.ts";

// Overload: redirects add clicks faster than anyone consumes them. The app runs without Redis, so
// no consumer of its own reads the test's stream: this file decides when consuming starts.
let h: TestApp;
let redis: TestRedis;
let client: Redis;
let urlId: number;
let code: string;

beforeAll(async () => {
  h = await testApp();
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const userId = (await h.request("POST", "/users", { body: { username: "cap", email: "cap@example.com" } })).json.id;
  const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://cap.example/" } })).json;
  urlId = url.id;
  code = url.short_code;
}, 30_000);
afterAll(async () => {
  client.disconnect();
  await redis.stop();
  await h.close();
}, 30_000);

/** Each click has its own referrer, so the events show which were written and how often. */
const newClick = (i: number): Click => ({ id: crypto.randomUUID(), urlId, shortCode: code, at: new Date(), referrer: `https://r.example/${i}` });

const fallbacks = async (metrics: ReturnType<typeof createMetrics>) =>
  Object.fromEntries((await metrics.clicksFallback.get()).values.map((v) => [v.labels.reason, v.value]));

describe("the stream cap under overload", () => {
  test("past the cap clicks go to the buffer instead of deleting unread ones; every recorded click is counted once", async () => {
    const key = "t:cap";
    const CAP = 50;
    const TURNS = 10;
    const PER_TURN = 20;
    const metrics = createMetrics();
    const logged: string[] = [];
    const logger = createLogger("info", {}, (line) => logged.push((JSON.parse(line) as { msg: string }).msg));
    const repo = createClicksRepo(h.deps.sql);
    // Not started: it writes only when told, like an instance whose PostgreSQL share is taken.
    const buffered = createBufferedClickSink({ repo, metrics, logger: silentLogger, flushMs: 60_000, batchMax: 100, bufferMax: 10_000 });
    const sink = createStreamClickSink({ redis: { command: client, up: true }, fallback: buffered, metrics, logger, key, maxLen: CAP });

    const clicks = Array.from({ length: TURNS * PER_TURN }, (_, i) => newClick(i));
    // One turn's clicks go out as one batch (append.ts), checked against the cap once.
    for (let turn = 0; turn < TURNS; turn++) await Promise.all(clicks.slice(turn * PER_TURN, (turn + 1) * PER_TURN).map((c) => sink.record(c)));

    // Batches at 0, 20 and 40 entries were taken; from 60 on every batch was refused whole.
    const inStream = await client.xlen(key);
    expect(inStream).toBe(60);
    expect(buffered.held()).toBe(clicks.length - inStream);
    expect(await fallbacks(metrics)).toEqual({ unavailable: 0, full: clicks.length - inStream });
    expect((await metrics.clicksRecorded.get()).values[0]?.value).toBe(clicks.length);
    expect(logged).toEqual(["click stream full; using in-process buffer"]);

    // The buffer writes straight to PostgreSQL; the consumers catch up with the stream.
    await buffered.flushNow();
    expect(buffered.held()).toBe(0);
    const consumer = createClickConsumer({
      redis: client, repo, metrics, logger: silentLogger, key, group: "linkfort", consumer: "late", batch: 25, blockMs: 50, claimIdleMs: 60_000,
    });
    let acked = 0;
    for (;;) {
      const round = await consumer.runOnce();
      acked += round.acked;
      if (round.read === 0) break;
    }
    expect(acked).toBe(inStream);

    const rows = await h.deps.sql<{ referrer: string; n: number }[]>`
      select details->>'referrer' as referrer, count(*)::int as n from events
      where url_id = ${urlId} and event_type = 'clicked' group by 1`;
    expect(rows.length).toBe(clicks.length);
    expect(rows.filter((r) => r.n !== 1)).toEqual([]);
    expect(new Set(rows.map((r) => r.referrer))).toEqual(new Set(clicks.map((c) => c.referrer!)));
    const [daily] = await h.deps.sql<{ n: number }[]>`select coalesce(sum(clicks), 0)::int as n from click_daily where url_id = ${urlId}`;
    expect(daily!.n).toBe(clicks.length);

    // Acknowledged entries go, and the stream takes clicks again: one line says so.
    expect(await trimAcknowledged(client, key)).toBe(inStream);
    await Promise.all([newClick(1_000), newClick(1_001)].map((c) => sink.record(c)));
    expect(await client.xlen(key)).toBe(2);
    expect(buffered.held()).toBe(0);
    expect(logged).toEqual(["click stream full; using in-process buffer", "click stream recovered"]);
  }, 30_000);

  test("while the stream sits at the cap, a batch a trim made room for does not count as recovered", async () => {
    const key = "t:edge";
    const metrics = createMetrics();
    const logged: string[] = [];
    const logger = createLogger("info", {}, (line) => logged.push((JSON.parse(line) as { msg: string }).msg));
    const held: Click[] = [];
    const fallback = { record: (c: Click) => { held.push(c); }, flushNow: async () => {}, stop: async () => {} };
    const sink = createStreamClickSink({ redis: { command: client, up: true }, fallback, metrics, logger, key, maxLen: 20 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => sink.record(newClick(i))));
    await sink.record(newClick(20));
    expect(held.length).toBe(1);
    // A consumer acks three and a trim deletes them: room for one more batch near the cap.
    await client.call("XGROUP", "CREATE", key, "linkfort", "0");
    const reply = (await client.call("XREADGROUP", "GROUP", "linkfort", "c", "COUNT", "3", "STREAMS", key, ">")) as [string, [string, string[]][]][];
    await client.call("XACK", key, "linkfort", ...reply[0]![1].map(([id]) => id));
    expect(await trimAcknowledged(client, key)).toBe(3);
    for (let i = 21; i <= 23; i++) await sink.record(newClick(i));
    expect(await client.xlen(key)).toBe(20);
    await sink.record(newClick(24));
    expect(held.length).toBe(2);
    expect(await fallbacks(metrics)).toEqual({ unavailable: 0, full: 2 });
    // Full, three taken near the cap, full again: one line, not three.
    expect(logged).toEqual(["click stream full; using in-process buffer"]);
  });
});
