import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/;
let seq = 0;
const fresh = () => { seq++; return { username: `user${seq}_${Date.now()}`, email: `user${seq}_${Date.now()}@example.com` }; };

async function createUser(body = fresh()) {
  const res = await h.request("POST", "/users", { body });
  expect(res.status, show(res)).toBe(201);
  return res.json as { id: number; username: string; email: string; created_at: string };
}

describe("POST /users", () => {
  test("creates a user and returns it whole, stored exactly as sent", async () => {
    const res = await h.request("POST", "/users", { body: { username: "  Alice ", email: "alice@example.com", id: 999, extra: true } });
    expect(res.status, show(res)).toBe(201);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.json).toEqual({ id: expect.any(Number), username: "  Alice ", email: "alice@example.com", created_at: expect.stringMatching(TIMESTAMP) });
    expect(res.json.id).not.toBe(999);
    const again = await h.request("GET", `/users/${res.json.id}`);
    expect(again.json, show(again)).toEqual(res.json);
  });

  test("a taken username or email is 409 and changes nothing", async () => {
    const user = await createUser();
    const sameName = await h.request("POST", "/users", { body: { username: user.username, email: "other@example.com" } });
    expect(sameName.status, show(sameName)).toBe(409);
    expect(sameName.json).toEqual({ error: "Conflict", message: "username is already taken" });
    const sameEmail = await h.request("POST", "/users", { body: { username: "someone-else", email: user.email } });
    expect(sameEmail.status, show(sameEmail)).toBe(409);
    expect(sameEmail.json).toEqual({ error: "Conflict", message: "email is already taken" });
    const [row] = await h.deps.sql<{ n: number }[]>`select count(*)::int as n from users where username = 'someone-else' or email = 'other@example.com'`;
    expect(row?.n).toBe(0);
  });

  test("usernames are case-sensitive", async () => {
    const user = await createUser();
    const upper = await h.request("POST", "/users", { body: { username: user.username.toUpperCase(), email: `up${user.email}` } });
    expect(upper.status, show(upper)).toBe(201);
  });

  test("20 parallel creates of one username give exactly one 201 and 409 for the rest", async () => {
    const username = `race_${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      h.request("POST", "/users", { body: { username, email: `race${i}_${Date.now()}@example.com` } })));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201).length, results.map(show).join("\n")).toBe(1);
    expect(statuses.filter((s) => s === 409).length).toBe(19);
  });
});

describe("GET /users", () => {
  test("lists by id ascending with page and per_page, clamping out-of-range values", async () => {
    for (let i = 0; i < 5; i++) await createUser();
    const all = await h.request("GET", "/users?per_page=100");
    expect(all.status, show(all)).toBe(200);
    const ids = (all.json as { id: number }[]).map((u) => u.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    const page2 = await h.request("GET", "/users?page=2&per_page=2");
    expect(page2.json).toEqual(all.json.slice(2, 4));
    const clamped = await h.request("GET", "/users?page=0&per_page=1000");
    expect(clamped.json).toEqual(all.json.slice(0, 100));
    const tiny = await h.request("GET", "/users?per_page=0");
    expect(tiny.json).toEqual(all.json.slice(0, 1));
    // Past the end but within the depth bound (http/deep-paging.test.ts covers beyond it).
    const past = await h.request("GET", "/users?page=500");
    expect(past.status).toBe(200);
    expect(past.json).toEqual([]);
  });

  test("defaults to 20 per page", async () => {
    for (let i = 0; i < 21; i++) await createUser();
    const res = await h.request("GET", "/users");
    expect(res.json.length).toBe(20);
  });
});

describe("PUT /users/:id", () => {
  test("changes only the fields sent and returns the whole user", async () => {
    const user = await createUser();
    const res = await h.request("PUT", `/users/${user.id}`, { body: { email: `new_${user.email}` } });
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual({ ...user, email: `new_${user.email}` });
  });

  test("an empty object changes nothing; id and created_at never change", async () => {
    const user = await createUser();
    const res = await h.request("PUT", `/users/${user.id}`, { body: { id: 12345, created_at: "2001-01-01T00:00:00" } });
    expect(res.status, show(res)).toBe(200);
    expect(res.json).toEqual(user);
  });

  test("taking another user's username is 409 and changes nothing; keeping one's own is fine", async () => {
    const a = await createUser();
    const b = await createUser();
    const clash = await h.request("PUT", `/users/${b.id}`, { body: { username: a.username } });
    expect(clash.status, show(clash)).toBe(409);
    expect(clash.json.error).toBe("Conflict");
    expect((await h.request("GET", `/users/${b.id}`)).json).toEqual(b);
    const same = await h.request("PUT", `/users/${a.id}`, { body: { username: a.username } });
    expect(same.status, show(same)).toBe(200);
  });
});

describe("DELETE /users/:id", () => {
  test("is 204 with an empty body, then the user and their links are gone and the codes retired", async () => {
    const user = await createUser();
    const link = await h.request("POST", "/urls", { body: { user_id: user.id, original_url: "https://example.com/x" } });
    expect(link.status, show(link)).toBe(201);
    const res = await h.request("DELETE", `/users/${user.id}`);
    expect(res.status, show(res)).toBe(204);
    expect(res.text).toBe("");
    expect((await h.request("GET", `/users/${user.id}`)).status).toBe(404);
    expect((await h.request("GET", `/urls/${link.json.id}`)).status).toBe(404);
    expect((await h.request("GET", `/${link.json.short_code}`, { key: null })).status).toBe(404);
    const retired = await h.deps.sql`select 1 from retired_codes where code = ${link.json.short_code}`;
    expect(retired.length).toBe(1);
    const again = await h.request("DELETE", `/users/${user.id}`);
    expect(again.status).toBe(404);
    expect(again.json).toEqual({ error: "Not Found", message: `user ${user.id} not found` });
  });
});

describe("user-scoped keys", () => {
  test("see and change only their own user", async () => {
    const me = await createUser();
    const other = await createUser();
    const key = await h.insertKey("user", me.id);
    expect((await h.request("GET", `/users/${me.id}`, { key })).json).toEqual(me);
    const list = await h.request("GET", "/users", { key });
    expect(list.json).toEqual([me]);
    for (const [method, body] of [["GET", undefined], ["PUT", { username: "stolen" }], ["DELETE", undefined]] as const) {
      const res = await h.request(method, `/users/${other.id}`, { key, body });
      expect(res.status, show(res)).toBe(403);
      expect(res.json.error).toBe("Forbidden");
    }
    const create = await h.request("POST", "/users", { key, body: fresh() });
    expect(create.status, show(create)).toBe(403);
    expect((await h.request("GET", `/users/${other.id}`)).json).toEqual(other);
  });
});
