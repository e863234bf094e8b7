import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp, type TestResponse } from "../../test/harness.ts";

let h: TestApp;
let alice: number;
let bob: number;
let aliceKey: string;
let bobUrl: { id: number; short_code: string };

beforeAll(async () => {
  h = await testApp();
  alice = (await h.request("POST", "/users", { body: { username: "alice", email: "alice@example.com" } })).json.id;
  bob = (await h.request("POST", "/users", { body: { username: "bob", email: "bob@example.com" } })).json.id;
  aliceKey = await h.insertKey("user", alice);
  bobUrl = (await h.request("POST", "/urls", { body: { user_id: bob, original_url: "https://bob.example/" } })).json;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const expectForbidden = (res: TestResponse, label: string) => {
  expect(res.status, `${label}: ${show(res)}`).toBe(403);
  expect(res.json.error).toBe("Forbidden");
  expect(typeof res.json.message).toBe("string");
};

describe("without a key", () => {
  test("every /urls endpoint is 401 JSON, and nothing is written", async () => {
    const calls: [string, string, unknown?][] = [
      ["POST", "/urls", { user_id: bob, original_url: "https://x.example/" }], ["GET", "/urls"], ["GET", `/urls/${bobUrl.id}`],
      ["PUT", `/urls/${bobUrl.id}`, { title: "x" }], ["DELETE", `/urls/${bobUrl.id}`],
    ];
    for (const [method, path, body] of calls) {
      const res = await h.request(method, path, { body, key: null });
      expect(res.status, `${method} ${path}: ${show(res)}`).toBe(401);
      expect(res.json.error).toBe("Unauthorized");
    }
    const after = await h.request("GET", `/urls?user_id=${bob}`);
    expect(after.json, show(after)).toEqual([expect.objectContaining({ id: bobUrl.id, title: null })]);
  });

  test("an unknown key is 401", async () => {
    const res = await h.request("GET", "/urls", { key: "lf_not_a_real_key" });
    expect(res.status, show(res)).toBe(401);
  });

  test("the redirect needs no key", async () => {
    const res = await h.request("GET", `/${bobUrl.short_code}`, { key: null });
    expect(res.status, show(res)).toBe(302);
  });
});

describe("a user-scoped key", () => {
  test("creates, reads, changes and deletes its own user's links", async () => {
    const created = await h.request("POST", "/urls", { key: aliceKey, body: { user_id: alice, original_url: "https://alice.example/" } });
    expect(created.status, show(created)).toBe(201);
    const id = created.json.id;
    expect((await h.request("GET", `/urls/${id}`, { key: aliceKey })).json).toEqual(created.json);
    const put = await h.request("PUT", `/urls/${id}`, { key: aliceKey, body: { title: "mine" } });
    expect(put.status, show(put)).toBe(200);
    const del = await h.request("DELETE", `/urls/${id}`, { key: aliceKey });
    expect(del.status, show(del)).toBe(204);
  });

  test("is 403 on another user's link and changes nothing", async () => {
    expectForbidden(await h.request("POST", "/urls", { key: aliceKey, body: { user_id: bob, original_url: "https://x.example/" } }), "POST for bob");
    expectForbidden(await h.request("GET", `/urls/${bobUrl.id}`, { key: aliceKey }), "GET");
    expectForbidden(await h.request("PUT", `/urls/${bobUrl.id}`, { key: aliceKey, body: { is_active: false } }), "PUT");
    expectForbidden(await h.request("DELETE", `/urls/${bobUrl.id}`, { key: aliceKey }), "DELETE");
    const after = await h.request("GET", `/urls?user_id=${bob}`);
    expect(after.json, show(after)).toEqual([expect.objectContaining({ id: bobUrl.id, is_active: true })]);
  });

  test("lists only its own links, and naming another user is 403", async () => {
    await h.request("POST", "/urls", { key: aliceKey, body: { user_id: alice, original_url: "https://alice.example/list" } });
    const mine = await h.request("GET", "/urls", { key: aliceKey });
    expect(mine.status, show(mine)).toBe(200);
    expect(mine.json.length).toBeGreaterThan(0);
    expect(mine.json.every((u: { user_id: number }) => u.user_id === alice)).toBe(true);
    expect((await h.request("GET", `/urls?user_id=${alice}`, { key: aliceKey })).json).toEqual(mine.json);
    expectForbidden(await h.request("GET", `/urls?user_id=${bob}`, { key: aliceKey }), "list bob");
  });
});
