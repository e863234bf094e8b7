import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { createClicksRepo } from "../clicks/repo.ts";

// Clicks written through the same statement as both sinks (clicks/repo.ts), at chosen dates.
// People's clicks carry browser user agents (or none); the bots' clicks are added beside them, so
// the default answers below are what they were before bots were flagged, and include_bots=true
// shows what was left out.
let h: TestApp;
let ownerKey: string;
let strangerKey: string;
let url: { id: number; short_code: string };

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const SAFARI = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0";
const BOTS = {
  googlebot: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  slack: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
  curl: "curl/8.5.0",
  python: "python-requests/2.31.0",
};

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
  await createClicksRepo(h.deps.sql).insertBatch([
    click("2024-02-29", "https://www.Google.com/search?q=1", CHROME, 23), // outside the asked range
    click("2024-03-01", "https://www.Google.com/search?q=1", CHROME, 0),
    click("2024-03-01", "https://www.google.com/other", CHROME),
    click("2024-03-01", "https://t.co/x", SAFARI, 23),
    click("2024-03-03", undefined, SAFARI),
    click("2024-03-03", "not a url", undefined), // no User-Agent: a person (clicks/bots.ts)
    // Bots: a crawler, an unfurler on a referrer people also came from, HTTP tools.
    click("2024-03-01", undefined, BOTS.googlebot),
    click("2024-03-01", "https://t.co/x", BOTS.slack),
    click("2024-03-03", undefined, BOTS.curl),
    click("2024-03-03", undefined, BOTS.python),
    click("2024-03-03", "https://bots.example/", BOTS.googlebot), // a referrer only a bot sent
  ]);
  // Today's clicks come through real redirects: two people, then a crawler and fetch() as Bun
  // sends it by default (tests that mean a person's click must send a browser's user agent).
  for (const [referer, agent] of [["https://news.example/1", FIREFOX], ["https://news.example/2", FIREFOX], ["https://news.example/3", BOTS.googlebot], ["https://news.example/4", navigator.userAgent]]) {
    const res = await h.request("GET", `/${url.short_code}`, { key: null, headers: { referer: referer!, "user-agent": agent! } });
    expect(res.status, show(res)).toBe(302);
  }
  // HEAD is no click, a bot's or a person's: counted nowhere, not even with include_bots.
  for (const agent of [BOTS.slack, FIREFOX]) {
    const res = await h.request("HEAD", `/${url.short_code}`, { key: null, headers: { "user-agent": agent } });
    expect(res.status, show(res)).toBe(302);
  }
  await h.deps.clicks.flushNow();
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const stats = (query = "", key?: string | null, id: number | string = url.id) => h.request("GET", `/urls/${id}/stats${query}`, { key });

/** The same numbers computed the slow way, from the events themselves and their bot flag. */
async function fromEvents(from: string, to: string, who: "people" | "everyone") {
  const rows = await h.deps.sql<{ day: string; n: number }[]>`
    select to_char(timestamp::date, 'YYYY-MM-DD') as day, count(*)::int as n from events
    where url_id = ${url.id} and event_type = 'clicked' and timestamp::date between ${from}::date and ${to}::date
      and (${who === "everyone"} or not details ? 'bot') group by 1`;
  return new Map(rows.map((r) => [r.day, r.n]));
}

describe("GET /urls/:id/stats", () => {
  test("gives totals, every day of the range, and top referrers and agents, matching the events", async () => {
    const res = await stats("?from=2024-02-29&to=2024-03-03", ownerKey);
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({
      url_id: url.id, short_code: url.short_code, total_clicks: 6, bot_clicks: 5, from: "2024-02-29", to: "2024-03-03",
      daily: [
        { date: "2024-02-29", clicks: 1 }, { date: "2024-03-01", clicks: 3 },
        { date: "2024-03-02", clicks: 0 }, { date: "2024-03-03", clicks: 2 },
      ],
      top_referrers: [
        { referrer: "www.google.com", clicks: 3 }, { referrer: "(direct)", clicks: 1 },
        { referrer: "(other)", clicks: 1 }, { referrer: "t.co", clicks: 1 },
      ],
      top_user_agents: [{ user_agent: "chrome", clicks: 3 }, { user_agent: "safari", clicks: 2 }, { user_agent: "(none)", clicks: 1 }],
    });
    const events = await fromEvents("2024-02-29", "2024-03-03", "people");
    for (const d of res.json.daily as { date: string; clicks: number }[]) expect(d.clicks, d.date).toBe(events.get(d.date) ?? 0);
  });

  test("a narrower range counts only its days, in referrers and agents too", async () => {
    const res = await stats("?from=2024-03-03&to=2024-03-03");
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({
      url_id: url.id, short_code: url.short_code, total_clicks: 2, bot_clicks: 3, from: "2024-03-03", to: "2024-03-03",
      daily: [{ date: "2024-03-03", clicks: 2 }],
      top_referrers: [{ referrer: "(direct)", clicks: 1 }, { referrer: "(other)", clicks: 1 }],
      top_user_agents: [{ user_agent: "(none)", clicks: 1 }, { user_agent: "safari", clicks: 1 }],
    });
  });

  test("defaults to the last 30 days, today included", async () => {
    const res = await stats("", ownerKey);
    expect(res.status, show(res)).toBe(200);
    const today = daysAgo(0);
    expect(res.json).toEqual({
      url_id: url.id, short_code: url.short_code, total_clicks: 2, bot_clicks: 2, from: daysAgo(29), to: today,
      daily: Array.from({ length: 30 }, (_, i) => ({ date: daysAgo(29 - i), clicks: i === 29 ? 2 : 0 })),
      top_referrers: [{ referrer: "news.example", clicks: 2 }],
      top_user_agents: [{ user_agent: "firefox", clicks: 2 }],
    });
    expect((await fromEvents(today, today, "people")).get(today)).toBe(2);
  });

  test("include_bots=true counts the bots' clicks too, in every number, matching the events", async () => {
    const res = await stats("?from=2024-02-29&to=2024-03-03&include_bots=true", ownerKey);
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({
      url_id: url.id, short_code: url.short_code, total_clicks: 11, bot_clicks: 5, from: "2024-02-29", to: "2024-03-03",
      daily: [
        { date: "2024-02-29", clicks: 1 }, { date: "2024-03-01", clicks: 5 },
        { date: "2024-03-02", clicks: 0 }, { date: "2024-03-03", clicks: 5 },
      ],
      top_referrers: [
        { referrer: "(direct)", clicks: 4 }, { referrer: "www.google.com", clicks: 3 }, { referrer: "t.co", clicks: 2 },
        { referrer: "(other)", clicks: 1 }, { referrer: "bots.example", clicks: 1 },
      ],
      top_user_agents: [
        { user_agent: "bot", clicks: 3 }, { user_agent: "chrome", clicks: 3 }, { user_agent: "safari", clicks: 2 },
        { user_agent: "(none)", clicks: 1 }, { user_agent: "curl", clicks: 1 }, { user_agent: "python", clicks: 1 },
      ],
    });
    const events = await fromEvents("2024-02-29", "2024-03-03", "everyone");
    for (const d of res.json.daily as { date: string; clicks: number }[]) expect(d.clicks, d.date).toBe(events.get(d.date) ?? 0);

    // Today: the redirects' crawler and Bun's fetch are bots; the HEAD requests are nowhere.
    const today = await stats(`?from=${daysAgo(0)}&include_bots=true`);
    expect(today.status, show(today)).toBe(200);
    expect(today.json).toMatchObject({
      total_clicks: 4, bot_clicks: 2, daily: [{ date: daysAgo(0), clicks: 4 }],
      top_referrers: [{ referrer: "news.example", clicks: 4 }],
      top_user_agents: [{ user_agent: "firefox", clicks: 2 }, { user_agent: "bot", clicks: 1 }, { user_agent: "node", clicks: 1 }],
    });
    expect((await fromEvents(daysAgo(0), daysAgo(0), "everyone")).get(daysAgo(0))).toBe(4);
  });

  test("include_bots=false is the default answer; anything but true or false is 400", async () => {
    const asDefault = await stats("?from=2024-02-29&to=2024-03-03&include_bots=false");
    expect(asDefault.status, show(asDefault)).toBe(200);
    expect(asDefault.json).toEqual((await stats("?from=2024-02-29&to=2024-03-03")).json);
    expect(asDefault.json.total_clicks).toBe(6);
    for (const value of ["maybe", "1", "yes", ""]) {
      const res = await stats(`?include_bots=${value}`);
      expect(res.status, `${value}: ${show(res)}`).toBe(400);
      expect(res.json.error, value).toBe("Bad Request");
      expect(res.json.message, value).toContain("include_bots");
    }
  });

  test("a bot's clicked event says bot: true; a person's has no bot key at all", async () => {
    const rows = await h.deps.sql<{ agent: string | null; details: Record<string, unknown> }[]>`
      select details->>'user_agent' as agent, details from events where url_id = ${url.id} and event_type = 'clicked' order by id`;
    const botAgents = new Set<string>([...Object.values(BOTS), navigator.userAgent]);
    expect(rows.length).toBe(15); // 11 written, 4 redirects; no HEAD
    for (const { agent, details } of rows) {
      if (agent !== null && botAgents.has(agent)) expect(details.bot, agent).toBe(true);
      else expect(Object.keys(details), String(agent)).not.toContain("bot");
    }
    expect(rows.filter((r) => r.details.bot === true).length).toBe(7);
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
