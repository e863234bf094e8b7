/**
 * `expires_at`, `max_clicks` and `forward_query` on POST and PUT /urls (issue #18): stored in
 * their columns, written out in the Url JSON, named in the `updated` event, carried through the
 * batched create path; every bad value a clean 400 that writes nothing; a user key only on its
 * own links.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

let h: TestApp;
let userId: number;
beforeAll(async () => {
  h = await testApp();
  userId = (await h.request("POST", "/users", { body: { username: "options", email: "options@example.com" } })).json.id;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const MAX_SAFE = 9_007_199_254_740_991;

async function create(body: Record<string, unknown>) {
  const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://options.example/", ...body } });
  expect(res.status, show(res)).toBe(201);
  return res.json;
}

const columns = async (id: number) => (await h.deps.sql<{ expires_at: string | null; max_clicks: string | null; forward_query: boolean }[]>`
  select to_char(expires_at, 'YYYY-MM-DD"T"HH24:MI:SS.US') as expires_at, max_clicks::text, forward_query from urls where id = ${id}`)[0];

const written = async () =>
  (await h.deps.sql<{ links: number; events: number }[]>`select (select count(*) from urls)::int as links, (select count(*) from events where event_type <> 'clicked')::int as events`)[0]!;

const updatedEvents = async (id: number) =>
  (await h.request("GET", `/events?url_id=${id}&event_type=updated`)).json.map((e: { details: { changed: string[] } }) => e.details.changed);

describe("POST /urls with link options", () => {
  test("without them a link has none: null, null, false in the JSON and in the row", async () => {
    const url = await create({});
    expect(url).toMatchObject({ expires_at: null, max_clicks: null, forward_query: false });
    expect(await columns(url.id)).toEqual({ expires_at: null, max_clicks: null, forward_query: false });
  });

  test("stores and returns each, in the contract's timestamp form", async () => {
    const url = await create({ expires_at: "2030-06-01T12:30:00Z", max_clicks: 1000, forward_query: true });
    expect(url).toMatchObject({ expires_at: "2030-06-01T12:30:00", max_clicks: 1000, forward_query: true });
    expect(await columns(url.id)).toEqual({ expires_at: "2030-06-01T12:30:00.000000", max_clicks: "1000", forward_query: true });
    expect((await h.request("GET", `/urls/${url.id}`)).json).toEqual(url);
  });

  test("takes a UTC instant with Z, +00:00 or no suffix, kept to the millisecond; and the largest exact max_clicks", async () => {
    const cases: [string, string][] = [
      ["2031-01-02T03:04:05", "2031-01-02T03:04:05"], ["2031-01-02T03:04:05+00:00", "2031-01-02T03:04:05"],
      ["2031-01-02T03:04:05.5Z", "2031-01-02T03:04:05.500"], ["2031-01-02T03:04:05.123456Z", "2031-01-02T03:04:05.123"],
      ["9999-12-31T23:59:59.999Z", "9999-12-31T23:59:59.999"],
    ];
    for (const [sent, shown] of cases) expect((await create({ expires_at: sent })).expires_at, sent).toBe(shown);
    const capped = await create({ max_clicks: MAX_SAFE });
    expect(capped.max_clicks).toBe(MAX_SAFE);
    expect((await columns(capped.id))!.max_clicks).toBe("9007199254740991");
    expect(await create({ expires_at: null, max_clicks: null, forward_query: false })).toMatchObject({ expires_at: null, max_clicks: null, forward_query: false });
  });

  test("concurrent creates with options share statements, and each link gets exactly its own", async () => {
    const sent = Array.from({ length: 40 }, (_, i) => ({
      original_url: `https://options-batch.example/${i}`,
      ...(i % 2 === 0 ? { expires_at: `2032-01-01T00:00:${String(i).padStart(2, "0")}Z` } : {}),
      ...(i % 3 === 0 ? { max_clicks: i + 1 } : {}),
      ...(i % 4 === 0 ? { forward_query: true } : {}),
    }));
    const answers = await Promise.all(sent.map((body) => h.request("POST", "/urls", { body: { user_id: userId, ...body } })));
    answers.forEach((res, i) => {
      expect(res.status, show(res)).toBe(201);
      expect(res.json).toMatchObject({
        original_url: sent[i]!.original_url,
        expires_at: i % 2 === 0 ? `2032-01-01T00:00:${String(i).padStart(2, "0")}` : null,
        max_clicks: i % 3 === 0 ? i + 1 : null,
        forward_query: i % 4 === 0,
      });
    });
    const rows = await h.deps.sql<{ original_url: string; max_clicks: string | null; forward_query: boolean; second: number | null }[]>`
      select original_url, max_clicks::text, forward_query, extract(second from expires_at)::int as second
      from urls where original_url like 'https://options-batch.example/%'`;
    for (const row of rows) {
      const i = Number(row.original_url.split("/").at(-1));
      expect({ max_clicks: row.max_clicks, forward_query: row.forward_query, second: row.second }, row.original_url).toEqual({
        max_clicks: i % 3 === 0 ? String(i + 1) : null, forward_query: i % 4 === 0, second: i % 2 === 0 ? i : null,
      });
    }
    expect(rows.length).toBe(40);
    const [tx] = await h.deps.sql<{ n: number }[]>`select count(distinct xmin::text)::int as n from urls where original_url like 'https://options-batch.example/%'`;
    expect(tx!.n).toBeLessThan(40);
  }, 30_000);
});

const BAD_EXPIRES: unknown[] = [
  "2020-01-01T00:00:00", "2000-01-01T00:00:00Z", "0000-01-01T00:00:00", "2030-02-30T00:00:00", "2030-13-01T00:00:00", "2030-06-01T24:00:00",
  "2030-06-01", "2030-06-01 00:00:00", "2030-06-01T00:00:00+02:00", "2030-06-01T00:00:00.1234567Z", "2030-06-01t00:00:00z", "tomorrow", "",
  "+2030-06-01T00:00:00", "12030-06-01T00:00:00", 1_893_456_000, 1.5, true, [], {},
];
const BAD_MAX_CLICKS: unknown[] = [0, -1, 1.5, "10", "1e3", 2 ** 53, 1e20, 1e300, -1e300, true, [], [5], {}];
const BAD_FORWARD: unknown[] = ["true", "false", 1, 0, null, "yes", [], {}];

describe("bad option values are a clean 400 naming the field, and write nothing", () => {
  test("on POST", async () => {
    const before = await written();
    const cases = [
      ...BAD_EXPIRES.map((v) => ["expires_at", v] as const),
      ...BAD_MAX_CLICKS.map((v) => ["max_clicks", v] as const),
      ...BAD_FORWARD.map((v) => ["forward_query", v] as const),
    ];
    for (const [field, value] of cases) {
      const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://options.example/bad", [field]: value } });
      const label = `${field}=${JSON.stringify(value)}: ${show(res)}`;
      expect(res.status, label).toBe(400);
      expect(res.json.error, label).toBe("Bad Request");
      expect(res.json.message, label).toContain(field);
      expect(res.json.fields?.[0]?.field, label).toBe(field);
    }
    expect(await written()).toEqual(before);
  });

  test("a past expiry says it must be in the future", async () => {
    const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://options.example/", expires_at: "2020-01-01T00:00:00Z" } });
    expect(res.status, show(res)).toBe(400);
    expect(res.json.message).toMatch(/^body field 'expires_at' must be in the future: 2020-01-01T00:00:00 is not after now \(\d{4}-.+ UTC\)$/);
    const impossible = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://options.example/", expires_at: "2030-02-30T00:00:00" } });
    expect(impossible.json.message, show(impossible)).toBe("body field 'expires_at' '2030-02-30T00:00:00' is not a real date and time");
  });

  test("on PUT, alone or next to a good field: nothing changes and no updated event is recorded", async () => {
    const url = await create({ title: "Keep", expires_at: "2030-01-01T00:00:00Z", max_clicks: 5, forward_query: true });
    const cases = [
      ...BAD_EXPIRES.map((v) => ["expires_at", v] as const),
      ...BAD_MAX_CLICKS.map((v) => ["max_clicks", v] as const),
      ...BAD_FORWARD.map((v) => ["forward_query", v] as const),
    ];
    for (const [field, value] of cases) {
      for (const body of [{ [field]: value }, { title: "Changed", [field]: value }]) {
        const res = await h.request("PUT", `/urls/${url.id}`, { body });
        const label = `${JSON.stringify(body)}: ${show(res)}`;
        expect(res.status, label).toBe(400);
        expect(res.json.message, label).toContain(field);
      }
    }
    expect((await h.request("GET", `/urls/${url.id}`)).json).toEqual(url);
    expect(await updatedEvents(url.id)).toEqual([]);
  });
});

describe("PUT /urls/:id with link options", () => {
  test("sets, keeps when absent, clears with null, and the updated event names exactly what changed", async () => {
    const url = await create({ title: "T" });
    const set = await h.request("PUT", `/urls/${url.id}`, { body: { expires_at: "2033-03-03T03:03:03Z", max_clicks: 7, forward_query: true } });
    expect(set.status, show(set)).toBe(200);
    expect(set.json).toEqual({ ...url, expires_at: "2033-03-03T03:03:03", max_clicks: 7, forward_query: true, updated_at: expect.any(String) });
    const kept = await h.request("PUT", `/urls/${url.id}`, { body: { title: "T2", max_clicks: 7 } });
    expect(kept.json, show(kept)).toMatchObject({ title: "T2", expires_at: "2033-03-03T03:03:03", max_clicks: 7, forward_query: true });
    const cleared = await h.request("PUT", `/urls/${url.id}`, { body: { expires_at: null, max_clicks: null, forward_query: false } });
    expect(cleared.json, show(cleared)).toMatchObject({ title: "T2", expires_at: null, max_clicks: null, forward_query: false });
    expect(await columns(url.id)).toEqual({ expires_at: null, max_clicks: null, forward_query: false });
    const again = await h.request("PUT", `/urls/${url.id}`, { body: { expires_at: null, max_clicks: null } });
    expect(again.status, show(again)).toBe(200);
    expect(await updatedEvents(url.id)).toEqual([
      ["expires_at", "max_clicks", "forward_query"], ["title"], ["expires_at", "max_clicks", "forward_query"], [],
    ]);
  });

  test("an expiry can be moved later on a link that has one", async () => {
    const url = await create({ expires_at: "2030-01-01T00:00:00Z" });
    const res = await h.request("PUT", `/urls/${url.id}`, { body: { expires_at: "2040-01-01T00:00:00Z" } });
    expect(res.json, show(res)).toMatchObject({ expires_at: "2040-01-01T00:00:00" });
  });
});

describe("a user-scoped key", () => {
  test("sets options on its own links only; on another user's it is 403 and nothing changes", async () => {
    const other = (await h.request("POST", "/users", { body: { username: "options-other", email: "options-other@example.com" } })).json.id;
    const theirs = (await h.request("POST", "/urls", { body: { user_id: other, original_url: "https://options.example/theirs" } })).json;
    const key = await h.insertKey("user", userId);
    const options = { expires_at: "2031-01-01T00:00:00Z", max_clicks: 3, forward_query: true };

    const mine = await h.request("POST", "/urls", { key, body: { user_id: userId, original_url: "https://options.example/mine", ...options } });
    expect(mine.status, show(mine)).toBe(201);
    expect(mine.json).toMatchObject({ user_id: userId, expires_at: "2031-01-01T00:00:00", max_clicks: 3, forward_query: true });
    const changed = await h.request("PUT", `/urls/${mine.json.id}`, { key, body: { max_clicks: 4, expires_at: null } });
    expect(changed.json, show(changed)).toMatchObject({ max_clicks: 4, expires_at: null });

    const before = await written();
    const create = await h.request("POST", "/urls", { key, body: { user_id: other, original_url: "https://options.example/x", ...options } });
    const update = await h.request("PUT", `/urls/${theirs.id}`, { key, body: options });
    for (const res of [create, update]) {
      expect(res.status, show(res)).toBe(403);
      expect(res.json.error).toBe("Forbidden");
    }
    expect(await written()).toEqual(before);
    expect((await h.request("GET", `/urls/${theirs.id}`)).json).toEqual(theirs);
    expect(await columns(theirs.id)).toEqual({ expires_at: null, max_clicks: null, forward_query: false });
  });
});
