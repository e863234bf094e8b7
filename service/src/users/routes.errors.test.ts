import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { show, testApp, type TestApp } from "../../test/harness.ts";

let h: TestApp;
let existing: { id: number; username: string; email: string; created_at: string };
beforeAll(async () => {
  h = await testApp();
  existing = (await h.request("POST", "/users", { body: { username: "existing", email: "existing@example.com" } })).json;
}, 30_000);
afterAll(async () => { await h.close(); }, 30_000);

const userCount = async () => (await h.deps.sql<{ n: number }[]>`select count(*)::int as n from users`)[0]?.n;

describe("POST /users rejects invalid fields with 400 and writes nothing", () => {
  const cases: [string, unknown][] = [
    ["integer username", { username: 5, email: "a@example.com" }],
    ["boolean username", { username: true, email: "a@example.com" }],
    ["null username", { username: null, email: "a@example.com" }],
    ["array username", { username: ["a"], email: "a@example.com" }],
    ["object username", { username: { a: 1 }, email: "a@example.com" }],
    ["empty username", { username: "", email: "a@example.com" }],
    ["blank username", { username: "   ", email: "a@example.com" }],
    ["256-character username", { username: "u".repeat(256), email: "a@example.com" }],
    ["missing username", { email: "a@example.com" }],
    ["missing email", { username: "a" }],
    ["integer email", { username: "a", email: 7 }],
    ["email without @", { username: "a", email: "not-an-email" }],
    ["email without domain dot", { username: "a", email: "a@localhost" }],
    ["email with space", { username: "a", email: "a b@example.com" }],
    ["256-character email", { username: "a", email: `${"e".repeat(244)}@example.com` }],
    ["NUL in username", { username: "a\u0000b", email: "a@example.com" }],
    ["lone surrogate in username", { username: "a\ud800b", email: "a@example.com" }],
  ];
  for (const [name, body] of cases) {
    test(name, async () => {
      const before = await userCount();
      const res = await h.request("POST", "/users", { body });
      expect(res.status, show(res)).toBe(400);
      expect(res.json.error).toBe("Bad Request");
      expect(typeof res.json.message).toBe("string");
      expect(res.json.message.length).toBeGreaterThan(0);
      expect(await userCount()).toBe(before);
    });
  }
});

describe("PUT /users/:id", () => {
  test("an invalid field is 400 and leaves the user unchanged, even when other fields are valid", async () => {
    const res = await h.request("PUT", `/users/${existing.id}`, { body: { username: "renamed", email: 12 } });
    expect(res.status, show(res)).toBe(400);
    expect(res.json.message).toContain("email");
    expect((await h.request("GET", `/users/${existing.id}`)).json).toEqual(existing);
  });

  test("an unknown user is 404", async () => {
    const res = await h.request("PUT", "/users/999999", { body: { username: "x" } });
    expect(res.status, show(res)).toBe(404);
    expect(res.json).toEqual({ error: "Not Found", message: "user 999999 not found" });
  });
});

describe("ids in the path", () => {
  for (const id of ["abc", "1.5", "0", "-1", "2147483648", "99999999999999999999", "1e3", "%20"]) {
    test(`/users/${id} is 404 for GET, PUT and DELETE`, async () => {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await h.request(method, `/users/${id}`, method === "PUT" ? { body: { username: "x" } } : {});
        expect(res.status, `${method} ${show(res)}`).toBe(404);
        expect(res.json.error).toBe("Not Found");
      }
    });
  }
});

describe("paging parameters", () => {
  // "page=1e2" is accepted as 100: an integer written in exponent form, as JSON would read it.
  for (const query of ["page=abc", "per_page=1.5", "page=", "per_page=ten", "page=true"]) {
    test(`${query} is 400`, async () => {
      const res = await h.request("GET", `/users?${query}`);
      expect(res.status, show(res)).toBe(400);
      expect(res.json.error).toBe("Bad Request");
    });
  }
});
