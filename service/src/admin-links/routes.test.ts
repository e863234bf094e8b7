/**
 * /admin/links on a real PostgreSQL: top links today read from the click rollups (clicks written
 * by the clicks repo, as a spool batch writes them), search in its three orders, and the refusals:
 * bad input is a JSON 400, a user key a 403.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";
import { createClicksRepo } from "../clicks/repo.ts";

let h: TestApp;
let userKey: string;
type Link = { id: number; user_id: number; short_code: string; original_url: string; title: string | null };
const links: Record<string, Link> = {};

const CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
const GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

beforeAll(async () => {
  h = await testApp();
  const owner = (await h.request("POST", "/users", { body: { username: "glance", email: "glance@example.com" } })).json.id as number;
  userKey = await h.insertKey("user", owner);
  const create = async (name: string, body: Record<string, unknown>) => {
    const res = await h.request("POST", "/urls", { body: { user_id: owner, ...body } });
    expect(res.status, show(res)).toBe(201);
    links[name] = res.json;
  };
  await create("hot", { original_url: "https://hot.example/a", alias: "glance", title: "hot" });
  await create("warm", { original_url: "https://warm.example/b", alias: "glance-two" });
  await create("byUrl", { original_url: "https://shop.example/GLANCE/sale" });
  await create("yesterday", { original_url: "https://cold.example/c", alias: "cold-one" });
  const now = new Date();
  const click = (name: string, userAgent = CHROME, at = now) => ({ id: crypto.randomUUID(), urlId: links[name]!.id, shortCode: links[name]!.short_code, at, userAgent });
  await createClicksRepo(h.deps.sql).insertBatch([
    click("hot"), click("hot"), click("hot", GOOGLEBOT), click("warm"),
    ...Array.from({ length: 5 }, () => click("yesterday", CHROME, new Date(now.getTime() - 86_400_000))),
  ]);
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const view = (name: string, clicks: number, bots: number, match?: string) => {
  const { id, user_id, short_code, original_url, title } = links[name]!;
  return { id, user_id, short_code, original_url, title, is_active: true, clicks_today: clicks, bot_clicks_today: bots, ...(match ? { match } : {}) };
};

describe("GET /admin/links/top", () => {
  test("the links clicked today, most first, bots' clicks counted and shown apart; yesterday's do not count", async () => {
    const res = await h.request("GET", "/admin/links/top");
    expect([res.status, res.json], show(res)).toEqual([200, [view("hot", 3, 1), view("warm", 1, 0)]]);
    const one = await h.request("GET", "/admin/links/top?limit=1");
    expect(one.json, show(one)).toEqual([view("hot", 3, 1)]);
  });
});

describe("GET /admin/links/search", () => {
  test("the exact code first, then codes it begins, then destinations that contain it in any case", async () => {
    const res = await h.request("GET", "/admin/links/search?q=glance");
    expect([res.status, res.json], show(res)).toEqual([200, [view("hot", 3, 1, "code"), view("warm", 1, 0, "code_prefix"), view("byUrl", 0, 0, "url")]]);
    const limited = await h.request("GET", "/admin/links/search?q=glance&limit=2");
    expect(limited.json.map((l: Link) => l.short_code), show(limited)).toEqual(["glance", "glance-two"]);
    const byUrl = await h.request("GET", `/admin/links/search?q=${encodeURIComponent("shop.example/glance")}`);
    expect(byUrl.json, show(byUrl)).toEqual([view("byUrl", 0, 0, "url")]);
  });

  test("LIKE's wildcards in q are plain characters", async () => {
    for (const q of ["gl_nce", "%", "glance%"]) {
      const res = await h.request("GET", `/admin/links/search?q=${encodeURIComponent(q)}`);
      expect([q, res.status, res.json], show(res)).toEqual([q, 200, []]);
    }
  });

  const bad: [string, string][] = [
    ["", "query field 'q': q must be 1 to 200 characters of UTF-8 without control characters"],
    ["?q=", "query field 'q': q must be 1 to 200 characters of UTF-8 without control characters"],
    [`?q=${"a".repeat(201)}`, "query field 'q': q must be 1 to 200 characters of UTF-8 without control characters"],
    ["?q=a%00b", "query field 'q': q must be 1 to 200 characters of UTF-8 without control characters"],
    ["?q=%FF", "the query string is not valid percent-encoded UTF-8"],
    ["?q=%E2%82", "the query string is not valid percent-encoded UTF-8"],
    ["?q=glance&limit=0", "query field 'limit': must be an integer from 1 to 100"],
    ["?q=glance&limit=101", "query field 'limit': must be an integer from 1 to 100"],
    ["?q=glance&limit=abc", ""],
  ];
  for (const [query, message] of bad) {
    test(`${query || "no q"} is a JSON 400`, async () => {
      const res = await h.request("GET", `/admin/links/search${query}`);
      expect([res.status, res.json?.error], show(res)).toEqual([400, "Bad Request"]);
      if (message) expect(res.json.message).toBe(message);
      else expect(res.json.message).toStartWith("query field 'limit'");
    });
  }

  test("top's limit is held to 1..100 too", async () => {
    for (const limit of ["0", "101", "1.5"]) {
      const res = await h.request("GET", `/admin/links/top?limit=${limit}`);
      expect([limit, res.status, res.json?.error], show(res)).toEqual([limit, 400, "Bad Request"]);
    }
  });
});

describe("who may look", () => {
  test("a user key is refused with a 403, no key with a 401", async () => {
    for (const path of ["/admin/links/top", "/admin/links/search?q=glance"]) {
      const asUser = await h.request("GET", path, { key: userKey });
      expect([path, asUser.status, asUser.json]).toEqual([path, 403, { error: "Forbidden", message: "this needs an admin key" }]);
      const anonymous = await h.request("GET", path, { key: null });
      expect([path, anonymous.status, anonymous.json?.error]).toEqual([path, 401, "Unauthorized"]);
    }
  });
});
