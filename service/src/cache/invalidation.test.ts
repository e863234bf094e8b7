/**
 * Three instances on one database, without Redis and with it: every instance has the link in its
 * LRU, a write returns through one of them, and right after it every redirect on every instance
 * reflects the write. Before invalidation went through PostgreSQL, without Redis 21 of 30
 * redirects after a deactivation were still 302 (the LRU's 30 s TTL was the only bound).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show } from "../../test/harness.ts";
import { startInstances, type Instance, type Instances } from "../../test/instances.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";

const N = 20; // redirects per instance after each write

for (const withRedis of [false, true]) {
  describe(withRedis ? "with Redis" : "without Redis", () => {
    let redis: TestRedis | undefined;
    let fleet: Instances;
    let userId: number;

    beforeAll(async () => {
      redis = withRedis ? await startRedis() : undefined;
      fleet = await startInstances(3, redis ? { redisUrl: redis.url } : {});
      const user = await fleet.h.request("POST", "/users", { body: { username: `inv${withRedis ? "r" : "p"}`, email: `inv${withRedis}@example.com` } });
      expect(user.status, show(user)).toBe(201);
      userId = user.json.id;
      // A write waits for the instances it has heard from; each announces itself once listening.
      await waitFor("every instance knows the other two", () => fleet.all.every((i) => i.deps.cache.peers === 2), 10_000);
    }, 30_000);
    afterAll(async () => {
      await fleet.close();
      await redis?.stop();
    }, 30_000);

    async function newLink(target: string, owner = userId) {
      const res = await fleet.h.request("POST", "/urls", { body: { user_id: owner, original_url: target } });
      expect(res.status, show(res)).toBe(201);
      return res.json as { id: number; short_code: string };
    }

    /** Until every instance answers `code` from its LRU (so a stale entry would show). */
    async function warm(code: string) {
      // The link's own creation may reach an instance just after it filled its LRU, and evict it.
      for (const instance of fleet.all) await waitFor(`${instance.port} caches ${code}`, async () => (await instance.follow(code)).cache === "lru", 5_000);
    }

    /** N redirects on every instance; the ones that do not satisfy `fresh`. */
    async function stale(code: string, fresh: (r: Awaited<ReturnType<Instance["follow"]>>) => boolean): Promise<string[]> {
      const wrong: string[] = [];
      for (let n = 0; n < N; n++) {
        for (const instance of fleet.all) {
          const r = await instance.follow(code);
          if (!fresh(r)) wrong.push(`${instance.port}: ${r.status} ${r.location} (${r.cache})`);
        }
      }
      return wrong;
    }

    /** The write goes through instance `via` with the admin key (its answer comes after its settle). */
    const write = (via: number, method: string, path: string, body?: unknown) =>
      fleet.all[via]!.app.handle(new Request(`http://localhost${path}`, {
        method, body: body === undefined ? undefined : JSON.stringify(body),
        headers: body === undefined ? { authorization: `Bearer ${fleet.h.adminKey}` } : { authorization: `Bearer ${fleet.h.adminKey}`, "content-type": "application/json" },
      }));

    test("deactivate: no instance answers 302 once the PUT returned", async () => {
      const link = await newLink("https://deactivate.example/");
      await warm(link.short_code);
      expect((await write(1, "PUT", `/urls/${link.id}`, { is_active: false })).status).toBe(200);
      expect(await stale(link.short_code, (r) => r.status === 410)).toEqual([]);
    });

    test("re-target: every instance redirects to the new original_url once the PUT returned", async () => {
      const link = await newLink("https://old.example/");
      await warm(link.short_code);
      expect((await write(2, "PUT", `/urls/${link.id}`, { original_url: "https://new.example/" })).status).toBe(200);
      expect(await stale(link.short_code, (r) => r.status === 302 && r.location === "https://new.example/")).toEqual([]);
    });

    test("delete: every instance answers 404 once the DELETE returned", async () => {
      const link = await newLink("https://delete.example/");
      await warm(link.short_code);
      expect((await write(0, "DELETE", `/urls/${link.id}`)).status).toBe(204);
      expect(await stale(link.short_code, (r) => r.status === 404)).toEqual([]);
    });

    test("user delete: each of the user's links answers 404 on every instance once the DELETE returned", async () => {
      const owner = (await fleet.h.request("POST", "/users", { body: { username: `gone${withRedis}`, email: `gone${withRedis}@example.com` } })).json.id;
      const links = [await newLink("https://u1.example/", owner), await newLink("https://u2.example/", owner)];
      for (const link of links) await warm(link.short_code);
      expect((await write(1, "DELETE", `/users/${owner}`)).status).toBe(204);
      for (const link of links) expect(await stale(link.short_code, (r) => r.status === 404)).toEqual([]);
    });

    test("create after a cached 404: every instance redirects once the write returned", async () => {
      const code = `cr${withRedis ? "r" : "p"}${crypto.randomUUID().slice(0, 6)}`;
      for (const instance of fleet.all) {
        await instance.follow(code);
        expect(await instance.follow(code)).toEqual({ status: 404, location: null, cache: "lru" });
      }
      const writer = fleet.all[2]!;
      // The API draws codes at random, so a chosen code comes in as an import writes it: an
      // INSERT (the trigger notifies), then the writer's settle, as every write path does.
      await fleet.h.deps.sql`insert into urls (user_id, short_code, original_url) values (${userId}, ${code}, 'https://created.example/')`;
      await writer.deps.cache.settle([code]);
      expect(await stale(code, (r) => r.status === 302 && r.location === "https://created.example/")).toEqual([]);
    });

    test("a write waits for its own instance to hear it: settle took well under its 100 ms bound", async () => {
      const metric = (await fleet.all[1]!.deps.metrics.cacheSettle.get()).values;
      const count = metric.find((v) => v.metricName === "linkfort_cache_settle_seconds_count")?.value ?? 0;
      const sum = metric.find((v) => v.metricName === "linkfort_cache_settle_seconds_sum")?.value ?? 0;
      expect(count).toBeGreaterThan(0);
      console.log(`[timing] ${withRedis ? "with" : "without"} Redis: settle mean ${((sum / count) * 1000).toFixed(2)} ms over ${count} writes`);
      expect(sum / count).toBeLessThan(0.1);
    });
  });
}
