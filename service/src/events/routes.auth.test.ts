import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp, type TestResponse } from "../../test/harness.ts";

let h: TestApp;
let alice: number;
let bob: number;
let aliceKey: string;
let aliceUrl: number;
let bobUrl: number;
let bobEvent: number;

beforeAll(async () => {
  h = await testApp();
  alice = (await h.request("POST", "/users", { body: { username: "alice", email: "alice@example.com" } })).json.id;
  bob = (await h.request("POST", "/users", { body: { username: "bob", email: "bob@example.com" } })).json.id;
  aliceKey = await h.insertKey("user", alice);
  aliceUrl = (await h.request("POST", "/urls", { body: { user_id: alice, original_url: "https://alice.example/" } })).json.id;
  bobUrl = (await h.request("POST", "/urls", { body: { user_id: bob, original_url: "https://bob.example/" } })).json.id;
  bobEvent = (await h.request("POST", "/events", { body: { url_id: bobUrl, user_id: bob, event_type: "secret" } })).json.id;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const expectForbidden = (res: TestResponse, label: string) => {
  expect(res.status, `${label}: ${show(res)}`).toBe(403);
  expect(res.json.error).toBe("Forbidden");
};

describe("/events without a key", () => {
  test("is 401 JSON for every endpoint", async () => {
    for (const [method, path, body] of [["GET", "/events"], ["GET", `/events/${bobEvent}`], ["POST", "/events", { url_id: bobUrl, user_id: bob, event_type: "x" }]] as const) {
      const res = await h.request(method, path, { body, key: null });
      expect(res.status, `${method} ${path}: ${show(res)}`).toBe(401);
      expect(res.json.error).toBe("Unauthorized");
    }
  });
});

describe("/events with a user-scoped key", () => {
  test("records and reads events of its own links", async () => {
    const res = await h.request("POST", "/events", { key: aliceKey, body: { url_id: aliceUrl, user_id: alice, event_type: "mine" } });
    expect(res.status, show(res)).toBe(201);
    expect((await h.request("GET", `/events/${res.json.id}`, { key: aliceKey })).json).toEqual(res.json);
  });

  test("is 403 for another user's event, link or user id, and writes nothing", async () => {
    const before = (await h.request("GET", "/events?per_page=100")).json;
    expectForbidden(await h.request("GET", `/events/${bobEvent}`, { key: aliceKey }), "GET bob's event");
    expectForbidden(await h.request("POST", "/events", { key: aliceKey, body: { url_id: bobUrl, user_id: bob, event_type: "x" } }), "as bob");
    expectForbidden(await h.request("POST", "/events", { key: aliceKey, body: { url_id: bobUrl, user_id: alice, event_type: "x" } }), "on bob's link");
    expectForbidden(await h.request("GET", `/events?user_id=${bob}`, { key: aliceKey }), "list bob");
    expect((await h.request("GET", "/events?per_page=100")).json).toEqual(before);
  });

  test("lists only its own user's events, whatever the other filters", async () => {
    const all = await h.request("GET", "/events?per_page=100", { key: aliceKey });
    expect(all.status, show(all)).toBe(200);
    expect(all.json.length).toBeGreaterThan(0);
    expect(all.json.every((e: { user_id: number }) => e.user_id === alice), show(all)).toBe(true);
    const byBobUrl = await h.request("GET", `/events?url_id=${bobUrl}`, { key: aliceKey });
    expect(byBobUrl.json, show(byBobUrl)).toEqual([]);
  });
});
