import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp, type TestResponse } from "../../test/harness.ts";

const TS = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);

let h: TestApp;
let userId: number;
let otherUser: number;
let urlId: number;
let otherUrl: number;
beforeAll(async () => {
  h = await testApp();
  userId = (await h.request("POST", "/users", { body: { username: "ev", email: "ev@example.com" } })).json.id;
  otherUser = (await h.request("POST", "/users", { body: { username: "ev2", email: "ev2@example.com" } })).json.id;
  urlId = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://ev.example/" } })).json.id;
  otherUrl = (await h.request("POST", "/urls", { body: { user_id: otherUser, original_url: "https://ev2.example/" } })).json.id;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const eventCount = async () => (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events`)[0]!.n;
const post = (body: Record<string, unknown>) => h.request("POST", "/events", { body });

function expectBadRequest(res: TestResponse, field: string, label: string) {
  expect(res.status, `${label}: ${show(res)}`).toBe(400);
  expect(res.json.error, label).toBe("Bad Request");
  expect(res.json.message, `${label}: ${show(res)}`).toContain(field);
}

describe("POST /events", () => {
  test("records an event and returns it whole", async () => {
    const details = { referrer: "https://a.example/", nested: { list: [1, "two", null, { deep: true }] }, n: 1.5 };
    const res = await post({ url_id: urlId, user_id: userId, event_type: "shared", details, extra: "ignored" });
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({ id: expect.any(Number), url_id: urlId, user_id: userId, event_type: "shared", timestamp: TS, details });
    const again = await h.request("GET", `/events/${res.json.id}`);
    expect(again.json, show(again)).toEqual(res.json);
  });

  test("details defaults to an empty object; a 64-character type is accepted", async () => {
    const res = await post({ url_id: urlId, user_id: userId, event_type: "t".repeat(64) });
    expect(res.status, show(res)).toBe(201);
    expect(res.json.details).toEqual({});
  });

  test("ids, type or details of the wrong kind are 400 and write nothing", async () => {
    const before = await eventCount();
    const good = { url_id: urlId, user_id: userId, event_type: "x" };
    for (const bad of ["1", 1.5, true, null, 0, -1, [1], {}]) {
      expectBadRequest(await post({ ...good, url_id: bad }), "url_id", `url_id ${JSON.stringify(bad)}`);
      expectBadRequest(await post({ ...good, user_id: bad }), "user_id", `user_id ${JSON.stringify(bad)}`);
    }
    for (const bad of ["", "   ", 5, null, true, [], {}, "t".repeat(65)]) {
      expectBadRequest(await post({ ...good, event_type: bad }), "event_type", `event_type ${JSON.stringify(bad).slice(0, 20)}`);
    }
    for (const bad of ["a string", '{"looks":"like json"}', [1, 2], [], 5, 0, null, true, false]) {
      expectBadRequest(await post({ ...good, details: bad }), "details", `details ${JSON.stringify(bad)}`);
    }
    for (const field of ["url_id", "user_id", "event_type"] as const) {
      const { [field]: _, ...rest } = good;
      expectBadRequest(await post(rest), field, `missing ${field}`);
    }
    expect(await eventCount()).toBe(before);
  });

  test("an unknown link or user is 404, also beyond PostgreSQL's integer range", async () => {
    const before = await eventCount();
    for (const id of [999999, 2147483648, 1e20]) {
      const noUrl = await post({ url_id: id, user_id: userId, event_type: "x" });
      expect(noUrl.status, show(noUrl)).toBe(404);
      expect(noUrl.json).toEqual({ error: "Not Found", message: `url ${id} not found` });
      const noUser = await post({ url_id: urlId, user_id: id, event_type: "x" });
      expect(noUser.status, show(noUser)).toBe(404);
      expect(noUser.json).toEqual({ error: "Not Found", message: `user ${id} not found` });
    }
    expect(await eventCount()).toBe(before);
  });
});

describe("GET /events", () => {
  let mine: number[];
  beforeAll(async () => {
    mine = [];
    for (const type of ["a", "b", "a"]) mine.push((await post({ url_id: otherUrl, user_id: otherUser, event_type: type })).json.id);
  }, 30_000);
  const ids = (res: TestResponse) => res.json.map((e: { id: number }) => e.id);

  test("filters by url_id, user_id and event_type, combined with AND, ordered by id", async () => {
    const byUrl = await h.request("GET", `/events?url_id=${otherUrl}`);
    expect(byUrl.status, show(byUrl)).toBe(200);
    expect(byUrl.json[0]).toEqual({ id: expect.any(Number), url_id: otherUrl, user_id: otherUser, event_type: "created", timestamp: TS, details: expect.any(Object) });
    expect(ids(byUrl).slice(1)).toEqual(mine);
    expect(ids(await h.request("GET", `/events?user_id=${otherUser}&event_type=a`))).toEqual([mine[0]!, mine[2]!]);
    expect(ids(await h.request("GET", `/events?url_id=${otherUrl}&user_id=${otherUser}&event_type=b`))).toEqual([mine[1]!]);
    expect(ids(await h.request("GET", `/events?url_id=${urlId}&event_type=b`))).toEqual([]);
  });

  test("pages by id and clamps paging", async () => {
    expect(ids(await h.request("GET", `/events?url_id=${otherUrl}&per_page=2&page=2`))).toEqual([mine[1]!, mine[2]!]);
    expect(ids(await h.request("GET", `/events?url_id=${otherUrl}&per_page=0&page=0`)).length).toBe(1);
    expect((await h.request("GET", `/events?url_id=${otherUrl}&page=50`)).json).toEqual([]);
    const all = await h.request("GET", "/events?per_page=500");
    expect(ids(all), show(all)).toEqual([...ids(all)].sort((a: number, b: number) => a - b));
  });

  test("filters that can match nothing give an empty list", async () => {
    for (const q of ["url_id=2147483648", "user_id=99999999999999999999", "user_id=0", `event_type=${"x".repeat(65)}`, "event_type=%00", "event_type=nope"]) {
      const res = await h.request("GET", `/events?${q}`);
      expect(res.status, `${q}: ${show(res)}`).toBe(200);
      expect(res.json).toEqual([]);
    }
  });

  test("non-integer ids or paging are 400", async () => {
    for (const [q, field] of [["url_id=abc", "url_id"], ["user_id=1.5", "user_id"], ["page=x", "page"], ["per_page=1.5", "per_page"]] as const) {
      expectBadRequest(await h.request("GET", `/events?${q}`), field, q);
    }
  });
});

describe("GET /events/:id", () => {
  test("an unknown or malformed id is 404", async () => {
    for (const id of ["999999", "abc", "1.5", "0", "-2", "2147483648"]) {
      const res = await h.request("GET", `/events/${id}`);
      expect(res.status, `${id}: ${show(res)}`).toBe(404);
      expect(res.json.error).toBe("Not Found");
    }
  });
});
