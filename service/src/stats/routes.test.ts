import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { createClicksRepo } from "../clicks/repo.ts";

// Clicks written through the same statement as both sinks (clicks/repo.ts), at chosen dates.
let h: TestApp;
let ownerKey: string;
let strangerKey: string;
let url: { id: number; short_code: string };

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const daysAgo = (n: number) => isoDay(new Date(Date.now() - n * 86_400_000));

beforeAll(async () => {
  h = await testApp();
  const owner = (await h.request("POST", "/users", { body: { username: "stat", email: "stat@example.com" } })).json.id;
  const stranger = (await h.request("POST", "/users", { body: { username: "other", email: "other@example.com" } })).json.id;
  ownerKey = await h.insertKey("user", owner);
  strangerKey = await h.insertKey("user", stranger);
  url = (await h.request("POST", "/urls", { body: { user_id: owner, original_url: "https://stats.example/" } })).json;
  const at = (day: string, hour = 12) => new Date(`${day}T${String(hour).padStart(2, "0")}:00:00Z`);
  const click = (day: string, referrer?: string, userAgent?: string, hour?: number) =>
    ({ id: crypto.randomUUID(), urlId: url.id, shortCode: url.short_code, at: at(day, hour), referrer, userAgent });
  const chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
  await createClicksRepo(h.deps.sql).insertBatch([
    click("2024-02-29", "https://www.Google.com/search?q=1", chrome, 23), // outside the asked range
    click("2024-03-01", "https://www.Google.com/search?q=1", chrome, 0),
    click("2024-03-01", "https://www.google.com/other", chrome),
    click("2024-03-01", "https://t.co/x", "curl/8.5.0", 23),
    click("2024-03-03", undefined, "curl/8.5.0"),
    click("2024-03-03", "not a url", undefined),
  ]);
  // Today's clicks come through real redirects.
  for (const referer of ["https://news.example/1", "https://news.example/2"]) {
    const res = await h.request("GET", `/${url.short_code}`, { key: null, headers: { referer, "user-agent": "Mozilla/5.0 Firefox/121.0" } });
    expect(res.status, show(res)).toBe(302);
  }
  await h.deps.clicks.flushNow();
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const stats = (query = "", key?: string | null, id: number | string = url.id) => h.request("GET", `/urls/${id}/stats${query}`, { key });

/** The same numbers computed the slow way, from the events themselves. */
async function fromEvents(from: string, to: string) {
  const rows = await h.deps.sql<{ day: string; n: number }[]>`
    select to_char(timestamp::date, 'YYYY-MM-DD') as day, count(*)::int as n from events
    where url_id = ${url.id} and event_type = 'clicked' and timestamp::date between ${from}::date and ${to}::date group by 1`;
  return new Map(rows.map((r) => [r.day, r.n]));
}

describe("GET /urls/:id/stats", () => {
  test("gives totals, every day of the range, and top referrers and agents, matching the events", async () => {
    const res = await stats("?from=2024-02-29&to=2024-03-03", ownerKey);
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({
      url_id: url.id, short_code: url.short_code, total_clicks: 6, from: "2024-02-29", to: "2024-03-03",
      daily: [
        { date: "2024-02-29", clicks: 1 }, { date: "2024-03-01", clicks: 3 },
        { date: "2024-03-02", clicks: 0 }, { date: "2024-03-03", clicks: 2 },
      ],
      top_referrers: [
        { referrer: "www.google.com", clicks: 3 }, { referrer: "(direct)", clicks: 1 },
        { referrer: "(other)", clicks: 1 }, { referrer: "t.co", clicks: 1 },
      ],
      top_user_agents: [{ user_agent: "chrome", clicks: 3 }, { user_agent: "curl", clicks: 2 }, { user_agent: "(none)", clicks: 1 }],
    });
    const events = await fromEvents("2024-02-29", "2024-03-03");
    for (const d of res.json.daily as { date: string; clicks: number }[]) expect(d.clicks, d.date).toBe(events.get(d.date) ?? 0);
  });

  test("a narrower range counts only its days, in referrers and agents too", async () => {
    const res = await stats("?from=2024-03-03&to=2024-03-03");
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({
      url_id: url.id, short_code: url.short_code, total_clicks: 2, from: "2024-03-03", to: "2024-03-03",
      daily: [{ date: "2024-03-03", clicks: 2 }],
      top_referrers: [{ referrer: "(direct)", clicks: 1 }, { referrer: "(other)", clicks: 1 }],
      top_user_agents: [{ user_agent: "(none)", clicks: 1 }, { user_agent: "curl", clicks: 1 }],
    });
  });

  test("defaults to the last 30 days, today included", async () => {
    const res = await stats("", ownerKey);
    expect(res.status, show(res)).toBe(200);
    const today = daysAgo(0);
    expect(res.json).toEqual({
      url_id: url.id, short_code: url.short_code, total_clicks: 2, from: daysAgo(29), to: today,
      daily: Array.from({ length: 30 }, (_, i) => ({ date: daysAgo(29 - i), clicks: i === 29 ? 2 : 0 })),
      top_referrers: [{ referrer: "news.example", clicks: 2 }],
      top_user_agents: [{ user_agent: "firefox", clicks: 2 }],
    });
    expect((await fromEvents(today, today)).get(today)).toBe(2);
  });

  test("a malformed, impossible, reversed or too long range is 400", async () => {
    const cases: [string, string][] = [
      ["?from=2024-3-1", 'from must be a date as YYYY-MM-DD, not "2024-3-1"'],
      ["?to=2024-02-30", 'to must be a date as YYYY-MM-DD, not "2024-02-30"'],
      ["?from=yesterday", 'from must be a date as YYYY-MM-DD, not "yesterday"'],
      ["?from=2024-03-02&to=2024-03-01", "from (2024-03-02) must not be after to (2024-03-01)"],
      ["?from=2023-01-01&to=2024-01-02", "the range may span at most 366 days, not 367"],
    ];
    for (const [query, message] of cases) {
      const res = await stats(query);
      expect(res.status, `${query}: ${show(res)}`).toBe(400);
      expect(res.json, query).toEqual({ error: "Bad Request", message });
    }
    const year = await stats("?from=2023-01-01&to=2024-01-01");
    expect(year.status, show(year)).toBe(200);
    expect(year.json.daily.length).toBe(366);
  });

  test("is 404 for an unknown or impossible id, 403 for another user's link, 401 without a key", async () => {
    for (const id of [999_999, "abc", 0]) {
      const res = await stats("", undefined, id);
      expect(res.status, show(res)).toBe(404);
      expect(res.json).toEqual({ error: "Not Found", message: `url ${id} not found` });
    }
    const stranger = await stats("?from=bad", strangerKey);
    expect(stranger.status, show(stranger)).toBe(403);
    expect(stranger.json).toEqual({ error: "Forbidden", message: "this key may only act on its own user's records" });
    const anonymous = await stats("", null);
    expect(anonymous.status, show(anonymous)).toBe(401);
    expect(anonymous.json.error).toBe("Unauthorized");
  });
});
