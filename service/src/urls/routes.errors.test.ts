import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp, type TestResponse } from "../../test/harness.ts";

let h: TestApp;
let userId: number;
beforeAll(async () => {
  h = await testApp();
  const res = await h.request("POST", "/users", { body: { username: "errs", email: "errs@example.com" } });
  userId = res.json.id;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const urlCount = async () => (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from urls`)[0]!.n;

function expectBadRequest(res: TestResponse, field: string, label: string) {
  expect(res.status, `${label}: ${show(res)}`).toBe(400);
  expect(res.json.error, label).toBe("Bad Request");
  expect(res.json.message, `${label}: ${show(res)}`).toContain(field);
}

const HOSTILE_URLS: unknown[] = [
  "", "   ", "google", "example.com", "www.example.com", "//example.com/x",
  "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<b>x</b>", "ftp://example.com/f", "file:///etc/passwd",
  "mailto:a@example.com", "http://", "https://", "http:///", "https://:80/", "http:example.com", "http:/example.com",
  "https://exa mple.com", " https://example.com", "https://example.com ", "https://example.com/\n", "https://example.com/\tx",
  "https://example.com/\u0007", "https://example.com/\u007f", "https://例え.jp/", "https://example.com/é", "https://example.com/\u2028",
  "http://[::1/", "https://example.com:99999/", `https://example.com/${"a".repeat(2030)}`,
  5, true, null, [], {}, ["https://example.com"],
];

describe("POST /urls rejects bad input with 400 and writes nothing", () => {
  test("user_id that is not a JSON integer of at least 1", async () => {
    const before = await urlCount();
    for (const bad of ["1", String(userId), 1.5, true, null, 0, -1, [1], {}]) {
      const res = await h.request("POST", "/urls", { body: { user_id: bad, original_url: "https://example.com/" } });
      expectBadRequest(res, "user_id", JSON.stringify(bad));
    }
    expectBadRequest(await h.request("POST", "/urls", { body: { original_url: "https://example.com/" } }), "user_id", "missing");
    expect(await urlCount()).toBe(before);
  });

  test("original_url that is not an absolute http(s) URL of printable ASCII", async () => {
    const before = await urlCount();
    for (const bad of HOSTILE_URLS) {
      const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: bad } });
      expectBadRequest(res, "original_url", JSON.stringify(bad));
    }
    expectBadRequest(await h.request("POST", "/urls", { body: { user_id: userId } }), "original_url", "missing");
    expect(await urlCount()).toBe(before);
  });

  test("title that is not a string of at most 255 characters or null", async () => {
    const before = await urlCount();
    for (const bad of [5, true, [], {}, "t".repeat(256)]) {
      const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://example.com/", title: bad } });
      expectBadRequest(res, "title", JSON.stringify(bad).slice(0, 20));
    }
    expect(await urlCount()).toBe(before);
  });

  test("a body that is not a JSON object", async () => {
    const cases: [string, string | undefined, string][] = [
      ["{bad json", "application/json", "malformed"],
      ["[1]", "application/json", "array"],
      ['"https://example.com"', "application/json", "string"],
      ["", "application/json", "empty"],
      [`{"user_id":${userId},"original_url":"https://example.com"}`, "text/plain", "wrong content type"],
    ];
    for (const [raw, type, label] of cases) {
      const res = await h.request("POST", "/urls", { raw, headers: type ? { "content-type": type } : {} });
      expect(res.status, `${label}: ${show(res)}`).toBe(400);
      expect(res.json.error).toBe("Bad Request");
    }
  });

  test("the longest accepted values are exactly at the limits", async () => {
    const longUrl = `https://example.com/${"a".repeat(2048 - 20)}`;
    const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: longUrl, title: "t".repeat(255) } });
    expect(res.status, show(res)).toBe(201);
    expect(res.json.original_url).toBe(longUrl);
  });
});

describe("POST /urls with an owner that does not exist", () => {
  test("is 404 for unknown ids, including ones beyond PostgreSQL's integer range", async () => {
    const before = await urlCount();
    for (const id of [999999, 2147483647, 2147483648, 1e20]) {
      const res = await h.request("POST", "/urls", { body: { user_id: id, original_url: "https://example.com/" } });
      expect(res.status, `${id}: ${show(res)}`).toBe(404);
      expect(res.json).toEqual({ error: "Not Found", message: `user ${id} not found` });
    }
    expect(await urlCount()).toBe(before);
  });
});

describe("ids in the path that are not positive integers", () => {
  test("are 404 for GET, PUT and DELETE", async () => {
    for (const id of ["abc", "1.5", "0", "-1", "1e3", "99999999999", "2147483648", "%20"]) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await h.request(method, `/urls/${id}`, method === "PUT" ? { body: { title: "x" } } : {});
        expect(res.status, `${method} ${id}: ${show(res)}`).toBe(404);
        expect(res.json.error).toBe("Not Found");
      }
    }
  });

  test("an unknown id is 404 for GET, PUT and DELETE", async () => {
    for (const method of ["GET", "PUT", "DELETE"]) {
      const res = await h.request(method, "/urls/777777", method === "PUT" ? { body: { title: "x" } } : {});
      expect(res.status, `${method}: ${show(res)}`).toBe(404);
      expect(res.json).toEqual({ error: "Not Found", message: "url 777777 not found" });
    }
  });
});

describe("GET /urls rejects bad query values with 400", () => {
  test("non-integer user_id and paging, and is_active other than true/false", async () => {
    const cases: [string, string][] = [
      ["user_id=abc", "user_id"], ["user_id=1.5", "user_id"], ["user_id=", "user_id"],
      ["page=abc", "page"], ["page=1.5", "page"], ["per_page=x", "per_page"], ["per_page=2.5", "per_page"],
      ["is_active=yes", "is_active"], ["is_active=1", "is_active"], ["is_active=TRUE", "is_active"], ["is_active=", "is_active"],
    ];
    for (const [query, field] of cases) expectBadRequest(await h.request("GET", `/urls?${query}`), field, query);
  });
});

describe("PUT /urls/:id rejects bad fields with 400 and changes nothing", () => {
  test("each bad field, alone or next to a good one", async () => {
    const created = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://keep.example/", title: "Keep" } });
    const url = created.json;
    const bodies: [Record<string, unknown>, string][] = [
      [{ is_active: "false" }, "is_active"], [{ is_active: 0 }, "is_active"], [{ is_active: null }, "is_active"], [{ is_active: "yes" }, "is_active"],
      [{ title: 5 }, "title"], [{ title: "t".repeat(256) }, "title"], [{ title: ["a"] }, "title"],
      [{ original_url: "javascript:alert(1)" }, "original_url"], [{ original_url: "" }, "original_url"], [{ original_url: null }, "original_url"],
      [{ original_url: "https://exa mple.com" }, "original_url"],
      [{ title: "Changed", original_url: "ftp://example.com/" }, "original_url"],
      [{ title: "Changed", is_active: "false" }, "is_active"],
    ];
    for (const [body, field] of bodies) {
      expectBadRequest(await h.request("PUT", `/urls/${url.id}`, { body }), field, JSON.stringify(body).slice(0, 40));
    }
    const after = await h.request("GET", `/urls/${url.id}`);
    expect(after.json, show(after)).toEqual(url);
    const updates = await h.request("GET", `/events?url_id=${url.id}&event_type=updated`);
    expect(updates.json, show(updates)).toEqual([]);
  });
});
