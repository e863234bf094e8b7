import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createStreamAppender, isStreamFull } from "./append.ts";
import type { Click } from "./model.ts";
import type { ClickSink } from "./sink.ts";
import { createStreamClickSink, parseClickFields } from "./stream.ts";

let redis: TestRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 0 });
}, 30_000);
afterAll(async () => {
  client.disconnect();
  await redis.stop();
}, 30_000);

/** Calls of each script command so far, from the server's own count. */
async function scriptCalls(): Promise<{ evalsha: number; eval: number }> {
  const info = await client.info("commandstats");
  const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return { evalsha: calls("evalsha"), eval: calls("eval") };
}

const click = (i: number): Click => ({ id: crypto.randomUUID(), urlId: 1 + i, shortCode: `c${i}`, at: new Date(1_700_000_000_000 + i), referrer: i % 2 ? "https://r.example/" : undefined });

describe("stream appender", () => {
  test("appends made in one turn share one script call, one stream entry each, in order", async () => {
    const appender = createStreamAppender({ redis: client, key: "t:turn", maxLen: 10_000, field: "v" });
    const before = await scriptCalls();
    await Promise.all(Array.from({ length: 50 }, (_, i) => appender.append(`value ${i}`)));
    const first = await scriptCalls();
    // The first call meets an empty script cache: EVALSHA fails once (NOSCRIPT), EVAL runs it.
    expect(first).toEqual({ evalsha: before.evalsha + 1, eval: before.eval + 1 });
    await Promise.all(Array.from({ length: 10 }, (_, i) => appender.append(`later ${i}`)));
    expect(await scriptCalls()).toEqual({ evalsha: first.evalsha + 1, eval: first.eval });
    const entries = await client.xrange("t:turn", "-", "+");
    expect(entries.map(([, fields]) => fields)).toEqual([
      ...Array.from({ length: 50 }, (_, i) => ["v", `value ${i}`]),
      ...Array.from({ length: 10 }, (_, i) => ["v", `later ${i}`]),
    ]);
  });

  test("a busy turn is split into scripts of at most 500 entries", async () => {
    const appender = createStreamAppender({ redis: client, key: "t:big", maxLen: 10_000, field: "v" });
    await appender.append("warm"); // loads the script
    const before = await scriptCalls();
    await Promise.all(Array.from({ length: 1_200 }, (_, i) => appender.append(String(i))));
    expect((await scriptCalls()).evalsha - before.evalsha).toBe(3);
    expect(await client.xlen("t:big")).toBe(1_201);
  });

  test("a batch that finds the stream at its cap is refused whole; nothing in the stream is deleted", async () => {
    const appender = createStreamAppender({ redis: client, key: "t:cap", maxLen: 5, field: "v" });
    // One batch is checked once: it may take the stream past the cap, the next one is refused.
    expect(await Promise.all(Array.from({ length: 4 }, (_, i) => appender.append(`a${i}`)))).toEqual([4, 4, 4, 4]);
    expect(await Promise.all(Array.from({ length: 3 }, (_, i) => appender.append(`b${i}`)))).toEqual([7, 7, 7]);
    const refused = await Promise.allSettled(Array.from({ length: 2 }, (_, i) => appender.append(`c${i}`)));
    expect(refused.map((r) => r.status === "rejected" && isStreamFull(r.reason))).toEqual([true, true]);
    expect(refused[0]!.status === "rejected" && String(refused[0]!.reason.message)).toBe("CLICKSTREAMFULL the click stream holds 7 entries, its cap is 5");
    const entries = await client.xrange("t:cap", "-", "+");
    expect(entries.map(([, fields]) => fields[1])).toEqual(["a0", "a1", "a2", "a3", "b0", "b1", "b2"]);
  });

  test("every caller of a failed batch learns it", async () => {
    await client.set("t:not-a-stream", "x");
    const appender = createStreamAppender({ redis: client, key: "t:not-a-stream", maxLen: 10_000, field: "v" });
    const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => appender.append(String(i))));
    expect(results.map((r) => r.status === "rejected" && !isStreamFull(r.reason))).toEqual(Array(5).fill(true));
  });
});

describe("stream click sink", () => {
  test("clicks of a batch Redis refuses each go to the fallback, none lost", async () => {
    await client.set("t:refused", "x");
    const metrics = createMetrics();
    const fellBack: Click[] = [];
    const fallback: ClickSink = { record: (c) => { fellBack.push(c); }, flushNow: async () => {}, stop: async () => {} };
    const sink = createStreamClickSink({ redis: { command: client, up: true }, fallback, metrics, logger: silentLogger, key: "t:refused", maxLen: 10_000 });
    const clicks = Array.from({ length: 7 }, (_, i) => click(i));
    await Promise.all(clicks.map((c) => sink.record(c)));
    expect(fellBack).toEqual(clicks);
    expect((await metrics.clicksFallback.get()).values.map((v) => [v.labels.reason, v.value])).toEqual([["unavailable", 7], ["full", 0]]);
    expect((await metrics.clicksRecorded.get()).values[0]?.value ?? 0).toBe(0);
  });

  test("clicks it takes are stream entries the consumer reads back whole", async () => {
    const metrics = createMetrics();
    const fallback: ClickSink = { record: () => { throw new Error("not expected"); }, flushNow: async () => {}, stop: async () => {} };
    const sink = createStreamClickSink({ redis: { command: client, up: true }, fallback, metrics, logger: silentLogger, key: "t:whole", maxLen: 10_000 });
    const clicks = Array.from({ length: 4 }, (_, i) => ({ ...click(i), userAgent: 'agent "quoted" \\ é', clientIp: "203.0.113.9" }));
    await Promise.all(clicks.map((c) => sink.record(c)));
    const entries = await client.xrange("t:whole", "-", "+");
    expect(entries.map(([, fields]) => parseClickFields(fields))).toEqual(clicks);
    expect((await metrics.clicksRecorded.get()).values[0]?.value).toBe(4);
  });

  test("entries in the older field-per-property format still parse", () => {
    const id = crypto.randomUUID();
    expect(parseClickFields(["id", id, "u", "7", "c", "abc", "t", "1700000000123", "r", "ref", "ip", "198.51.100.1"]))
      .toEqual({ id, urlId: 7, shortCode: "abc", at: new Date(1_700_000_000_123), referrer: "ref", userAgent: undefined, clientIp: "198.51.100.1" });
    expect(parseClickFields(["k", "not json"])).toBeUndefined();
    expect(parseClickFields(["k", JSON.stringify([id, 0, "abc", 1, null, null, null])])).toBeUndefined();
  });
});
