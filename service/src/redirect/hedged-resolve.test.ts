/** Which answer a hedged lookup takes, with the primary's and the standby's answers in the test's hands (no timing thresholds). */
import { describe, expect, test } from "bun:test";
import { createHedgedResolve, fromStandby, type StandbyRead } from "./hedged-resolve.ts";
import { inactive, missing, type Lookup } from "./model.ts";

interface Pending { promise: Promise<Lookup>; resolve(value: Lookup): void; reject(error: unknown): void }
function pending(): Pending {
  let resolve!: (value: Lookup) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<Lookup>((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

const found = (location: string, maxClicks?: number): Lookup =>
  maxClicks === undefined ? { kind: "found", urlId: 1, location, source: "db" } : { kind: "found", urlId: 1, location, source: "db", options: { maxClicks } };

/** A hedged lookup whose primary and standby answer when the test says; `standbyAsked` resolves once the standby is asked. */
function setup(hedgeAfterMs: number) {
  const primary = pending();
  const standby = pending();
  let asked!: () => void;
  const standbyAsked = new Promise<void>((res) => { asked = res; });
  const reads: StandbyRead[] = [];
  const resolve = createHedgedResolve({
    primary: () => primary.promise,
    standby: () => { asked(); return standby.promise; },
    onStandbyRead: (r) => reads.push(r),
    hedgeAfterMs,
  });
  return { primary, standby, standbyAsked, reads, answer: resolve("abc") };
}

describe("hedged resolve", () => {
  test("a primary that answers in time is the answer, and the standby is not asked", async () => {
    const s = setup(60_000);
    s.primary.resolve(missing("db"));
    expect(await s.answer).toEqual(missing("db"));
    expect(s.reads).toEqual([]);
  });

  test("a slow primary: the standby's found link is the answer, marked not to cache", async () => {
    const s = setup(1);
    await s.standbyAsked;
    s.standby.resolve(found("https://a.example/"));
    const answer = await s.answer;
    expect(answer).toEqual(found("https://a.example/"));
    expect(fromStandby(answer)).toBe(true);
    expect(s.reads).toEqual(["found"]);
  });

  test("a failed primary asks the standby at once", async () => {
    const s = setup(60_000);
    s.primary.reject(new Error("connection refused"));
    await s.standbyAsked;
    s.standby.resolve(found("https://b.example/"));
    expect(await s.answer).toEqual(found("https://b.example/"));
  });

  test("the standby's missing, inactive or capped answer is never taken: the primary's error stands", async () => {
    for (const unusable of [missing("db"), inactive("db"), found("https://capped.example/", 5)]) {
      const s = setup(1);
      await s.standbyAsked;
      s.standby.resolve(unusable);
      const down = new Error("primary down");
      s.primary.reject(down);
      expect(await s.answer.catch((e: unknown) => e)).toBe(down);
      expect(s.reads).toEqual(["unusable"]);
    }
  });

  test("after an unusable standby answer, a late primary answer is the answer", async () => {
    const s = setup(1);
    await s.standbyAsked;
    s.standby.resolve(missing("db"));
    await Bun.sleep(0);
    s.primary.resolve(found("https://late.example/"));
    const answer = await s.answer;
    expect(answer).toEqual(found("https://late.example/"));
    expect(fromStandby(answer)).toBe(false);
  });

  test("both failing: the primary's error", async () => {
    const s = setup(60_000);
    const down = new Error("primary down");
    s.primary.reject(down);
    await s.standbyAsked;
    s.standby.reject(new Error("standby down"));
    expect(await s.answer.catch((e: unknown) => e)).toBe(down);
    expect(s.reads).toEqual(["failed"]);
  });
});
