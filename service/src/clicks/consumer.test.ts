import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createBufferedClickSink } from "./buffer.ts";
import { createClickConsumer } from "./consumer.ts";
import type { Click } from "./model.ts";
import { createClicksRepo } from "./repo.ts";
import { clickFields, createStreamClickSink, parseClickFields } from "./stream.ts";

// The app runs without Redis: these tests drive their own sinks and consumers on their own stream
// keys, so no background consumer competes with them.
let h: TestApp;
let redis: TestRedis;
let client: Redis;
let urlId: number;
let code: string;
const GROUP = "linkfort";

beforeAll(async () => {
  h = await testApp();
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const userId = (await h.request("POST", "/users", { body: { username: "cons", email: "cons@example.com" } })).json.id;
  const url = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://consumer.example/" } })).json;
  urlId = url.id;
  code = url.short_code;
}, 30_000);
afterAll(async () => {
  client.disconnect();
  await redis.stop();
  await h.close();
}, 30_000);

const newClick = (i: number): Click => ({ id: crypto.randomUUID(), urlId, shortCode: code, at: new Date(), referrer: `https://ref${i % 3}.example/x`, userAgent: "curl/8.0" });

function consumer(key: string, name: string, extra: { claimIdleMs?: number; onRead?: (ids: readonly string[]) => Promise<void> } = {}) {
  return createClickConsumer({
    redis: client, repo: createClicksRepo(h.deps.sql), metrics: createMetrics(), logger: silentLogger,
    key, group: GROUP, consumer: name, batch: 100, blockMs: 50, claimIdleMs: extra.claimIdleMs ?? 60_000, onRead: extra.onRead,
  });
}

/** XADDs n clicks through the real stream sink and returns them. */
async function addClicks(key: string, n: number): Promise<Click[]> {
  const metrics = createMetrics();
  const fallback = createBufferedClickSink({ repo: createClicksRepo(h.deps.sql), metrics, logger: silentLogger, flushMs: 60_000, batchMax: 100, bufferMax: 100 });
  const sink = createStreamClickSink({ redis: { command: client, up: true }, fallback, metrics, logger: silentLogger, key, maxLen: 100_000 });
  const clicks = Array.from({ length: n }, (_, i) => newClick(i));
  for (const c of clicks) await sink.record(c);
  expect(await metrics.clicksFallback.get().then((m) => m.values.reduce((sum, v) => sum + v.value, 0))).toBe(0);
  return clicks;
}

/** Clicked events of the test link, and its rollup total: both must move together. */
async function counts(): Promise<{ events: number; daily: number }> {
  const [row] = await h.deps.sql<{ events: number; daily: number }[]>`
    select (select count(*)::int from events where url_id = ${urlId} and event_type = 'clicked') as events,
           (select coalesce(sum(clicks), 0)::int from click_daily where url_id = ${urlId}) as daily`;
  return row!;
}
const pending = async (key: string) => Number(((await client.call("XPENDING", key, GROUP)) as unknown[])[0]);

describe("click stream entries", () => {
  test("round-trip every field of a click", () => {
    const c: Click = { id: crypto.randomUUID(), urlId: 7, shortCode: "abc", at: new Date(1_700_000_000_123), referrer: "r", userAgent: "u", clientIp: "203.0.113.5" };
    expect(parseClickFields(clickFields(c))).toEqual(c);
    expect(parseClickFields(clickFields({ ...c, referrer: undefined, userAgent: undefined, clientIp: undefined }))).toEqual({ ...c, referrer: undefined, userAgent: undefined, clientIp: undefined });
    expect(parseClickFields(["id", "not-a-uuid", "u", "7", "c", "abc", "t", "1"])).toBeUndefined();
  });
});

describe("click consumer", () => {
  test("reads a batch, writes every click once, and acks it all", async () => {
    const key = "t:happy";
    const before = await counts();
    await addClicks(key, 25);
    const result = await consumer(key, "a").runOnce();
    expect(result).toEqual({ read: 25, claimed: 0, written: 25, acked: 25, failed: false });
    expect(await counts()).toEqual({ events: before.events + 25, daily: before.daily + 25 });
    expect(await pending(key)).toBe(0);
  });

  test("a consumer that dies after reading, before acking: another claims its entries; no loss, no double", async () => {
    const key = "t:killed";
    const before = await counts();
    await addClicks(key, 30);
    let readIds: readonly string[] = [];
    let resume: () => void = () => {};
    const frozen = new Promise<void>((r) => { resume = r; });
    const dying = consumer(key, "dying", { onRead: async (ids) => { readIds = ids; await frozen; } });
    const dyingRound = dying.runOnce();
    while (readIds.length === 0) await Bun.sleep(5);
    expect(readIds.length).toBe(30);
    expect(await pending(key)).toBe(30);

    const survivor = consumer(key, "survivor", { claimIdleMs: 100 });
    await Bun.sleep(150); // the entries must be idle longer than claimIdleMs to be taken
    expect(await survivor.runOnce()).toEqual({ read: 30, claimed: 30, written: 30, acked: 30, failed: false });
    expect(await counts()).toEqual({ events: before.events + 30, daily: before.daily + 30 });
    expect(await pending(key)).toBe(0);

    // The "dead" consumer wakes up (a paused VM, say): its insert and ack are now no-ops.
    resume();
    expect(await dyingRound).toEqual({ read: 30, claimed: 0, written: 0, acked: 0, failed: false });
    expect(await counts()).toEqual({ events: before.events + 30, daily: before.daily + 30 });
  });

  test("an entry redelivered after its batch committed (crash between commit and XACK) is not counted twice", async () => {
    const key = "t:redeliver";
    const before = await counts();
    await addClicks(key, 12);
    await client.call("XGROUP", "CREATE", key, GROUP, "0", "MKSTREAM");
    // What a consumer does up to the crash: read as a group member and commit, but never ack.
    const reply = (await client.call("XREADGROUP", "GROUP", GROUP, "crashed", "COUNT", "100", "STREAMS", key, ">")) as [string, [string, string[]][]][];
    const clicks = reply[0]![1].map(([, fields]) => parseClickFields(fields)!);
    expect(await createClicksRepo(h.deps.sql).insertBatch(clicks)).toBe(12);
    expect(await pending(key)).toBe(12);

    await Bun.sleep(150);
    expect(await consumer(key, "next", { claimIdleMs: 100 }).runOnce()).toEqual({ read: 12, claimed: 12, written: 0, acked: 12, failed: false });
    expect(await counts()).toEqual({ events: before.events + 12, daily: before.daily + 12 });
    expect(await pending(key)).toBe(0);
  });

  test("an unreadable entry is acked and dropped instead of blocking the stream", async () => {
    const key = "t:garbage";
    const before = await counts();
    await client.xadd(key, "*", "junk", "1");
    await addClicks(key, 3);
    expect(await consumer(key, "g").runOnce()).toEqual({ read: 4, claimed: 0, written: 3, acked: 4, failed: false });
    expect(await counts()).toEqual({ events: before.events + 3, daily: before.daily + 3 });
    expect(await pending(key)).toBe(0);
  });

  test("the loop stops after its round: what it read is written and acked", async () => {
    const key = "t:loop";
    const before = await counts();
    const c = consumer(key, "looping");
    c.start();
    await addClicks(key, 40);
    while ((await counts()).events < before.events + 40) await Bun.sleep(10);
    await c.stop();
    expect(await counts()).toEqual({ events: before.events + 40, daily: before.daily + 40 });
    expect(await pending(key)).toBe(0);
  });
});
