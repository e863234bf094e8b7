/**
 * Redis is an accelerator: a real redis-server is stopped mid-run, redirects and writes keep
 * working with no 5xx, and once it is back the shared tier fills again. Invalidation does not
 * ride on Redis, so its outage costs the LRU nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";

let redis: TestRedis;
let h: TestApp;
let userId: number;

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp({ redisUrl: redis.url });
  userId = (await h.request("POST", "/users", { body: { username: "outage", email: "outage@example.com" } })).json.id;
}, 30_000);
afterAll(async () => {
  await h.close();
  await redis.stop();
}, 30_000);

const follow = (code: string) => h.request("GET", `/${code}`, { key: null });

async function newLink(n: number) {
  const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: `https://outage.example/${n}` } });
  expect(res.status, show(res)).toBe(201);
  return res.json as { id: number; short_code: string };
}

/** Polls every 20 ms for at most `ms` (ioredis retries at most every 2 s). */
async function until(done: () => Promise<boolean> | boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (await done()) return true;
    await Bun.sleep(20);
  }
  return done();
}

describe("Redis stopped mid-run", () => {
  test("redirects and writes keep working, then the cache fills again", async () => {
    expect(await until(() => h.deps.redis!.up, 2_000)).toBe(true);
    const before = await newLink(1);
    expect((await follow(before.short_code)).status).toBe(302);
    expect(await h.deps.redis!.command.get(`lf:code:${before.short_code}`)).not.toBeNull();

    await redis.stop();
    expect(await until(() => !h.deps.redis!.up, 2_000)).toBe(true);

    // Cached and uncached redirects, a create, a deactivation and an unknown code: no 5xx.
    const cached = await follow(before.short_code);
    expect(cached.status, show(cached)).toBe(302);
    const during = await newLink(2);
    const fresh = await follow(during.short_code);
    expect(fresh.status, show(fresh)).toBe(302);
    expect(fresh.headers.get("location")).toBe("https://outage.example/2");
    expect((await h.deps.cache.lookup(during.short_code)).source).toBe("lru");
    const put = await h.request("PUT", `/urls/${before.id}`, { body: { is_active: false } });
    expect(put.status, show(put)).toBe(200);
    expect((await follow(before.short_code)).status).toBe(410);
    expect((await follow("nosuch1")).status).toBe(404);
    const metrics = await h.deps.metrics.registry.metrics();
    expect(metrics).toMatch(/linkfort_cache_lookups_total\{tier="redis",result="error"\} [1-9]/);

    await redis.start();
    expect(await until(() => h.deps.redis!.up, 5_000)).toBe(true);
    // Invalidation never rode on Redis, so the LRU kept what it held...
    expect((await h.deps.cache.lookup(during.short_code)).source).toBe("lru");
    // ...and the shared tier, empty after the restart, fills again from the next LRU miss
    // (a link created now: nothing cached it yet). A 404 stays local: Redis never holds one.
    const after = await newLink(3);
    expect((await follow(after.short_code)).status).toBe(302);
    expect(await h.deps.redis!.command.get(`lf:code:${after.short_code}`)).not.toBeNull();
    expect((await follow("nosuch2")).status).toBe(404);
    expect(await h.deps.redis!.command.get("lf:code:nosuch2")).toBeNull();
    expect((await follow(before.short_code)).status).toBe(410);
  }, 20_000);
});
