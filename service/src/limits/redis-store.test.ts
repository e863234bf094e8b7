import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { createRedisStore } from "./redis-store.ts";
import type { Bucket, StrikeRule } from "./store.ts";

let redis: TestRedis;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { maxRetriesPerRequest: 0 });
}, 30_000); // redis-server takes seconds to start on a loaded machine
afterAll(async () => {
  client.disconnect();
  await redis.stop();
}, 30_000);

const scriptCalls = async () => {
  const info = await client.info("commandstats");
  const calls = (name: string) => Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return calls("evalsha") + calls("eval");
};
const strikes: StrikeRule = { spacingMs: 60_000, windowMs: 3_600_000 };
const bucket = (subject: string, limit: number): Bucket => ({ key: `redirect:${subject}`, subject, limit, periodMs: 60_000 });

describe("the Redis limiter store", () => {
  test("checks made in one turn share one script call, each charged in order and atomically", async () => {
    const store = createRedisStore({ command: client, up: true });
    const now = Date.UTC(2030, 0, 1);
    await store.hit(["ip:warm"], [bucket("ip:warm", 10)], now, strikes); // loads the script
    const before = await scriptCalls();
    const one = bucket("ip:198.51.100.7", 3);
    const results = await Promise.all([
      ...Array.from({ length: 5 }, () => store.hit([one.subject], [one], now, strikes)),
      ...Array.from({ length: 20 }, (_, i) => store.hit([`ip:203.0.113.${i}`], [bucket(`ip:203.0.113.${i}`, 3)], now, strikes)),
    ]);
    expect(await scriptCalls()).toBe(before + 1);
    // A budget of 3: the first three of the five are allowed, counting down; the rest refused.
    expect(results.slice(0, 5).map((r) => (r?.kind === "allowed" ? r.remaining : r?.kind))).toEqual([2, 1, 0, "limited", "limited"]);
    expect(results.slice(5).every((r) => r?.kind === "allowed" && r.remaining === 2)).toBe(true);
  });

  test("a ban answers every check of its subject in the batch", async () => {
    const store = createRedisStore({ command: client, up: true });
    const now = Date.UTC(2030, 0, 1);
    await store.ban("ip:192.0.2.66", now + 60_000, now, strikes);
    const [banned, other] = await Promise.all([
      store.hit(["ip:192.0.2.66"], [bucket("ip:192.0.2.66", 3)], now, strikes),
      store.hit(["ip:192.0.2.67"], [bucket("ip:192.0.2.67", 3)], now, strikes),
    ]);
    expect(banned).toEqual({ kind: "banned", subject: "ip:192.0.2.66", until: now + 60_000 });
    expect(other?.kind).toBe("allowed");
  });

  test("a failed script is `undefined` for each check (the caller falls back to memory)", async () => {
    // Never connected, no offline queue: every command fails at once, as while Redis is down.
    const broken = new Redis(redis.url, { maxRetriesPerRequest: 0, lazyConnect: true, enableOfflineQueue: false });
    broken.on("error", () => {});
    const store = createRedisStore({ command: broken, up: true });
    const results = await Promise.all(Array.from({ length: 3 }, (_, i) => store.hit([`ip:x${i}`], [bucket(`ip:x${i}`, 3)], 0, strikes)));
    expect(results).toEqual([undefined, undefined, undefined]);
    broken.disconnect();
  });
});
