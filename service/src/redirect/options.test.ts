/**
 * A link's options on the redirect (issue #18), over real PostgreSQL and redis-server: expiry
 * (410 with the reason, judged from the cached value on every tier, no click) and query
 * forwarding (merged into Location; a link without it keeps Location byte for byte). Options are
 * set with SQL, as a migration-era row or the API would leave them.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { waitFor } from "../../test/wait.ts";
import { createGate } from "../cache/invalidation.ts";
import { createLru } from "../cache/lru.ts";
import { codeKey, createRedisTier } from "../cache/redis-tier.ts";
import type { Click } from "../clicks/model.ts";
import { createMetrics } from "../metrics.ts";
import { createLookup } from "./lookup.ts";
import { decode, type Lookup } from "./model.ts";
import { createRedirectRepo } from "./repo.ts";
import { createRedirectService } from "./service.ts";

let redis: TestRedis;
let h: TestApp;
let userId: number;

beforeAll(async () => {
  redis = await startRedis();
  h = await testApp({ redisUrl: redis.url });
  await waitFor("redis connection", () => h.deps.redis!.up, 20_000);
  userId = (await h.request("POST", "/users", { body: { username: "options", email: "options@example.com" } })).json.id;
}, 30_000);
afterAll(async () => {
  await h?.close();
  await redis?.stop();
}, 30_000);

async function link(target: string): Promise<{ id: number; code: string }> {
  const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: target } });
  expect(res.status, show(res)).toBe(201);
  return { id: res.json.id, code: res.json.short_code };
}

const follow = (path: string, method = "GET") => h.request(method, path, { key: null });
const clicksOf = async (urlId: number) => {
  await h.deps.clicks.flushNow();
  return (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked' and url_id = ${urlId}`)[0]!.n;
};
/** The row's expiry as the 410 message prints it: in UTC, to the ms, rounded up (never early). */
const expiryOf = async (urlId: number) =>
  (await h.deps.sql<{ at: string }[]>`select to_char(expires_at + interval '999 microseconds', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as at from urls where id = ${urlId}`)[0]!.at;

describe("an expired link", () => {
  test("answers 410 with when it expired, for GET and HEAD, and records no click", async () => {
    const { id, code } = await link("https://expired.example/");
    await h.deps.sql`update urls set expires_at = now() - interval '1 minute' where id = ${id}`;
    for (const method of ["GET", "HEAD", "GET"]) {
      const res = await follow(`/${code}`, method);
      expect(res.status, `${method} ${show(res)}`).toBe(410);
      expect(res.headers.get("content-type")).toContain("application/json");
      if (method === "GET") expect(res.json).toEqual({ error: "Gone", message: `short code ${code} expired at ${await expiryOf(id)}` });
    }
    expect(await clicksOf(id)).toBe(0);
  });

  test("one that expires later redirects and counts until then", async () => {
    const { id, code } = await link("https://later.example/");
    await h.deps.sql`update urls set expires_at = now() + interval '1 day' where id = ${id}`;
    const res = await follow(`/${code}`);
    expect(res.status, show(res)).toBe(302);
    expect(res.headers.get("location")).toBe("https://later.example/");
    expect(await clicksOf(id)).toBe(1);
  });

  test("an edit of expires_at reaches the cached answer at once, both ways", async () => {
    const { id, code } = await link("https://edited.example/");
    await waitFor("the link cached", async () => (await follow(`/${code}`)).headers.get("x-cache") === "lru", 5_000);
    await h.deps.sql`update urls set expires_at = now() - interval '1 second' where id = ${id}`;
    const gone = await waitFor("the 410", async () => { const r = await follow(`/${code}`); return r.status === 410 ? r : undefined; }, 5_000);
    expect(gone.json).toEqual({ error: "Gone", message: `short code ${code} expired at ${await expiryOf(id)}` });
    await h.deps.sql`update urls set expires_at = null where id = ${id}`;
    const back = await waitFor("the 302", async () => { const r = await follow(`/${code}`); return r.status === 302 ? r : undefined; }, 5_000);
    expect(back.headers.get("location")).toBe("https://edited.example/");
  });

  test("a Redis value past its expiry is a 410 from Redis: the cached value is judged, not trusted", async () => {
    const { id, code } = await link("https://planted.example/");
    // PostgreSQL says the link never expires; the value says it expired in 2001.
    await h.deps.redis!.command.set(codeKey(code), `o${id} 1000000000000 - - https://planted.example/`, "PX", 60_000);
    const res = await follow(`/${code}`);
    expect(res.status, show(res)).toBe(410);
    expect(res.headers.get("x-cache")).toBe("redis");
    expect(res.json).toEqual({ error: "Gone", message: `short code ${code} expired at 2001-09-09T01:46:40.000Z` });
  });
});

describe("a link cached on every tier, then expiring", () => {
  // Instances of their own over the app's PostgreSQL and Redis, on one clock the test moves.
  let now = 0;
  const clicks: Click[] = [];
  const instance = (useRedis = true) => {
    const gate = createGate();
    gate.trusted = true;
    const lookup = createLookup({
      lru: createLru<Lookup>({ maxEntries: 100 }), gate, metrics: createMetrics(), ttlMs: 600_000, negativeTtlMs: 5_000,
      tier: createRedisTier(useRedis ? h.deps.redis : undefined, { accept: (raw) => decode(raw) !== undefined }),
      resolve: createRedirectRepo(h.deps.sql).resolve,
    });
    return createRedirectService({ lookup: lookup.lookup, clicks: { record: (c) => { clicks.push(c); }, flushNow: async () => {}, stop: async () => {} }, now: () => now });
  };
  const visit = { referrer: null, userAgent: null };

  test("answers 410 from the LRU, from Redis and from PostgreSQL once the clock passes the expiry", async () => {
    const { id, code } = await link("https://tiers.example/");
    await h.deps.sql`update urls set expires_at = '2030-01-01T00:00:00', forward_query = true where id = ${id}`;
    const expiresAt = Date.UTC(2030, 0, 1);
    const options = { expiresAt, forwardQuery: true };
    // The app heard the edit and wrote a tombstone, which would keep the first fill out of Redis.
    await waitFor("the edit's tombstone", async () => (await h.deps.redis!.command.get(codeKey(code))) === "t", 5_000);
    await h.deps.redis!.command.del(codeKey(code));
    const first = instance();
    now = expiresAt - 1;
    expect(await first.follow(code, visit)).toEqual({ kind: "found", urlId: id, location: "https://tiers.example/", source: "db", options });
    await waitFor("the Redis fill", async () => (await h.deps.redis!.command.get(codeKey(code)))?.startsWith("o"), 5_000);
    expect(await first.follow(code, visit)).toMatchObject({ kind: "found", source: "lru", options });
    const second = instance();
    expect(await second.follow(code, visit)).toMatchObject({ kind: "found", source: "redis", options });
    expect(clicks.filter((c) => c.urlId === id)).toHaveLength(3);

    now = expiresAt;
    const expired = { kind: "expired" as const, expiresAt };
    expect(await first.follow(code, visit)).toEqual({ ...expired, source: "lru" });
    expect(await second.follow(code, visit)).toEqual({ ...expired, source: "lru" });
    expect(await instance().follow(code, visit)).toEqual({ ...expired, source: "redis" });
    expect(await instance(false).follow(code, visit)).toEqual({ ...expired, source: "db" });
    expect(clicks.filter((c) => c.urlId === id)).toHaveLength(3);
  });
});

describe("query forwarding", () => {
  test("merges the visitor's query before the destination's fragment, after its own query", async () => {
    const { id, code } = await link("https://fwd.example/p?a=1#top");
    await h.deps.sql`update urls set forward_query = true where id = ${id}`;
    const cases: [string, string][] = [
      ["?utm_source=news&x=%20y", "https://fwd.example/p?a=1&utm_source=news&x=%20y#top"],
      ["", "https://fwd.example/p?a=1#top"],
      ["?", "https://fwd.example/p?a=1#top"],
      ["?@evil.example", "https://fwd.example/p?a=1&@evil.example#top"],
      ["?x=%0d%0aSet-Cookie:%20a=b", "https://fwd.example/p?a=1&x=%0d%0aSet-Cookie:%20a=b#top"],
    ];
    for (const [query, location] of cases) {
      for (const tier of ["first", "again"]) {
        const res = await follow(`/${code}${query}`);
        expect(res.status, `${query} ${tier}: ${show(res)}`).toBe(302);
        expect(res.headers.get("location"), `${query} ${tier}`).toBe(location);
        expect(res.headers.get("set-cookie")).toBeNull();
      }
    }
    expect(await clicksOf(id)).toBe(cases.length * 2);
  });

  test("set and cleared through the API, it reaches a cached redirect at once", async () => {
    const { id, code } = await link("https://api-fwd.example/p");
    await waitFor("the link cached", async () => (await follow(`/${code}?utm=1`)).headers.get("x-cache") === "lru", 5_000);
    expect((await follow(`/${code}?utm=1`)).headers.get("location")).toBe("https://api-fwd.example/p");
    const on = await h.request("PUT", `/urls/${id}`, { body: { forward_query: true, expires_at: "2099-01-01T00:00:00Z" } });
    expect(on.status, show(on)).toBe(200);
    expect((await follow(`/${code}?utm=1`)).headers.get("location")).toBe("https://api-fwd.example/p?utm=1");
    const off = await h.request("PUT", `/urls/${id}`, { body: { forward_query: false, expires_at: null } });
    expect(off.status, show(off)).toBe(200);
    expect((await follow(`/${code}?utm=1`)).headers.get("location")).toBe("https://api-fwd.example/p");
    expect((await h.deps.redis!.command.get(codeKey(code))) ?? "").not.toStartWith("o");
  });

  test("is off by default: Location is the stored URL byte for byte whatever the query", async () => {
    const target = "HTTPS://Plain.example/a/../b/%7e?q=%41#Frag";
    const { code } = await link(target);
    for (const query of ["", "?utm=1", "?@evil.example"]) {
      const res = await follow(`/${code}${query}`);
      expect(res.status, show(res)).toBe(302);
      expect(res.headers.get("location")).toBe(target);
    }
  });
});
