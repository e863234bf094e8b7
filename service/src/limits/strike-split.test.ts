import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMemoryStore } from "./memory-store.ts";
import { createRedisStore } from "./redis-store.ts";
import { createBansRepo } from "./repo.ts";
import { createLimits, type Limits } from "./service.ts";
import { freshIp, limitsConfig } from "./test-kit.ts";

// Redis decides while it answers, this instance's memory while it does not: a client's strikes
// must add up whichever store counted each one. They used to be split: a round decided by memory
// (Redis stalled past the 250 ms command timeout, or down) counted from memory's own zero, and a
// round decided by Redis after an outage or a restart counted from Redis's, so a client due for a
// ban got one more 429. On a loaded machine escalation.test.ts failed that way.

const HOUR = 3_600_000;
// Only a bound: each test ends its pause itself (CLIENT UNPAUSE) once the round is decided.
const PAUSE_BOUND_MS = 30_000;

let redis: TestRedis;
let h: TestApp;
let admin: Redis;
const clock = { now: Date.UTC(2033, 0, 1) };

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp(limitsConfig(redis.url, { banAfterViolations: 2, banPermanentAfter: 1 }));
  admin = new Redis(redis.url, { maxRetriesPerRequest: 0, retryStrategy: () => 50 }).on("error", () => {});
  await waitFor("the service's Redis connection", () => h.deps.redis!.up, 20_000);
}, 30_000);
afterAll(async () => {
  admin?.disconnect();
  await h?.close();
  await redis?.stop();
}, 30_000);

/** One instance's limiter over the shared Redis and PostgreSQL, with memory of its own, on the test's clock. */
function instance(windowMs = HOUR): Limits {
  return createLimits({
    perMinute: { redirect: 3, read: 3, write: 3 },
    banAfterViolations: 2, violationWindowMs: windowMs, banDurationMs: HOUR, banPermanentAfter: 1,
    redis: createRedisStore(h.deps.redis!), memory: createMemoryStore(1_000),
    repo: createBansRepo(h.deps.db), metrics: h.deps.metrics, logger: silentLogger, now: () => clock.now,
  });
}

/** Spends the client's read budget and one more; the status of the last answer (200 if it passed). */
async function violate(limits: Limits, ip: string): Promise<number> {
  const request = { kind: "read", ip, keyHash: undefined } as const;
  for (let i = 0; i < 3; i++) await limits.check(request);
  const verdict = await limits.check(request);
  return verdict.pass ? 200 : verdict.error.status;
}

async function redisDown(): Promise<void> {
  await redis.stop();
  await waitFor("the service to see Redis down", () => !h.deps.redis!.up, 20_000);
}
async function redisBack(): Promise<void> {
  await redis.start();
  await waitFor("the service to see Redis back", () => h.deps.redis!.up, 20_000);
}

describe("a client's strikes add up whichever store counted them", () => {
  test("a round decided by memory while Redis stalls continues from the strikes Redis counted", async () => {
    const limits = instance();
    const ip = freshIp();
    expect(await violate(limits, ip)).toBe(429); // strike 1, counted by Redis
    clock.now += 61_000;
    // Redis stalls: every script of the next round passes the command timeout, memory decides.
    await admin.call("CLIENT", "PAUSE", String(PAUSE_BOUND_MS), "WRITE");
    let second: number;
    try {
      second = await violate(limits, ip);
    } finally {
      await admin.call("CLIENT", "UNPAUSE");
    }
    expect(second).toBe(403); // strike 2: the ban
    const rows = await createBansRepo(h.deps.db).active(new Date(clock.now));
    expect(rows.filter((r) => r.subject === ip).map((r) => r.level)).toEqual([1]);
  }, 20_000);

  test("a strike counted in memory while Redis was down counts in Redis when it is back", async () => {
    const limits = instance();
    const ip = freshIp();
    await redisDown();
    try {
      expect(await violate(limits, ip)).toBe(429); // strike 1, counted by memory
    } finally {
      await redisBack();
    }
    clock.now += 61_000;
    expect(await violate(limits, ip)).toBe(403); // strike 2, counted by Redis: the ban
  }, 30_000);

  test("strikes survive a Redis restart (it comes back empty)", async () => {
    const limits = instance();
    const ip = freshIp();
    expect(await violate(limits, ip)).toBe(429); // strike 1, counted by Redis
    await redisDown();
    await redisBack();
    clock.now += 61_000;
    expect(await violate(limits, ip)).toBe(403);
  }, 30_000);

  test("a ban starts a new count on every instance, also on one that saw the strikes before it", async () => {
    // A window longer than the ban, so the strikes before the ban are still in it afterwards.
    const a = instance(4 * HOUR);
    const b = instance(4 * HOUR);
    const ip = freshIp();
    expect(await violate(b, ip)).toBe(429); // strike 1, seen by b
    clock.now += 61_000;
    expect(await violate(a, ip)).toBe(403); // strike 2, by a: the ban
    clock.now += HOUR + 1_000; // the ban ends by itself
    expect(await violate(b, ip)).toBe(429); // strike 1 of a new count, not 2 from what b saw before
    clock.now += 61_000;
    expect(await violate(a, ip)).toBe(403); // strike 2: banned again, now for good
  }, 20_000);
});
