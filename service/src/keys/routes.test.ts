import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); }, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const TS = expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/);
const KEY = /^lf_[0-9A-Za-z]{40}$/;

async function newUser(name: string): Promise<number> {
  const res = await h.request("POST", "/users", { body: { username: name, email: `${name}@example.com` } });
  expect(res.status, show(res)).toBe(201);
  return res.json.id;
}

const listKeys = async () => {
  // last_used_at is written after the answer; a write still in flight from an earlier request
  // would land between two listings and look like a change this request made.
  await h.deps.keys.settle();
  const res = await h.request("GET", "/admin/keys");
  expect(res.status, show(res)).toBe(200);
  return res.json as Record<string, unknown>[];
};

describe("POST /admin/keys", () => {
  test("creates an admin key, returns it whole with the plaintext once, and the key works at once", async () => {
    const res = await h.request("POST", "/admin/keys", { body: { name: "ops laptop", scope: "admin" } });
    expect(res.status, show(res)).toBe(201);
    expect(res.json, show(res)).toEqual({
      id: expect.any(Number), name: "ops laptop", prefix: res.json.key.slice(0, 10), scope: "admin", user_id: null, created_at: TS, key: expect.stringMatching(KEY),
    });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const use = await h.request("GET", "/admin/keys", { key: res.json.key });
    expect(use.status, show(use)).toBe(200);
  });

  test("creates a user key that acts only for its user", async () => {
    const owner = await newUser("key-owner");
    const other = await newUser("key-other");
    const res = await h.request("POST", "/admin/keys", { body: { name: "owner's app", scope: "user", user_id: owner } });
    expect(res.status, show(res)).toBe(201);
    expect(res.json, show(res)).toEqual({
      id: expect.any(Number), name: "owner's app", prefix: res.json.key.slice(0, 10), scope: "user", user_id: owner, created_at: TS, key: expect.stringMatching(KEY),
    });
    const own = await h.request("GET", `/users/${owner}`, { key: res.json.key });
    expect(own.status, show(own)).toBe(200);
    const foreign = await h.request("GET", `/users/${other}`, { key: res.json.key });
    expect(foreign.status, show(foreign)).toBe(403);
    const admin = await h.request("GET", "/admin/keys", { key: res.json.key });
    expect(admin.json, show(admin)).toEqual({ error: "Forbidden", message: "this needs an admin key" });
  });

  const rejected: [string, unknown, number, string][] = [
    ["a user key without user_id", { name: "k", scope: "user" }, 400, "body field 'user_id': required for a user-scoped key"],
    ["an admin key with user_id", { name: "k", scope: "admin", user_id: 1 }, 400, "body field 'user_id': not allowed for an admin key"],
    ["a user key for an unknown user", { name: "k", scope: "user", user_id: 999_999 }, 404, "user 999999 not found"],
  ];
  for (const [what, body, status, message] of rejected) {
    test(`${what} is ${status} and writes nothing`, async () => {
      const before = await listKeys();
      const res = await h.request("POST", "/admin/keys", { body });
      expect(res.status, show(res)).toBe(status);
      expect(res.json.error, show(res)).toBe(status === 400 ? "Bad Request" : "Not Found");
      expect(res.json.message, show(res)).toBe(message);
      expect(await listKeys()).toEqual(before);
    });
  }

  for (const [what, body, field] of [
    ["a missing name", { scope: "admin" }, "name"],
    ["a blank name", { name: "  ", scope: "admin" }, "name"],
    ["an unknown scope", { name: "k", scope: "root" }, "scope"],
    ["a string user_id", { name: "k", scope: "user", user_id: "1" }, "user_id"],
    ["a fractional user_id", { name: "k", scope: "user", user_id: 1.5 }, "user_id"],
    ["a name over 100 characters", { name: "n".repeat(101), scope: "admin" }, "name"],
  ] as const) {
    test(`${what} is 400 naming the field`, async () => {
      const res = await h.request("POST", "/admin/keys", { body });
      expect(res.status, show(res)).toBe(400);
      expect(res.json.error, show(res)).toBe("Bad Request");
      expect(res.json.message, show(res)).toContain(field);
    });
  }
});

describe("GET /admin/keys", () => {
  test("lists every key by id without hash or plaintext", async () => {
    const created = await h.request("POST", "/admin/keys", { body: { name: "listed", scope: "admin" } });
    const keys = await listKeys();
    expect(keys.map((k) => k.id)).toEqual([...keys.map((k) => k.id as number)].sort((a, b) => a - b));
    expect(keys.find((k) => k.id === created.json.id)).toEqual({
      id: created.json.id, name: "listed", prefix: created.json.prefix, scope: "admin", user_id: null,
      created_at: created.json.created_at, last_used_at: null, revoked_at: null,
    });
    for (const k of keys) expect(Object.keys(k).sort()).toEqual(["created_at", "id", "last_used_at", "name", "prefix", "revoked_at", "scope", "user_id"]);
  });

  test("shows when a key was last used", async () => {
    const created = await h.request("POST", "/admin/keys", { body: { name: "used", scope: "admin" } });
    await h.request("GET", "/users", { key: created.json.key });
    await h.deps.keys.settle();
    const listed = (await listKeys()).find((k) => k.id === created.json.id);
    expect(listed?.last_used_at, JSON.stringify(listed)).toEqual(TS);
  });
});

describe("DELETE /admin/keys/:id", () => {
  test("revokes: 204, the key stops working on the next request, and the listing shows when", async () => {
    const created = await h.request("POST", "/admin/keys", { body: { name: "doomed", scope: "admin" } });
    const res = await h.request("DELETE", `/admin/keys/${created.json.id}`);
    expect(res.status, show(res)).toBe(204);
    expect(res.text).toBe("");
    const use = await h.request("GET", "/users", { key: created.json.key });
    expect(use.status, show(use)).toBe(401);
    expect(use.json, show(use)).toEqual({ error: "Unauthorized", message: "API key has been revoked" });
    const listed = (await listKeys()).find((k) => k.id === created.json.id);
    expect(listed, JSON.stringify(listed)).toEqual({ ...listed, revoked_at: TS });
  });

  test("revoking twice is 204 again and keeps the first revocation time", async () => {
    const created = await h.request("POST", "/admin/keys", { body: { name: "twice", scope: "admin" } });
    await h.request("DELETE", `/admin/keys/${created.json.id}`);
    const first = (await listKeys()).find((k) => k.id === created.json.id);
    const again = await h.request("DELETE", `/admin/keys/${created.json.id}`);
    expect(again.status, show(again)).toBe(204);
    expect((await listKeys()).find((k) => k.id === created.json.id)).toEqual(first!);
  });

  for (const id of ["999999", "abc", "0"]) {
    test(`an id that names no key (${id}) is 404`, async () => {
      const res = await h.request("DELETE", `/admin/keys/${id}`);
      expect(res.status, show(res)).toBe(404);
      expect(res.json, show(res)).toEqual({ error: "Not Found", message: `API key ${id} not found` });
    });
  }
});

describe("user deletion", () => {
  test("a deleted user's keys stop working and leave the listing", async () => {
    const owner = await newUser("short-lived");
    const created = await h.request("POST", "/admin/keys", { body: { name: "cascade", scope: "user", user_id: owner } });
    expect((await h.request("DELETE", `/users/${owner}`)).status).toBe(204);
    const use = await h.request("GET", "/users", { key: created.json.key });
    expect(use.json, show(use)).toEqual({ error: "Unauthorized", message: "unknown API key" });
    expect((await listKeys()).some((k) => k.id === created.json.id)).toBe(false);
  });
});

describe("LINKFORT_AUTH=open", () => {
  test("lets a request without a key through, as an admin", async () => {
    const open = await testApp({ auth: "open" });
    try {
      const res = await open.request("GET", "/users", { key: null });
      expect(res.status, show(res)).toBe(200);
      expect(res.json).toEqual([]);
      const admin = await open.request("GET", "/admin/keys", { key: null });
      expect(admin.status, show(admin)).toBe(200);
    } finally {
      await open.close();
    }
  });
});
