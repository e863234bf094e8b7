import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { CLICK_HEADER_MAX } from "../clicks/model.ts";

// A person's click: isbot (clicks/bots.ts) flags anything that does not look like a browser.
const BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const TS = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);

let h: TestApp;
let userId: number;
beforeAll(async () => {
  h = await testApp();
  userId = (await h.request("POST", "/users", { body: { username: "redir", email: "redir@example.com" } })).json.id;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

async function newUrl(originalUrl: string) {
  const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: originalUrl } });
  expect(res.status, show(res)).toBe(201);
  return res.json as { id: number; short_code: string };
}

const follow = (code: string, headers: Record<string, string> = {}) => h.request("GET", `/${code}`, { key: null, headers });
const clicksOf = async (urlId: number) => (await h.request("GET", `/events?url_id=${urlId}&event_type=clicked`)).json as unknown[];
/** Clicked events in the database once every click handed off so far is written. */
async function allClicks(): Promise<number> {
  await h.deps.clicks.flushNow();
  return (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
}

/** Polls until the probe returns something, for at most the 2 s docs/API.md gives a click. */
async function within2s<T>(probe: () => Promise<T | undefined>): Promise<T | undefined> {
  const deadline = performance.now() + 2000;
  for (;;) {
    const value = await probe();
    if (value !== undefined || performance.now() > deadline) return value;
    await Bun.sleep(25);
  }
}

describe("GET /:short_code for an active link", () => {
  test("is a 302 to exactly original_url, with no body", async () => {
    const target = "HTTPS://Example.COM/a/../b/%7e?q=%41&x=[1]&y='\"#Frag";
    const url = await newUrl(target);
    const res = await follow(url.short_code);
    expect(res.status, show(res)).toBe(302);
    expect(res.headers.get("location")).toBe(target);
    expect(res.text).toBe("");
    // No Redis in this file: the first answer comes from PostgreSQL, the next from the instance's LRU.
    expect(res.headers.get("x-cache")).toBe("db");
    expect((await follow(url.short_code)).headers.get("x-cache")).toBe("lru");
  });

  test("records one clicked event for the owner within 2 s", async () => {
    const url = await newUrl("https://clicked.example/");
    const res = await follow(url.short_code, { referer: "https://from.example/page", "user-agent": BROWSER });
    expect(res.status, show(res)).toBe(302);
    const events = await within2s(async () => { const e = await clicksOf(url.id); return e.length > 0 ? e : undefined; });
    expect(events).toEqual([{
      id: expect.any(Number), url_id: url.id, user_id: userId, event_type: "clicked", timestamp: TS,
      // In process there is no TCP peer, so the client IP resolves to loopback.
      details: { short_code: url.short_code, referrer: "https://from.example/page", user_agent: BROWSER, client_ip: "127.0.0.1" },
    }]);
  });

  test("keeps only the first 512 characters of referrer and user agent, and omits absent ones", async () => {
    const url = await newUrl("https://long-headers.example/");
    await follow(url.short_code, { "user-agent": "u".repeat(5000) });
    await h.deps.clicks.flushNow();
    const [event] = (await clicksOf(url.id)) as { details: Record<string, unknown> }[];
    // No browser sends that: isbot takes it for a robot, so the click is flagged.
    expect(event?.details).toEqual({ short_code: url.short_code, user_agent: "u".repeat(CLICK_HEADER_MAX), client_ip: "127.0.0.1", bot: true });
  });

  test("each redirect is one click", async () => {
    const url = await newUrl("https://many-clicks.example/");
    for (let i = 0; i < 5; i++) expect((await follow(url.short_code)).status).toBe(302);
    await h.deps.clicks.flushNow();
    expect((await clicksOf(url.id)).length).toBe(5);
  });

  test("HEAD answers the same 302 but is not a click (link checkers, chat unfurlers)", async () => {
    const url = await newUrl("https://head-only.example/");
    const head = await h.request("HEAD", `/${url.short_code}`, { key: null });
    expect(head.status, show(head)).toBe(302);
    expect(head.headers.get("location")).toBe("https://head-only.example/");
    expect((await follow(url.short_code)).status).toBe(302);
    await h.deps.clicks.flushNow();
    expect((await clicksOf(url.id)).length).toBe(1);
  });
});

describe("GET /:short_code for an inactive link", () => {
  test("is 410 JSON with no click, and redirects again once reactivated", async () => {
    const url = await newUrl("https://sleepy.example/");
    await h.request("PUT", `/urls/${url.id}`, { body: { is_active: false } });
    const before = await allClicks();
    const res = await follow(url.short_code);
    expect(res.status, show(res)).toBe(410);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.json).toEqual({ error: "Gone", message: `short code ${url.short_code} is inactive` });
    expect(await allClicks()).toBe(before);

    await h.request("PUT", `/urls/${url.id}`, { body: { is_active: true } });
    const again = await follow(url.short_code);
    expect(again.status, show(again)).toBe(302);
    expect(again.headers.get("location")).toBe("https://sleepy.example/");
  });
});

describe("GET /:short_code for a code that does not exist", () => {
  test("is 404 JSON with no click, for unknown, deleted and impossible codes", async () => {
    const deleted = await newUrl("https://deleted.example/");
    await h.request("DELETE", `/urls/${deleted.id}`);
    const before = await allClicks();
    for (const code of ["zzzzzz", deleted.short_code, "a".repeat(17), "a.b", "a%20b", "%E4%BE%8B", "abc!", "favicon.ico"]) {
      const res = await follow(code);
      expect(res.status, `${code}: ${show(res)}`).toBe(404);
      expect(res.headers.get("content-type")).toContain("application/json");
      expect(res.json.error).toBe("Not Found");
    }
    expect(await allClicks()).toBe(before);
  });
});

describe("fixed routes", () => {
  test("take precedence over codes", async () => {
    expect((await h.request("GET", "/health", { key: null })).json.status).toBeDefined();
    expect((await h.request("GET", "/live", { key: null })).status).toBe(200);
    expect((await h.request("GET", "/ready", { key: null })).status).toBe(200);
    expect((await h.request("GET", "/metrics", { key: null })).text).toContain("linkfort_clicks_recorded_total");
    expect(Array.isArray((await h.request("GET", "/urls")).json)).toBe(true);
    expect(Array.isArray((await h.request("GET", "/events")).json)).toBe(true);
    expect((await h.request("GET", "/users", { key: null })).status).toBe(401);
  });
});
