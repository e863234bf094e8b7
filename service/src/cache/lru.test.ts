/** The in-process tier alone: the entry bound, recency, and TTLs on an injected clock (no sleeps). */
import { describe, expect, test } from "bun:test";
import { createLru } from "./lru.ts";
import { decode, encode, type Lookup } from "../redirect/model.ts";

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

  test("an entry expires after its own TTL; stale still reads it until the bound pushes it out", () => {
    const c = clock();
    const lru = createLru<string>({ maxEntries: 2, now: c.now });
    lru.set("long", "x", 30_000);
    lru.set("short", "y", 5_000);
    c.advance(4_999);
    expect([lru.get("long"), lru.get("short")]).toEqual(["x", "y"]);
    c.advance(1);
    expect([lru.get("long"), lru.get("short"), lru.stale("short")]).toEqual(["x", undefined, "y"]);
    c.advance(25_000);
    expect([lru.get("long"), lru.stale("long"), lru.size]).toEqual([undefined, "x", 2]);
    // Reading "long" made it the more recent of the two expired ones: "short" goes first.
    lru.set("new", "z", 1_000);
    expect([lru.stale("long"), lru.stale("short"), lru.get("new"), lru.size]).toEqual(["x", undefined, "z", 2]);
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

describe("the Redis tier's encoding (redirect/model.ts)", () => {
  test("round-trips every kind as the Redis tier reads it, and junk or a tombstone is a miss", () => {
    const found: Lookup = { kind: "found", urlId: 7, location: "https://example.com/a?c=1", source: "db" };
    expect(decode(encode(found))).toEqual({ ...found, source: "redis" });
    expect(decode(encode({ kind: "inactive", source: "db" }))).toEqual({ kind: "inactive", source: "redis" });
    expect(decode(encode({ kind: "missing", source: "db" }))).toEqual({ kind: "missing", source: "redis" });
    for (const junk of ["", "x", "t", "f", "f12", "fx https://a", "f https://a"]) expect(decode(junk)).toBeUndefined();
  });

  // Redis values are input like any other: only exactly what encode writes is a hit; the lookup then asks
  // PostgreSQL and fills Redis afresh (cache/redis-values.test.ts).
  test("an entry an older release wrote (the raw original_url, not header-safe) is a miss", () => {
    expect(decode("f9 https://example.com/ä b")).toBeUndefined();
  });
});
