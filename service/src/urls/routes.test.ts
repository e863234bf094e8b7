import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

const TS = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);
const CODE = expect.stringMatching(/^[A-Za-z0-9]{6}$/);

let h: TestApp;
let userId: number;
beforeAll(async () => {
  h = await testApp();
  userId = await newUser("owner");
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

async function newUser(name: string): Promise<number> {
  const res = await h.request("POST", "/users", { body: { username: name, email: `${name}@example.com` } });
  expect(res.status, show(res)).toBe(201);
  return res.json.id;
}

async function newUrl(body: Record<string, unknown>) {
  const res = await h.request("POST", "/urls", { body: { user_id: userId, ...body } });
  expect(res.status, show(res)).toBe(201);
  return res.json;
}

describe("POST /urls", () => {
  test("creates an active link with a generated code and returns it whole", async () => {
    const res = await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://example.com/a?b=1#c", title: "Example" } });
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({
      id: expect.any(Number), user_id: userId, short_code: CODE, original_url: "https://example.com/a?b=1#c",
      title: "Example", is_active: true, created_at: TS, updated_at: TS, expires_at: null, max_clicks: null, forward_query: false,
    });
    const again = await h.request("GET", `/urls/${res.json.id}`);
    expect(again.status, show(again)).toBe(200);
    expect(again.json).toEqual(res.json);
  });

  test("title defaults to null, and an explicit null is kept", async () => {
    expect((await newUrl({ original_url: "https://example.com/" })).title).toBeNull();
    expect((await newUrl({ original_url: "https://example.com/", title: null })).title).toBeNull();
  });

  test("ignores a client short_code, id and is_active", async () => {
    const url = await newUrl({ original_url: "https://example.com/x", short_code: "mine01", id: 999999, is_active: false });
    expect(url.short_code).not.toBe("mine01");
    expect(url.id).not.toBe(999999);
    expect(url.is_active).toBe(true);
  });

  test("stores the URL byte-for-byte, without normalising it", async () => {
    const raw = "HTTPS://Example.COM:443/a/../b/%7e?q=%41&x=[1]#Frag";
    const url = await newUrl({ original_url: raw });
    expect(url.original_url).toBe(raw);
    expect((await h.request("GET", `/urls/${url.id}`)).json.original_url).toBe(raw);
  });

  test("the same URL twice gives two links with different codes", async () => {
    const a = await newUrl({ original_url: "https://twins.example/" });
    const b = await newUrl({ original_url: "https://twins.example/" });
    expect(a.id).not.toBe(b.id);
    expect(a.short_code).not.toBe(b.short_code);
  });

  test("200 parallel creates give 200 links with 200 distinct codes", async () => {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
      h.request("POST", "/urls", { body: { user_id: userId, original_url: `https://parallel.example/${i}` } })));
    for (const res of results) expect(res.status, show(res)).toBe(201);
    expect(new Set(results.map((r) => r.json.short_code)).size).toBe(200);
    expect(new Set(results.map((r) => r.json.id)).size).toBe(200);
  });

  test("records a created event with the code and URL in the same write", async () => {
    const url = await newUrl({ original_url: "https://events.example/" });
    const res = await h.request("GET", `/events?url_id=${url.id}`);
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual([{
      id: expect.any(Number), url_id: url.id, user_id: userId, event_type: "created", timestamp: TS,
      details: { short_code: url.short_code, original_url: "https://events.example/" },
    }]);
  });
});

describe("PUT /urls/:id", () => {
  test("changes only what is sent, sets updated_at, and returns the whole link", async () => {
    const url = await newUrl({ original_url: "https://put.example/", title: "Old" });
    const res = await h.request("PUT", `/urls/${url.id}`, { body: { is_active: false } });
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({ ...url, is_active: false, updated_at: TS });
    expect(new Date(res.json.updated_at + "Z").getTime()).toBeGreaterThanOrEqual(new Date(url.updated_at + "Z").getTime());
    expect((await h.request("GET", `/urls/${url.id}`)).json).toEqual(res.json);
  });

  test("title null clears it, leaving it out keeps it", async () => {
    const url = await newUrl({ original_url: "https://title.example/", title: "Keep me" });
    const kept = await h.request("PUT", `/urls/${url.id}`, { body: { original_url: "https://title.example/2" } });
    expect(kept.json, show(kept)).toEqual({ ...url, original_url: "https://title.example/2", updated_at: TS });
    const cleared = await h.request("PUT", `/urls/${url.id}`, { body: { title: null } });
    expect(cleared.json, show(cleared)).toEqual({ ...url, original_url: "https://title.example/2", title: null, updated_at: TS });
  });

  test("an empty body changes nothing but updated_at", async () => {
    const url = await newUrl({ original_url: "https://empty.example/", title: "T" });
    const res = await h.request("PUT", `/urls/${url.id}`, { body: {} });
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({ ...url, updated_at: TS });
    const [row] = await h.deps.sql<{ later: boolean }[]>`select updated_at > created_at as later from urls where id = ${url.id}`;
    expect(row?.later).toBe(true);
  });

  test("never changes id, user_id, short_code or created_at", async () => {
    const url = await newUrl({ original_url: "https://fixed.example/" });
    const other = await newUser("someone-else");
    const res = await h.request("PUT", `/urls/${url.id}`, {
      body: { id: 424242, user_id: other, short_code: "zzzzzz", created_at: "2000-01-01T00:00:00", title: "x" },
    });
    expect(res.json, show(res)).toEqual({ ...url, title: "x", updated_at: TS });
  });

  test("records an updated event naming the fields that changed", async () => {
    const url = await newUrl({ original_url: "https://upd.example/", title: "same" });
    await h.request("PUT", `/urls/${url.id}`, { body: { title: "same", original_url: "https://upd.example/new" } });
    const res = await h.request("GET", `/events?url_id=${url.id}&event_type=updated`);
    expect(res.json, show(res)).toEqual([{
      id: expect.any(Number), url_id: url.id, user_id: userId, event_type: "updated", timestamp: TS,
      details: { short_code: url.short_code, original_url: "https://upd.example/new", changed: ["original_url"] },
    }]);
  });
});

describe("DELETE /urls/:id", () => {
  test("204 with an empty body, then 404 for the id, the code and a second delete", async () => {
    const url = await newUrl({ original_url: "https://gone.example/" });
    const res = await h.request("DELETE", `/urls/${url.id}`);
    expect(res.status, show(res)).toBe(204);
    expect(res.text).toBe("");
    const get = await h.request("GET", `/urls/${url.id}`);
    expect(get.status, show(get)).toBe(404);
    expect(get.json).toEqual({ error: "Not Found", message: `url ${url.id} not found` });
    const follow = await h.request("GET", `/${url.short_code}`, { key: null });
    expect(follow.status, show(follow)).toBe(404);
    expect((await h.request("DELETE", `/urls/${url.id}`)).status).toBe(404);
    expect((await h.request("GET", `/events?url_id=${url.id}`)).json).toEqual([]);
  });

  test("retires the code so it is never issued again", async () => {
    const url = await newUrl({ original_url: "https://retire.example/" });
    await h.request("DELETE", `/urls/${url.id}`);
    const rows = await h.deps.sql`select code from retired_codes where code = ${url.short_code}`;
    expect(rows.length).toBe(1);
  });

  test("deleting the owner deletes the link: its id and code are then 404", async () => {
    const owner = await newUser("leaving");
    const res = await h.request("POST", "/urls", { body: { user_id: owner, original_url: "https://cascade.example/" } });
    expect((await h.request("DELETE", `/users/${owner}`)).status).toBe(204);
    expect((await h.request("GET", `/urls/${res.json.id}`)).status).toBe(404);
    expect((await h.request("GET", `/${res.json.short_code}`, { key: null })).status).toBe(404);
  });
});

describe("a bodiless DELETE as fetch sends it (Content-Length: 0)", () => {
  test("deletes, with or without a JSON Content-Type; a POST with an empty JSON body is still a clear 400", async () => {
    for (const contentType of [undefined, "application/json"]) {
      const link = (await h.request("POST", "/urls", { body: { user_id: userId, original_url: "https://bodiless.example/" } })).json;
      const headers: Record<string, string> = { "content-length": "0", ...(contentType ? { "content-type": contentType } : {}) };
      const res = await h.request("DELETE", `/urls/${link.id}`, { headers, raw: "" });
      expect(res.status, `${contentType ?? "no type"}: ${show(res)}`).toBe(204);
      expect((await h.request("GET", `/urls/${link.id}`)).status).toBe(404);
    }
    const empty = await h.request("POST", "/urls", { headers: { "content-type": "application/json", "content-length": "0" }, raw: "" });
    expect(empty.status, show(empty)).toBe(400);
    expect(empty.json.message).toContain("request body must be a JSON object");
  });
});
