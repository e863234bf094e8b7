/** The in-process tier alone: the entry bound, recency, and TTLs on an injected clock (no sleeps). */
import { describe, expect, test } from "bun:test";
import { createLru } from "./lru.ts";
import { ttlOf } from "./cached-resolve.ts";
import { decode, encode } from "./redis-tier.ts";
import type { Resolution } from "../redirect/model.ts";

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => { t += ms; } };
}

describe("lru", () => {
  test("holds at most maxEntries and evicts the least recently used", () => {
    const lru = createLru<number>({ maxEntries: 3 });
    lru.set("a", 1, 60_000);
    lru.set("b", 2, 60_000);
    lru.set("c", 3, 60_000);
    expect(lru.get("a")).toBe(1); // a is now the most recent; b the least
    lru.set("d", 4, 60_000);
    expect(lru.size).toBe(3);
    expect([lru.get("a"), lru.get("b"), lru.get("c"), lru.get("d")]).toEqual([1, undefined, 3, 4]);
  });

  test("re-setting a key does not count twice against the bound", () => {
    const lru = createLru<number>({ maxEntries: 2 });
    lru.set("a", 1, 60_000);
    lru.set("a", 2, 60_000);
    lru.set("b", 3, 60_000);
    expect([lru.size, lru.get("a"), lru.get("b")]).toEqual([2, 2, 3]);
  });

  test("an entry expires after its own TTL and is dropped on read", () => {
    const c = clock();
    const lru = createLru<string>({ maxEntries: 10, now: c.now });
    lru.set("long", "x", 30_000);
    lru.set("short", "y", 5_000);
    c.advance(4_999);
    expect([lru.get("long"), lru.get("short")]).toEqual(["x", "y"]);
    c.advance(1);
    expect([lru.get("long"), lru.get("short")]).toEqual(["x", undefined]);
    expect(lru.size).toBe(1);
    c.advance(25_000);
    expect(lru.get("long")).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  test("delete and clear drop entries", () => {
    const lru = createLru<number>({ maxEntries: 10 });
    lru.set("a", 1, 1_000);
    lru.set("b", 2, 1_000);
    lru.delete("a");
    expect([lru.get("a"), lru.get("b")]).toEqual([undefined, 2]);
    lru.clear();
    expect(lru.size).toBe(0);
  });
});

describe("negative entries", () => {
  const ttls = { ttlMs: 30_000, negativeTtlMs: 5_000 };
  const found: Resolution = { kind: "found", target: { urlId: 7, shortCode: "abc123", originalUrl: "https://example.com/a b?c=1" } };

  test("unknown codes get the negative TTL; found and inactive codes the positive one", () => {
    expect(ttlOf({ kind: "missing" }, ttls)).toBe(5_000);
    expect(ttlOf({ kind: "inactive" }, ttls)).toBe(30_000);
    expect(ttlOf(found, ttls)).toBe(30_000);
  });

  test("a negative entry answers 'missing' until its TTL, then misses", () => {
    const c = clock();
    const lru = createLru<Resolution>({ maxEntries: 10, now: c.now });
    lru.set("nope01", { kind: "missing" }, ttlOf({ kind: "missing" }, ttls));
    lru.set("abc123", found, ttlOf(found, ttls));
    c.advance(5_000);
    expect(lru.get("nope01")).toBeUndefined();
    expect(lru.get("abc123")).toEqual(found);
  });

  test("the Redis encoding round-trips every kind, and junk is a miss", () => {
    for (const r of [found, { kind: "inactive" }, { kind: "missing" }] as Resolution[]) {
      expect(decode("abc123", encode(r))).toEqual(r);
    }
    for (const junk of ["", "x", "f", "f12", "fx https://a", "f https://a"]) expect(decode("abc123", junk)).toBeUndefined();
  });
});
