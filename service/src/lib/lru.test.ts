/** The linked-list LRU: recency, the bound, and a random walk against a plain reference model. */
import { describe, expect, test } from "bun:test";
import { LruMap } from "./lru.ts";

describe("LruMap", () => {
  test("a read makes an entry the most recent; an insert past the bound drops the least recent", () => {
    const lru = new LruMap<number>(3);
    lru.set("a", 1);
    lru.set("b", 2);
    lru.set("c", 3);
    expect(lru.get("a")).toBe(1);
    expect([...lru.keys()]).toEqual(["b", "c", "a"]);
    lru.set("d", 4);
    expect([...lru.keys()]).toEqual(["c", "a", "d"]);
    expect([lru.size, lru.get("b")]).toEqual([3, undefined]);
  });

  test("replacing a value refreshes it without growing; peek reads without refreshing", () => {
    const lru = new LruMap<string>(2);
    lru.set("a", "1");
    lru.set("b", "2");
    lru.set("a", "3");
    expect(lru.peek("b")).toBe("2");
    lru.set("c", "4"); // b is the least recent: peek did not refresh it
    expect([...lru.keys()]).toEqual(["a", "c"]);
    expect(lru.get("a")).toBe("3");
  });

  test("deleting the oldest, the newest or one in between keeps the list whole", () => {
    const lru = new LruMap<number>(10);
    for (const [i, key] of ["a", "b", "c", "d", "e"].entries()) lru.set(key, i);
    lru.delete("a");
    lru.delete("e");
    lru.delete("c");
    lru.delete("zz");
    expect([...lru.keys()]).toEqual(["b", "d"]);
    lru.delete("b");
    lru.delete("d");
    expect([lru.size, [...lru.keys()]]).toEqual([0, []]);
    lru.set("f", 6);
    expect([...lru.keys()]).toEqual(["f"]);
    lru.clear();
    expect([lru.size, lru.get("f"), [...lru.keys()]]).toEqual([0, undefined, []]);
  });

  test("a bound of one keeps the last entry; a bound below one is refused", () => {
    const lru = new LruMap<number>(1);
    lru.set("a", 1);
    lru.set("b", 2);
    expect([...lru.keys()]).toEqual(["b"]);
    expect(() => new LruMap<number>(0)).toThrow("at least one entry");
  });

  test("10,000 random operations agree with a reference that keeps keys in recency order", () => {
    let seed = 42;
    const random = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % n);
    const lru = new LruMap<number>(50);
    const model: [string, number][] = []; // least recent first
    const find = (key: string) => model.findIndex(([k]) => k === key);
    for (let step = 0; step < 10_000; step++) {
      const key = `k${random(80)}`;
      const op = random(4);
      if (op === 0) {
        const at = find(key);
        const expected = at < 0 ? undefined : model.splice(at, 1)[0]!;
        if (expected) model.push(expected);
        expect(lru.get(key)).toBe(expected?.[1]);
      } else if (op === 1 || op === 2) {
        const at = find(key);
        if (at >= 0) model.splice(at, 1);
        model.push([key, step]);
        if (model.length > 50) model.shift();
        lru.set(key, step);
      } else {
        const at = find(key);
        if (at >= 0) model.splice(at, 1);
        lru.delete(key);
      }
      expect(lru.size).toBe(model.length);
    }
    expect([...lru.keys()]).toEqual(model.map(([k]) => k));
  });
});
