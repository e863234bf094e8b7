/**
 * The cached lookup over real PostgreSQL and a real redis-server: where each answer comes from,
 * and that concurrent misses for one code cost one query (counted by wrapping the real resolve).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { silentLogger } from "../lib/logger.ts";
import { createMetrics } from "../metrics.ts";
import { createRedirectRepo } from "../redirect/repo.ts";
import type { Resolution, Resolve } from "../redirect/model.ts";
import { createCache } from "./cache.ts";

let redis: TestRedis;
let h: TestApp;
let code: string;
let urlId: number;

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp({ redisUrl: redis.url });
  const user = await h.request("POST", "/users", { body: { username: "flight", email: "flight@example.com" } });
  const url = await h.request("POST", "/urls", { body: { user_id: user.json.id, original_url: "https://flight.example/" } });
  expect(url.status, show(url)).toBe(201);
  code = url.json.short_code;
  urlId = url.json.id;
  for (let i = 0; i < 100 && !h.deps.redis!.up; i++) await Bun.sleep(10);
}, 30_000);
afterAll(async () => {
  await h.close();
  await redis.stop();
}, 30_000);

/** A cache of its own (own LRU, shared Redis) over the real lookup, counting database queries. */
function countedCache(opts: { redis?: boolean; now?: () => number } = {}) {
  const real = createRedirectRepo(h.deps.sql).resolve;
  const queries: string[] = [];
  const resolve: Resolve = (c) => { queries.push(c); return real(c); };
  const cache = createCache({
    resolve, redis: opts.redis === false ? undefined : h.deps.redis, metrics: createMetrics(), logger: silentLogger,
    maxEntries: 1_000, ttlMs: 30_000, negativeTtlMs: 5_000, now: opts.now,
  });
  return { cache, queries };
}

describe("single-flight", () => {
  test("50 concurrent lookups of one unknown code make exactly one database query", async () => {
    const { cache, queries } = countedCache();
    const unknown = `zz${crypto.randomUUID().slice(0, 6)}`;
    const answers = await Promise.all(Array.from({ length: 50 }, () => cache.resolve(unknown)));
    expect(answers.every((r) => r.kind === "missing")).toBe(true);
    expect(queries).toEqual([unknown]);
    // Within the negative TTL the next wave is answered by the LRU.
    await Promise.all(Array.from({ length: 50 }, () => cache.resolve(unknown)));
    expect(queries).toEqual([unknown]);
    cache.stop();
  });

  test("without Redis too, and past the negative TTL the shared tier still spares PostgreSQL", async () => {
    let t = 0;
    const local = countedCache({ redis: false, now: () => t });
    const unknown = `zy${crypto.randomUUID().slice(0, 6)}`;
    await Promise.all(Array.from({ length: 50 }, () => local.cache.resolve(unknown)));
    expect(local.queries).toEqual([unknown]);
    t += 5_000; // the LRU's negative entry is gone: the next lookup is a fresh query
    await local.cache.resolve(unknown);
    expect(local.queries).toEqual([unknown, unknown]);

    const shared = countedCache({ now: () => t });
    await shared.cache.resolve(unknown); // fills Redis with "missing"
    t += 5_000;
    expect(await shared.cache.resolveWithSource(unknown)).toEqual({ resolution: { kind: "missing" }, source: "redis" });
    expect(shared.queries).toEqual([unknown]);
  });

  test("a database error reaches every waiter and is not cached", async () => {
    let fail = true;
    const cache = createCache({
      resolve: async () => { if (fail) throw new Error("db down"); return { kind: "missing" }; },
      redis: undefined, metrics: createMetrics(), logger: silentLogger, maxEntries: 10, ttlMs: 1_000, negativeTtlMs: 1_000,
    });
    const results = await Promise.allSettled([cache.resolve("err001"), cache.resolve("err001")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(await cache.resolveWithSource("err001")).toEqual({ resolution: { kind: "missing" }, source: "db" });
  });
});

describe("where the answer came from (X-Cache)", () => {
  test("db on the first lookup, lru on the second; another instance's first is redis", async () => {
    await h.deps.redis!.command.del(`lf:code:${code}`);
    const first = countedCache();
    const expected: Resolution = { kind: "found", target: { urlId, shortCode: code, originalUrl: "https://flight.example/" } };
    expect(await first.cache.resolveWithSource(code)).toEqual({ resolution: expected, source: "db" });
    expect(await first.cache.resolveWithSource(code)).toEqual({ resolution: expected, source: "lru" });
    const second = countedCache();
    expect((await second.cache.resolveWithSource(code)).source).toBe("redis");
    expect((await second.cache.resolveWithSource(code)).source).toBe("lru");
    expect([first.queries.length, second.queries.length]).toEqual([1, 0]);
  });

  test("the app's own redirect goes through the cache: lru after the first redirect", async () => {
    const res = await h.app.handle(new Request(`http://localhost/${code}`));
    expect(res.status).toBe(302);
    expect((await h.deps.cache.resolveWithSource(code)).source).toBe("lru");
    const metrics = await h.deps.metrics.registry.metrics();
    expect(metrics).toContain('linkfort_cache_lookups_total{tier="lru",result="hit"}');
    expect(metrics).toMatch(/linkfort_cache_entries [1-9]/);
  });
});
