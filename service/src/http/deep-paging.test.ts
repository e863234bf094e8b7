/**
 * Regression: `?page=1000000&per_page=100` made PostgreSQL read every row before the offset; on a
 * large table that ran to the statement timeout while holding a pool connection, and a few such
 * requests starved the pool. A page may now start at most MAX_PAGE_OFFSET rows deep (400 beyond),
 * and `after_id` pages by key at any depth.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { MAX_PAGE_OFFSET } from "./params.ts";

let h: TestApp;
// A pool of two: deep pages that held connections would starve it at once.
beforeAll(async () => { h = await testApp({ dbPoolMax: 2 }); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const LISTS = ["/users", "/urls", "/events"];

describe.each(LISTS)("GET %s", (list) => {
  test("a page deeper than the bound is a 400 that names after_id, at once", async () => {
    const started = performance.now();
    const res = await h.request("GET", `${list}?page=1000000&per_page=100`);
    const ms = performance.now() - started;
    expect(res.status, show(res)).toBe(400);
    expect(res.json).toEqual({
      error: "Bad Request",
      message: `page 1000000 of 100 rows starts 99999900 rows deep; a page may start at most ${MAX_PAGE_OFFSET} rows deep: read further with after_id=<the last id you have>`,
      max_offset: MAX_PAGE_OFFSET,
    });
    expect(ms).toBeLessThan(1_000);
  });

  test("the deepest page within the bound still answers, past the end as []", async () => {
    const res = await h.request("GET", `${list}?page=${MAX_PAGE_OFFSET / 100 + 1}&per_page=100`);
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual([]);
  });

  test("after_id beyond any id is an empty page, not an error", async () => {
    const res = await h.request("GET", `${list}?after_id=99999999999`);
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual([]);
  });
});

describe("after_id", () => {
  test("continues a list where the last page ended, with page and per_page applying after it", async () => {
    const ids: number[] = [];
    for (const n of [1, 2, 3, 4]) {
      const res = await h.request("POST", "/users", { body: { username: `after-id-${n}`, email: `after-id-${n}@example.com` } });
      expect(res.status, show(res)).toBe(201);
      ids.push(res.json.id);
    }
    const next = await h.request("GET", `/users?after_id=${ids[0]}&per_page=2`);
    expect(next.json.map((u: { id: number }) => u.id), show(next)).toEqual([ids[1], ids[2]]);
    const second = await h.request("GET", `/users?after_id=${ids[0]}&per_page=2&page=2`);
    expect(second.json.map((u: { id: number }) => u.id), show(second)).toEqual([ids[3]]);
  });

  test("a non-integer after_id is a 400", async () => {
    const res = await h.request("GET", "/urls?after_id=abc");
    expect(res.status, show(res)).toBe(400);
    expect(res.json.error).toBe("Bad Request");
  });
});

test("a burst of deep pages does not starve the pool: a normal request answers meanwhile", async () => {
  const deep = Array.from({ length: 30 }, (_, i) => h.request("GET", `${LISTS[i % 3]}?page=${500_000 + i}&per_page=100`));
  const started = performance.now();
  const normal = await h.request("GET", "/users?per_page=1");
  expect(normal.status, show(normal)).toBe(200);
  expect(performance.now() - started).toBeLessThan(2_000);
  expect((await Promise.all(deep)).map((r) => r.status)).toEqual(Array(30).fill(400));
});
