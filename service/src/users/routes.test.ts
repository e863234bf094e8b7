import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

let h: TestApp;
beforeAll(async () => { h = await testApp(); });
afterAll(async () => { await h.close(); });

describe("POST /users", () => {
  test("creates a user and returns it whole", async () => {
    const res = await h.request("POST", "/users", { body: { username: "alice", email: "alice@example.com" } });
    expect(res.status, show(res)).toBe(201);
    expect(res.json).toEqual({ id: expect.any(Number), username: "alice", email: "alice@example.com", created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$/) });
    const again = await h.request("GET", `/users/${res.json.id}`);
    expect(again.json, show(again)).toEqual(res.json);
  });
  test("an integer username is 400 and writes nothing", async () => {
    const res = await h.request("POST", "/users", { body: { username: 5, email: "x@example.com" } });
    expect(res.status, show(res)).toBe(400);
    expect(res.json.error).toBe("Bad Request");
    expect(res.json.message).toContain("username");
  });
});
