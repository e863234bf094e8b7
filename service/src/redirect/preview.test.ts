/**
 * GET /:code+ on a listening server (so the fast path hands `abc123+` to Elysia, as in production)
 * over a real PostgreSQL: the page, its headers, hostile destinations, and the answers it shares
 * with the redirect.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { createApp, type App } from "../app.ts";
import { routeKind } from "../limits/route-kind.ts";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { PREVIEW_CSP } from "./preview.ts";

let h: TestApp;
let server: App;
let base: string;
let userId: number;

beforeAll(async () => {
  h = await testApp();
  server = createApp(h.deps).listen({ port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${server.server!.port}`;
  userId = (await h.request("POST", "/users", { body: { username: "preview", email: "preview@example.com" } })).json.id;
}, 30_000);
afterAll(async () => {
  await server?.stop(true);
  await h?.close();
}, 30_000);

async function newUrl(originalUrl: string): Promise<{ id: number; short_code: string }> {
  const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: originalUrl } });
  expect(res.status, show(res)).toBe(201);
  return res.json;
}

interface Answer { status: number; headers: Headers; text: string }
const get = async (path: string, method = "GET"): Promise<Answer> => {
  const res = await fetch(`${base}${path}`, { method, redirect: "manual" });
  return { status: res.status, headers: res.headers, text: await res.text() };
};
const showAnswer = (a: Answer) => `${a.status} ${a.text.slice(0, 600)}`;

/** Clicked events in the database once every click handed off so far is written. */
async function clicks(): Promise<number> {
  await h.deps.clicks.flushNow();
  return (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from events where event_type = 'clicked'`)[0]!.n;
}

/** Changes a row behind the API (an old import, an operator's SQL), then waits until this instance's caches have heard of it. */
async function behindTheApi(id: number, change: (id: number) => Promise<unknown>, code: string): Promise<void> {
  await change(id);
  await h.deps.cache.settle([code]);
}

describe("GET /:code+ for a live link", () => {
  test("is an HTML page with the destination as text and as a link, and no redirect", async () => {
    const url = await newUrl("https://example.com/docs?q=1");
    const res = await get(`/${url.short_code}+`);
    expect(res.status, showAnswer(res)).toBe(200);
    expect(res.headers.get("location")).toBeNull();
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(res.text).toStartWith("<!doctype html>");
    expect(res.text).toContain(`<h1>The short link /${url.short_code} leads to</h1>`);
    expect(res.text).toContain('<a href="https://example.com/docs?q=1" rel="noopener noreferrer nofollow">https://example.com/docs?q=1</a>');
    expect(res.text).toContain("<p>Host: <strong>example.com</strong></p>");
  });

  test("sends a CSP that allows nothing but its own style block (by hash), no sniffing, no referrer, no framing, no caching", async () => {
    const url = await newUrl("https://headers.example/");
    const res = await get(`/${url.short_code}+`);
    const style = /<style>([^<]*)<\/style>/.exec(res.text)?.[1];
    expect(style, showAnswer(res)).toBeDefined();
    const hash = createHash("sha256").update(style!).digest("base64");
    expect(res.headers.get("content-security-policy")).toBe(
      `default-src 'none'; style-src 'sha256-${hash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`);
    expect(PREVIEW_CSP).toBe(res.headers.get("content-security-policy")!);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("referrer-policy")).toBe("no-referrer");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.text).not.toMatch(/<script|\son\w+=|style="/i);
  });

  test("records no click, for GET or HEAD, while the redirect still does", async () => {
    const url = await newUrl("https://not-counted.example/");
    const before = await clicks();
    for (let i = 0; i < 3; i++) expect((await get(`/${url.short_code}+`)).status).toBe(200);
    expect((await get(`/${url.short_code}+`, "HEAD")).status).toBe(200);
    expect(await clicks()).toBe(before);
    expect((await get(`/${url.short_code}`)).status).toBe(302);
    expect(await clicks()).toBe(before + 1);
  });

  test("HEAD answers the same status and headers as GET, with no body", async () => {
    const url = await newUrl("https://head.example/path");
    const [full, head] = [await get(`/${url.short_code}+`), await get(`/${url.short_code}+`, "HEAD")];
    expect(head.status).toBe(200);
    expect(head.text).toBe("");
    for (const name of ["content-type", "content-security-policy", "x-content-type-options", "referrer-policy", "cache-control", "x-frame-options"]) {
      expect(head.headers.get(name), name).toBe(full.headers.get(name));
    }
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(full.text)));
  });

  test("says so when the link forwards its query", async () => {
    const url = await newUrl("https://forwards.example/");
    await behindTheApi(url.id, (id) => h.deps.sql`update urls set forward_query = true where id = ${id}`, url.short_code);
    const res = await get(`/${url.short_code}+`);
    expect(res.status, showAnswer(res)).toBe(200);
    expect(res.text).toContain("A query string added to the short link is passed on to this address.");
  });
});

describe("GET /:code+ with a hostile destination", () => {
  test("escapes markup and quotes in a stored URL, in text and in the href", async () => {
    const hostile = `https://evil.example/"><script>alert(1)</script>?a='b'&c=<img/src=x/onerror=alert(2)>`;
    const url = await newUrl(hostile);
    const res = await get(`/${url.short_code}+`);
    expect(res.status, showAnswer(res)).toBe(200);
    const escaped = "https://evil.example/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;?a=&#39;b&#39;&amp;c=&lt;img/src=x/onerror=alert(2)&gt;";
    expect(res.text).toContain(`<a href="${escaped}" rel="noopener noreferrer nofollow">${escaped}</a>`);
    expect(res.text).not.toContain("<script");
    expect(res.text).not.toContain("<img");
    // The only tags are the page's own.
    const tags = new Set([...res.text.matchAll(/<\/?([a-z0-9!]+)/gi)].map((m) => m[1]!.toLowerCase()));
    expect([...tags].sort()).toEqual(["!doctype", "a", "body", "h1", "head", "html", "main", "meta", "p", "strong", "style", "title"]);
  });

  test("never links a destination that is not http(s) with a host (a row written around the API)", async () => {
    for (const stored of ["javascript:alert(document.cookie)", "JavaScript:alert(1)", "data:text/html,<script>alert(1)</script>", "http://"]) {
      const url = await newUrl("https://placeholder.example/");
      await behindTheApi(url.id, (id) => h.deps.sql`update urls set original_url = ${stored} where id = ${id}`, url.short_code);
      const res = await get(`/${url.short_code}+`);
      expect(res.status, `${stored}: ${showAnswer(res)}`).toBe(200);
      expect(res.text, stored).not.toContain("<a ");
      expect(res.text, stored).not.toContain("<script");
      expect(res.text).toContain("This destination is not an http or https address, so it is not offered as a link.");
    }
  });
});

describe("GET /:code+ answers as the redirect does when there is nothing to show", () => {
  test("an unknown or deleted code: the redirect's JSON 404", async () => {
    const deleted = await newUrl("https://deleted.example/");
    await h.request("DELETE", `/urls/${deleted.id}`);
    for (const code of ["zzzzzz", deleted.short_code]) {
      const [preview, redirect] = [await get(`/${code}+`), await get(`/${code}`)];
      expect(preview.status, showAnswer(preview)).toBe(404);
      expect(preview.headers.get("content-type")).toContain("application/json");
      expect(JSON.parse(preview.text)).toEqual({ error: "Not Found", message: `short code ${code} not found` });
      expect(preview.text).toBe(redirect.text);
    }
  });

  test("an inactive link: the redirect's 410", async () => {
    const url = await newUrl("https://inactive.example/");
    await h.request("PUT", `/urls/${url.id}`, { body: { is_active: false } });
    const [preview, redirect] = [await get(`/${url.short_code}+`), await get(`/${url.short_code}`)];
    expect(preview.status, showAnswer(preview)).toBe(410);
    expect(JSON.parse(preview.text)).toEqual({ error: "Gone", message: `short code ${url.short_code} is inactive` });
    expect(preview.text).toBe(redirect.text);
  });

  test("an expired link: the redirect's 410, even when the page was cached before it expired", async () => {
    const url = await newUrl("https://expiring.example/");
    const expiresAt = new Date(Date.now() + 1_500);
    await behindTheApi(url.id, (id) => h.deps.sql`update urls set expires_at = ${expiresAt.toISOString()}::timestamptz where id = ${id}`, url.short_code);
    // Not yet expired: the page, and the cache now holds the link.
    expect((await get(`/${url.short_code}+`)).status).toBe(200);
    const deadline = Date.now() + 10_000;
    let preview = await get(`/${url.short_code}+`);
    while (preview.status === 200 && Date.now() < deadline) {
      await Bun.sleep(100);
      preview = await get(`/${url.short_code}+`);
    }
    expect(preview.status, showAnswer(preview)).toBe(410);
    expect(preview.headers.get("x-cache"), "judged on the cached value").toBe("lru");
    expect(JSON.parse(preview.text)).toEqual({ error: "Gone", message: `short code ${url.short_code} expired at ${expiresAt.toISOString()}` });
    expect(preview.text).toBe((await get(`/${url.short_code}`)).text);
  });

  test("a link that used up its max_clicks: the redirect's 410, and the preview takes no slot", async () => {
    const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://capped.example/", max_clicks: 1 } });
    expect(res.status, show(res)).toBe(201);
    const code = res.json.short_code as string;
    // Previews take nothing: the one slot is still there for the visit after them.
    for (let i = 0; i < 3; i++) expect((await get(`/${code}+`)).status).toBe(200);
    expect((await get(`/${code}`)).status).toBe(302);
    const [preview, redirect] = [await get(`/${code}+`), await get(`/${code}`)];
    expect(preview.status, showAnswer(preview)).toBe(410);
    expect(JSON.parse(preview.text)).toEqual({ error: "Gone", message: `short code ${code} reached its click limit (1 clicks)` });
    expect(preview.text).toBe(redirect.text);
  });

  test("anything else that is not '<code>+' stays the redirect route's 404", async () => {
    for (const path of ["/+", "/abc++", "/a.b+", "/+abc"]) {
      const res = await get(path);
      expect(res.status, `${path}: ${showAnswer(res)}`).toBe(404);
      expect(JSON.parse(res.text).error).toBe("Not Found");
    }
  });
});

test("rate limits count a preview as a redirect, not an API read", () => {
  expect(routeKind("GET", "/abc123+")).toBe("redirect");
  expect(routeKind("HEAD", "/abc123+")).toBe("redirect");
});
