import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { once } from "node:events";
import { testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { ApiError } from "../http/errors.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMemoryStore } from "./memory-store.ts";
import { createRedisStore } from "./redis-store.ts";
import { createBansRepo } from "./repo.ts";
import { createLimits } from "./service.ts";
import type { LimitStore } from "./store.ts";
import { freshIp, limitsConfig } from "./test-kit.ts";

// Only a bound: the test ends the pause itself (CLIENT UNPAUSE) once the refused request has its
// answer, so whatever the limiter sent meanwhile hit the client's 250 ms timeout (redis.ts),
// however slow the machine. WRITE mode blocks scripts and writes, but not UNPAUSE or PING.
const PAUSE_BOUND_MS = 30_000;

let redis: TestRedis;
let h: TestApp;
let admin: Redis;
beforeAll(async () => {
  redis = await startRedis();
  h = await testApp(limitsConfig(redis.url, { banAfterViolations: 2, banPermanentAfter: 1 }));
  admin = new Redis(redis.url, { maxRetriesPerRequest: 0 });
  const command = h.deps.redis!.command;
  if (command.status !== "ready") await once(command, "ready");
}, 30_000);
afterAll(async () => {
  admin?.disconnect();
  await h?.close();
  await redis?.stop();
}, 30_000);

/** The real Redis store, with the real server paused (CLIENT PAUSE) as soon as it refuses a request. */
function pausingAfterRefusal(store: LimitStore): LimitStore {
  return {
    ...store,
    hit: async (...args: Parameters<LimitStore["hit"]>) => {
      const result = await store.hit(...args);
      if (result?.kind === "limited") await admin.call("CLIENT", "PAUSE", String(PAUSE_BOUND_MS), "WRITE");
      return result;
    },
  };
}

describe("Redis stalls right after it refuses a request", () => {
  // Regression: the strike was a second script after the refusal. When it timed out (a Redis or
  // an event loop stalled past 250 ms under load), the strike was dropped without a word, and a
  // client due for a ban got one more 429.
  test("the strike that refusal earned still counts, and the ban is issued on time", async () => {
    const clock = { now: Date.UTC(2032, 0, 1) };
    const limits = createLimits({
      perMinute: { redirect: 3, read: 3, write: 3 },
      banAfterViolations: 2, violationWindowMs: 3_600_000, banDurationMs: 3_600_000, banPermanentAfter: 1,
      redis: createRedisStore(h.deps.redis!), memory: createMemoryStore(1_000),
      repo: createBansRepo(h.deps.db), metrics: h.deps.metrics, logger: silentLogger, now: () => clock.now,
    });
    const stalling = createLimits({
      perMinute: { redirect: 3, read: 3, write: 3 },
      banAfterViolations: 2, violationWindowMs: 3_600_000, banDurationMs: 3_600_000, banPermanentAfter: 1,
      redis: pausingAfterRefusal(createRedisStore(h.deps.redis!)), memory: createMemoryStore(1_000),
      repo: createBansRepo(h.deps.db), metrics: h.deps.metrics, logger: silentLogger, now: () => clock.now,
    });
    let resyncs = 0;
    stalling.onRedisBack = () => { resyncs += 1; };
    const ip = freshIp();
    const request = { kind: "read", ip, keyHash: undefined } as const;
    const refusal = async (limiter: typeof limits) => {
      for (let i = 0; i < 3; i++) expect((await limiter.check(request)).pass).toBe(true);
      const verdict = await limiter.check(request);
      if (verdict.pass) throw new Error("the fourth request was let through");
      return verdict.error;
    };

    expect((await refusal(limits)).status).toBe(429); // strike 1, Redis answering
    clock.now += 61_000;
    const second = await refusal(stalling); // strike 2: Redis pauses right after the refusal
    await admin.call("CLIENT", "UNPAUSE");
    await h.deps.redis!.command.ping(); // after what the limiter queued on this connection during the pause
    expect(second).toBeInstanceOf(ApiError);
    expect({ status: second.status, message: second.message, extra: second.extra }).toEqual({
      status: 403,
      message: `this client is banned until ${new Date(clock.now + 3_600_000).toISOString()} for repeatedly exceeding rate limits`,
      extra: { until: new Date(clock.now + 3_600_000).toISOString() },
    });
    // The ban is PostgreSQL's record, and every instance that asks Redis sees it once it answers again.
    const rows = await createBansRepo(h.deps.db).active(new Date(clock.now));
    expect(rows.filter((r) => r.subject === ip).map((r) => ({ kind: r.kind, level: r.level }))).toEqual([{ kind: "ip", level: 1 }]);
    const elsewhere = await limits.check(request);
    expect(elsewhere.pass ? "passed" : elsewhere.error.status).toBe(403);
    // Its write to Redis timed out, so the first answer from Redis asks the sync to copy the bans in.
    expect(resyncs).toBe(0);
    const again = await stalling.check(request);
    expect(again.pass ? "passed" : again.error.status).toBe(403);
    expect(resyncs).toBe(1);
  }, 20_000);
});
