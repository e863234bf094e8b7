/**
 * The lookup chain over real PostgreSQL and a real redis-server: where each answer comes from,
 * that concurrent misses for one code cost one query (counted by wrapping the real lookup), and
 * what a closed gate (no LISTEN) does with the LRU.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { startRedis, type TestRedis } from "../../test/redis.ts";
import { createGate } from "../cache/invalidation.ts";
import { createLru } from "../cache/lru.ts";
import { createRedisTier } from "../cache/redis-tier.ts";
import { createMetrics } from "../metrics.ts";
import { createLookup } from "./lookup.ts";
import type { Lookup } from "./model.ts";
import { createRedirectRepo } from "./repo.ts";

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

/** A lookup of its own (own LRU, shared Redis) over the real PostgreSQL one, counting queries. */
function counted(opts: { redis?: boolean; resolve?: (c: string) => Promise<Lookup> } = {}) {
  const real = opts.resolve ?? createRedirectRepo(h.deps.sql).resolve;
  const queries: string[] = [];
  const gate = createGate();
  gate.trusted = true;
  const chain = createLookup({
    lru: createLru<Lookup>({ maxEntries: 1_000 }), tier: createRedisTier(opts.redis === false ? undefined : h.deps.redis), gate,
    resolve: (c) => { queries.push(c); return real(c); }, metrics: createMetrics(), ttlMs: 30_000, negativeTtlMs: 5_000,
  });
  return { chain, gate, queries };
}

describe("single-flight", () => {
  test("50 concurrent lookups of one unknown code make exactly one database query", async () => {
    const { chain, queries } = counted();
    const unknown = `zz${crypto.randomUUID().slice(0, 6)}`;
    const answers = await Promise.all(Array.from({ length: 50 }, () => chain.lookup(unknown)));
    expect(answers.every((r) => r.kind === "missing")).toBe(true);
    expect(queries).toEqual([unknown]);
    // An LRU hit is a plain value, not a promise.
    expect(chain.lookup(unknown)).toEqual({ kind: "missing", source: "lru" });
  });

  test("a database error reaches every waiter and is not cached", async () => {
    let fail = true;
    const { chain } = counted({ redis: false, resolve: async () => { if (fail) throw new Error("db down"); return { kind: "missing", source: "db" }; } });
    const results = await Promise.allSettled([chain.lookup("err001"), chain.lookup("err001")]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(await chain.lookup("err001")).toEqual({ kind: "missing", source: "db" });
  });
});

describe("where the answer came from (X-Cache)", () => {
  test("db first, lru next; another instance's first is redis", async () => {
    await h.deps.redis!.command.del(`lf:code:${code}`);
    const first = counted();
    const found: Lookup = { kind: "found", urlId, location: "https://flight.example/", source: "db" };
    expect(await first.chain.lookup(code)).toEqual(found);
    expect(first.chain.lookup(code)).toEqual({ ...found, source: "lru" });
    const second = counted();
    expect(await second.chain.lookup(code)).toEqual({ ...found, source: "redis" });
    expect([first.queries.length, second.queries.length]).toEqual([1, 0]);
  });
});

describe("a closed gate (the invalidation listener is not listening)", () => {
  test("the LRU does not answer alone: PostgreSQL does, and the entry stands in only when PostgreSQL fails", async () => {
    let down = false;
    const real = createRedirectRepo(h.deps.sql).resolve;
    const { chain, gate, queries } = counted({ redis: false, resolve: (c) => (down ? Promise.reject(new Error("db down")) : real(c)) });
    await chain.lookup(code);
    gate.trusted = false;
    expect((await chain.lookup(code)).source).toBe("db");
    down = true;
    expect(await chain.lookup(code)).toEqual({ kind: "found", urlId, location: "https://flight.example/", source: "lru" });
    expect(queries).toEqual([code, code, code]);
  });
});
